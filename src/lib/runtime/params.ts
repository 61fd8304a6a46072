import { BadRequest } from './http';
import { int, oneOf, parseShape, rfc2822Date, text, type Infer, type Shape } from './validate';

/** Twilio's call statuses, in the order a call goes through them. */
export const CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'canceled', 'no-answer', 'busy', 'failed', 'completed'] as const;
/** Twilio's call directions. */
export const DIRECTIONS = ['inbound', 'outbound-api', 'outbound-dial', 'trunking-originating', 'trunking-terminating'] as const;

/**
 * Longest call party stored (the calls.from_number/to_number domain has the same limit).
 * E.164 is at most 16 characters; SIP addresses and carrier-supplied alpha caller IDs are
 * longer, but nothing a caller can be identified by needs more than this.
 */
export const MAX_PARTY_LENGTH = 256;

const callSid = () => text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' });
const accountSid = () => text({ pattern: /^AC[0-9a-f]{32}$/, message: 'must be AC followed by 32 hex characters' });
/**
 * A call party exactly as Twilio sends it: E.164, client:/sip: addresses, and withheld or
 * alphanumeric caller IDs ("Anonymous", "RESTRICTED", "UNAVAILABLE", an operator's name…),
 * which Twilio passes through in From/To since its 2022-11-16 change. Any non-empty text.
 */
const party = () => text({ max: MAX_PARTY_LENGTH });

/**
 * Parameters of every voice webhook (VoiceUrl, answer URL, action URLs). Lenient (orElse):
 * the caller must be served whatever Twilio sends, so an unusable value is logged and left
 * out (the database stores null for it). Only CallSid is indispensable: without it nothing can be
 * recorded, and the voice handler answers its fallback route instead.
 * An unknown CallStatus counts as 'ringing', the status of a call Twilio asks TwiML for;
 * the value as sent is kept in call_events.params.
 */
export const voiceParams = {
  CallSid: callSid(),
  AccountSid: accountSid().orElse(undefined),
  From: party().orElse(undefined),
  To: party().orElse(undefined),
  CallStatus: oneOf(CALL_STATUSES).orElse('ringing' as const),
  Direction: oneOf(DIRECTIONS).orElse(undefined),
  ParentCallSid: callSid().orElse(undefined),
} satisfies Shape;
/** A parsed voice webhook. */
export type VoiceParams = Infer<typeof voiceParams>;

/**
 * Parameters of action callbacks that need no record of the call (voicemail): nothing is
 * indispensable there, so even an unusable CallSid is only logged.
 */
export const actionParams = { ...voiceParams, CallSid: callSid().orElse(undefined) } satisfies Shape;

/** `<Gather action>` parameters: keys that are not keypad digits count as no key at all. */
export const gatherParams = {
  ...voiceParams,
  Digits: text({ min: 0, max: 64, pattern: /^[0-9*#]*$/, message: 'must be keypad digits' }).orElse(undefined),
} satisfies Shape;

/**
 * Longest call Twilio connects: 24 hours (its maximum configurable call time limit), so
 * a CallDuration above it cannot be real.
 */
export const MAX_CALL_DURATION_S = 24 * 3600;
/**
 * Highest SequenceNumber accepted. Twilio numbers a call's callbacks from 0, one per event
 * (initiated, ringing, answered, completed, plus AMD and recording events): a few dozen at
 * most. Ten thousand leaves two orders of magnitude of headroom and stays far inside the
 * Postgres integer the column holds.
 */
export const MAX_SEQUENCE_NUMBER = 10_000;
/** No Twilio call predates Twilio's voice API (2008). Earlier timestamps are clock or parse errors. */
export const EARLIEST_TIMESTAMP = new Date('2008-01-01T00:00:00Z');
/**
 * How far in the future a Timestamp may be: a callback reports something that just happened,
 * so only clock skew is legitimate; a day also covers an offset applied with the wrong sign.
 */
export const MAX_TIMESTAMP_AHEAD_MS = 24 * 3600 * 1000;

/**
 * Parameters of a call status callback. Strict: a status callback changes the calls row, so
 * a value that cannot be true (a duration of hundreds of digits, the year 275760) refuses
 * the request with 400 instead of being stored as null or as something else.
 */
export const statusCallbackParams = {
  CallSid: callSid(),
  AccountSid: accountSid(),
  // Who called whom is already on the row (the voice webhook wrote it, any caller accepted
  // there); a status callback must not be refused, and lost, over an unusable From or To.
  From: party().orElse(undefined),
  To: party().orElse(undefined),
  CallStatus: oneOf(CALL_STATUSES),
  Direction: oneOf(DIRECTIONS).optional(),
  ParentCallSid: callSid().optional(),
  SequenceNumber: int(0, MAX_SEQUENCE_NUMBER).optional(),
  CallDuration: int(0, MAX_CALL_DURATION_S).optional(),
  /** ISO 8601 once parsed (Twilio sends RFC 2822). */
  Timestamp: rfc2822Date({ notBefore: EARLIEST_TIMESTAMP, maxAheadMs: MAX_TIMESTAMP_AHEAD_MS }).optional(),
  CallbackSource: text({ max: 100 }).optional(),
} satisfies Shape;
/** A parsed status callback. */
export type StatusCallbackParams = Infer<typeof statusCallbackParams>;

/** The webhook's parameters without the runtime's `request` object. */
export function webhookParams(event: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  // NUL never comes from Twilio and Postgres text and jsonb cannot hold it: dropped here.
  for (const [k, v] of Object.entries(event)) if (k !== 'request' && typeof v === 'string') out[k] = v.replace(/\u0000/g, '');
  return out;
}

/**
 * Validates a webhook's parameters. Throws BadRequest naming every missing or malformed
 * parameter that the schema cannot do without; problems a lenient schema can live with are
 * logged (Twilio's console shows them) and the parsed value leaves those fields out.
 */
export function parseParams<S extends Shape>(schema: S, event: Record<string, unknown>): Infer<S> {
  const params = webhookParams(event);
  const result = parseShape(schema, params);
  if (result.ignored.length) console.warn(`[discador] ${describe(params)} unusable parameters ignored: ${result.ignored.join('; ')}`);
  if (!result.ok) throw new BadRequest(`invalid webhook parameters: ${result.problems.join('; ')}`, 'invalid_parameters');
  return result.value;
}

function describe(params: Record<string, string>): string {
  const sid = params['CallSid'];
  return sid && /^CA[0-9a-f]{32}$/.test(sid) ? `call ${sid}` : 'request';
}
