import { isE164 } from '../domain/e164';
import { httpUrl, int, oneOf, parseShape, text, type Infer } from './validate';

/** Where urgent alerts are texted: an E.164 number, or whatsapp:+E.164. */
const ALERT_PHONE = /^(whatsapp:)?\+[1-9][0-9]{7,14}$/;

const e164 = text().refine(isE164, 'must be an E.164 number like +5511999999999');

/**
 * Every environment variable the functions read, with its default. .env.example documents
 * each one (a test keeps the two in step). Twilio passes them in `context`.
 */
export const configSchema = {
  shape: {
    SUPABASE_URL: httpUrl(),
    SUPABASE_SERVICE_ROLE_KEY: text({ min: 20, max: 4096 }),
    DB_TIMEOUT_MS: int(200, 8000).default(2500),
    PUBLIC_BASE_URL: httpUrl().optional(),
    TWILIO_API_BASE_URL: httpUrl().optional(),
    DISCLAIMER_MODE: oneOf(['play', 'say']).default('play'),
    DISCLAIMER_AUDIO: text({ pattern: /^\//, message: 'must start with /' }).default('/disclaimer.mp3'),
    // A Polly voice (the default) speaks at most 3000 characters per Say verb (Twilio warning 13521).
    DISCLAIMER_TEXT: text({ max: 3000 }).optional(),
    TTS_VOICE: text().default('Polly.Camila'),
    TTS_LANGUAGE: text().default('pt-BR'),
    OPT_OUT_INBOUND: oneOf(['continue', 'message', 'reject']).default('continue'),
    OPT_OUT_KEY: text({ pattern: /^[0-9*#]$/, message: 'must be one keypad key (0-9, * or #)' }).default('9'),
    FALLBACK_NUMBER: e164.optional(),
    AGENT_RING_TIMEOUT: int(5, 120).default(20),
    VOICEMAIL_MAX_LENGTH: int(10, 600).default(120),
    ALERT_SLACK_WEBHOOK_URL: httpUrl().optional(),
    ALERT_SMS_TO: text({ pattern: ALERT_PHONE, message: 'must be an E.164 number, optionally prefixed whatsapp:' }).optional(),
    ALERT_SMS_FROM: text({ pattern: ALERT_PHONE, message: 'must be an E.164 number, optionally prefixed whatsapp:' }).optional(),
    // Sign-in and sessions.
    SESSION_IDLE_MINUTES: int(1, 1440).default(30),
    SESSION_MAX_HOURS: int(1, 720).default(12),
    CLIENT_ADDRESS_HEADER: text({ max: 100, pattern: /^(none|[a-z0-9-]+)$/, message: 'must be a lower-case header name, or none' }).default('x-discador-client-address'),
    // What an agent may pick: pause reasons and call dispositions (comma lists).
    AGENT_PAUSE_REASONS: text({ max: 2000, pattern: /^[^,]{1,60}(,[^,]{1,60})*$/, message: 'must be a comma list of reasons of 1-60 characters' }).default('Intervalo,Almoço,Banheiro,Treinamento,Feedback'),
    DISPOSITION_CODES: text({ max: 2000, pattern: /^[a-z0-9_]{1,40}(,[a-z0-9_]{1,40})*$/, message: 'must be a comma list of codes (a-z, 0-9, _; 1-40 characters)' }).default('acordo,promessa_pagamento,recusa,numero_errado,retornar,sem_interesse,nao_ligar,venda,outro'),
    SOFTPHONE_STANDIN_URL: text({ max: 2000, pattern: /^(https?:\/\/|\/)/, message: 'must be an http(s) URL or a path starting with /' }).optional(),
    // Presence, wrap-up and the softphone's access token.
    AGENT_PRESENCE_SECONDS: int(5, 600).default(20),
    WRAP_UP_SECONDS: int(0, 3600).default(30),
    // An access token may live at most 24 hours (twilio.com/docs/iam/access-tokens; error 20104 beyond).
    VOICE_TOKEN_TTL_SECONDS: int(60, 86400).default(3600),
    TWILIO_API_KEY: text({ pattern: /^SK[0-9a-f]{32}$/, message: 'must be SK followed by 32 hex characters' }).optional(),
    TWILIO_API_SECRET: text({ min: 16, max: 200 }).optional(),
    // Calls per second the whole account may start (all campaigns and click-to-call).
    ACCOUNT_CPS: int(1, 100).default(1),
    TWILIO_TWIML_APP_SID: text({ pattern: /^AP[0-9a-f]{32}$/, message: 'must be AP followed by 32 hex characters' }).optional(),
    // Campaign calls: how long a live answer may wait for an agent after the disclaimer before it
    // is abandoned, the longest whisper, and the company an abandoned customer hears named.
    ABANDON_GRACE_SECONDS: int(0, 10).default(2),
    WHISPER_MAX_CHARS: int(20, 500).default(200),
    COMPANY_NAME: text({ min: 1, max: 80 }).optional(),
    // The pacer: the heartbeat's HMAC secret, a round's lease, and how often agent pages'
    // polls may start a round.
    TICK_SECRET: text({ min: 32, max: 512 }).optional(),
    TICK_LEASE_SECONDS: int(1, 60).default(5),
    TICK_POLL_MIN_SECONDS: int(0, 3600).default(2),
    // Recordings in S3: the bucket, its region, an S3-compatible endpoint (local stack: s3rver),
    // the access key the functions use (Twilio Functions have no IAM role), server-side encryption,
    // and how long a recording is kept (never below 90 days).
    S3_BUCKET: text({ pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, message: 'must be an S3 bucket name (3-63 characters: a-z, 0-9, . and -)' }).optional(),
    S3_REGION: text({ pattern: /^[a-z]{2}(-[a-z]+)+-[0-9]$/, message: 'must be an AWS region like sa-east-1' }).default('sa-east-1'),
    S3_ENDPOINT: httpUrl().optional(),
    S3_ACCESS_KEY_ID: text({ min: 3, max: 128 }).optional(),
    S3_SECRET_ACCESS_KEY: text({ min: 3, max: 256 }).optional(),
    S3_SSE: oneOf(['AES256', 'aws:kms']).default('AES256'),
    S3_KMS_KEY_ID: text({ max: 2048 }).optional(),
    RECORDING_RETENTION_DAYS: int(90, 36500).default(1826),
    // Voicemail transcription by Twilio's <Record transcribe> (off: it transcribes English only,
    // see docs/follow-me.md); on, the text arrives at /webhooks/transcription.
    VOICEMAIL_TRANSCRIBE: oneOf(['off', 'on']).default('off'),
    // Calls of at most this many seconds are short (Anatel: answered or not, voicemail included;
    // reported as 3 s and as 6 s, ../shared/reference/brazil.md).
    SHORT_CALL_SECONDS: int(1, 60).default(6),
    // Alerts (docs/alerts.md): WhatsApp through Twilio Messages (an approved template's ContentSid
    // for business-initiated messages), and the rules' thresholds, cool-down and delivery retries.
    ALERT_WHATSAPP_TO: text({ pattern: ALERT_PHONE, message: 'must be an E.164 number, optionally prefixed whatsapp:' }).optional(),
    ALERT_WHATSAPP_FROM: text({ pattern: ALERT_PHONE, message: 'must be an E.164 number, optionally prefixed whatsapp:' }).optional(),
    ALERT_WHATSAPP_CONTENT_SID: text({ pattern: /^HX[0-9a-fA-F]{32}$/, message: 'must be HX followed by 32 hex characters (a Content Template SID)' }).optional(),
    ALERT_COOLDOWN_MINUTES: int(0, 1440).default(30),
    ALERT_ABANDON_NEAR_PERCENT: int(1, 100).default(80),
    ALERT_ABANDON_MIN_LIVE: int(0, 100000).default(20),
    ALERT_QUEUE_WAIT_MINUTES: int(1, 240).default(3),
    ALERT_NO_AGENT_GRACE_MINUTES: int(0, 240).default(5),
    ALERT_TRANSFER_FAILURES: int(1, 100).default(3),
    ALERT_DEBUGGER_QUIET_MINUTES: int(1, 1440).default(15),
    ALERT_DELIVERY_ATTEMPTS: int(1, 20).default(5),
    ALERT_RETRY_SECONDS: int(1, 600).default(10),
    ALERT_VOICEMAILS: oneOf(['off', 'on']).default('off'),
    // Anatel's short-call rule (docs/anatel.md): a caller that places at least ANATEL_DAILY_CALLS
    // calls a day, at least ANATEL_SHORT_PERCENT % of them short, is blocked for 15 days. The
    // monitor projects the day and is "near" when the projection reaches ANATEL_NEAR_PERCENT % of
    // both thresholds; SHORT_CALL_GUARD=slow makes the pacer dial 1:1 (no line ahead of the
    // available agents) while the account is near, off leaves the pacer alone.
    ANATEL_DAILY_CALLS: int(1, 100_000_000).default(100000),
    ANATEL_SHORT_PERCENT: int(1, 100).default(85),
    ANATEL_NEAR_PERCENT: int(1, 100).default(80),
    SHORT_CALL_GUARD: oneOf(['off', 'slow']).default('slow'),
  },
};

/** The validated configuration of one deployment. */
export type Config = Infer<typeof configSchema.shape> & { baseUrl: string };

/** Thrown when the deployment's environment is incomplete or malformed. */
export class ConfigError extends Error {}

/**
 * Reads and validates the configuration from a function's context (or any env object).
 * Empty values count as unset. `baseUrl` is PUBLIC_BASE_URL, else https://DOMAIN_NAME
 * (what Twilio calls us at).
 */
export function loadConfig(env: Record<string, unknown>): Config {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === 'string' && v !== '') raw[k] = v;
    else if (typeof v === 'number') raw[k] = String(v);
  }
  const parsed = parseShape(configSchema.shape, raw);
  if (!parsed.ok) throw new ConfigError(`invalid configuration: ${parsed.problems.join('; ')}`);
  const domain = typeof env['DOMAIN_NAME'] === 'string' ? env['DOMAIN_NAME'] : undefined;
  const baseUrl = (parsed.value.PUBLIC_BASE_URL ?? (domain ? `https://${domain}` : '')).replace(/\/$/, '');
  if (!baseUrl) throw new ConfigError('invalid configuration: PUBLIC_BASE_URL or DOMAIN_NAME is required');
  return { ...parsed.value, baseUrl };
}

/** Absolute URL of one of our functions or assets. */
export function urlFor(config: Config, path: string): string {
  return config.baseUrl + (path.startsWith('/') ? path : `/${path}`);
}

/** The pause reasons an agent may choose (AGENT_PAUSE_REASONS), trimmed, in order. */
export function pauseReasons(config: Config): string[] {
  return config.AGENT_PAUSE_REASONS.split(',').map((r) => r.trim()).filter((r) => r !== '');
}

/** The disposition codes an agent may record (DISPOSITION_CODES), in order. */
export function dispositionCodes(config: Config): string[] {
  return config.DISPOSITION_CODES.split(',');
}
