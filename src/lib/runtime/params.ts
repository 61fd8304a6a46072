import { z } from 'zod';
import { BadRequest } from './http';

/** Twilio's call statuses, in the order a call goes through them. */
export const CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'canceled', 'no-answer', 'busy', 'failed', 'completed'] as const;

const callSid = z.string().regex(/^CA[0-9a-f]{32}$/, 'must be CA followed by 32 hex characters');
const accountSid = z.string().regex(/^AC[0-9a-f]{32}$/, 'must be AC followed by 32 hex characters');
/** A call party as Twilio sends it: E.164, client:/sip: address, or an anonymous caller. */
const party = z
  .string()
  .regex(/^(\+[1-9][0-9]{7,14}|(client|sip):.+|anonymous|Anonymous|unknown|restricted)$/, 'must be an E.164 number, client:, sip: or anonymous');
const intString = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number);

/** Parameters of every voice webhook (VoiceUrl, answer URL, action URLs). */
export const voiceParams = z.looseObject({
  CallSid: callSid,
  AccountSid: accountSid,
  From: party,
  To: party,
  CallStatus: z.enum(CALL_STATUSES),
  Direction: z.enum(['inbound', 'outbound-api', 'outbound-dial', 'trunking-originating', 'trunking-terminating']).optional(),
  ParentCallSid: callSid.optional(),
});
/** A parsed voice webhook. */
export type VoiceParams = z.infer<typeof voiceParams>;

/** Parameters of a call status callback. */
export const statusCallbackParams = voiceParams.extend({
  SequenceNumber: intString.optional(),
  CallDuration: intString.optional(),
  Timestamp: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 2822 date')
    .optional(),
  CallbackSource: z.string().optional(),
});
/** A parsed status callback. */
export type StatusCallbackParams = z.infer<typeof statusCallbackParams>;

/** `<Gather action>` parameters. */
export const gatherParams = voiceParams.extend({ Digits: z.string().regex(/^[0-9*#]*$/, 'must be keypad digits').optional() });

/** The webhook's parameters without the runtime's `request` object. */
export function webhookParams(event: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event)) if (k !== 'request' && typeof v === 'string') out[k] = v;
  return out;
}

/** Validates a webhook's parameters, or throws BadRequest naming every missing or malformed one. */
export function parseParams<S extends z.ZodType>(schema: S, event: Record<string, unknown>): z.infer<S> {
  const params = webhookParams(event);
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const name = i.path.join('.');
    return params[name] === undefined ? `missing ${name}` : `${name} ${i.message}`;
  });
  throw new BadRequest(`invalid webhook parameters: ${problems.join('; ')}`, 'invalid_parameters');
}
