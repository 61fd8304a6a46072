import { z } from 'zod';
import { isE164 } from '../domain/phone';

const e164 = z.string().refine(isE164, 'must be an E.164 number like +5511999999999');

/**
 * Every environment variable the functions read, with its default. .env.example documents
 * each one (a test keeps the two in step). Twilio passes them in `context`.
 */
export const configSchema = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(20),
  DB_TIMEOUT_MS: z.coerce.number().int().min(200).max(8000).default(2500),
  PUBLIC_BASE_URL: z.url().optional(),
  TWILIO_API_BASE_URL: z.url().optional(),
  DISCLAIMER_MODE: z.enum(['play', 'say']).default('play'),
  DISCLAIMER_AUDIO: z.string().startsWith('/').default('/disclaimer.mp3'),
  DISCLAIMER_TEXT: z.string().min(1).optional(),
  TTS_VOICE: z.string().default('Polly.Camila'),
  TTS_LANGUAGE: z.string().default('pt-BR'),
  OPT_OUT_INBOUND: z.enum(['continue', 'message', 'reject']).default('continue'),
  OPT_OUT_KEY: z.string().regex(/^[0-9*#]$/).default('9'),
  FALLBACK_NUMBER: e164.optional(),
  AGENT_RING_TIMEOUT: z.coerce.number().int().min(5).max(120).default(20),
  VOICEMAIL_MAX_LENGTH: z.coerce.number().int().min(10).max(600).default(120),
  ALERT_SLACK_WEBHOOK_URL: z.url().optional(),
  ALERT_SMS_TO: z.string().regex(/^(whatsapp:)?\+[1-9][0-9]{7,14}$/, 'must be an E.164 number, optionally prefixed whatsapp:').optional(),
  ALERT_SMS_FROM: z.string().regex(/^(whatsapp:)?\+[1-9][0-9]{7,14}$/, 'must be an E.164 number, optionally prefixed whatsapp:').optional(),
});

/** The validated configuration of one deployment. */
export type Config = z.infer<typeof configSchema> & { baseUrl: string };

/** Thrown when the deployment's environment is incomplete or malformed. */
export class ConfigError extends Error {}

/**
 * Reads and validates the configuration from a function's context (or any env object).
 * `baseUrl` is PUBLIC_BASE_URL, else https://DOMAIN_NAME (what Twilio calls us at).
 */
export function loadConfig(env: Record<string, unknown>): Config {
  const raw = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '' && v !== undefined));
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  const domain = typeof env['DOMAIN_NAME'] === 'string' ? env['DOMAIN_NAME'] : undefined;
  const baseUrl = (parsed.data.PUBLIC_BASE_URL ?? (domain ? `https://${domain}` : '')).replace(/\/$/, '');
  if (!baseUrl) throw new ConfigError('invalid configuration: PUBLIC_BASE_URL or DOMAIN_NAME is required');
  return { ...parsed.data, baseUrl };
}

/** Absolute URL of one of our functions or assets. */
export function urlFor(config: Config, path: string): string {
  return config.baseUrl + (path.startsWith('/') ? path : `/${path}`);
}
