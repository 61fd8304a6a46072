/**
 * Twilio's Debugger webhook (twilio.com/docs/usage/troubleshooting/debugging-event-webhooks):
 * a form POST of Sid, AccountSid, ParentAccountSid (subaccounts only), Timestamp, Level
 * (Error or Warning), PayloadType (application/json) and Payload, a JSON object with
 * resource_sid, service_sid, error_code, more_info and webhook. This turns one into the row
 * alert_debugger_event stores, or says what is wrong with it.
 */

export interface DebuggerEvent {
  sid: string;
  accountSid: string;
  level: 'Error' | 'Warning';
  errorCode: string;
  resourceSid: string | null;
  occurredAt: string | null;
  payload: Record<string, unknown>;
}

export type ParsedDebuggerEvent = { ok: true; event: DebuggerEvent } | { ok: true; ignored: string } | { ok: false; problems: string[] };

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const ACCOUNT = /^AC[0-9a-fA-F]{32}$/;
/**
 * The largest Payload kept (characters): a webhook subdocument may carry a whole request and
 * response (an 11200 with an HTML error page, a 12100 with a bad document). A longer one is
 * trimmed, never refused: those are the errors most worth an alert.
 */
export const MAX_PAYLOAD_CHARS = 20_000;
/** A string inside a trimmed Payload keeps this many characters. */
const MAX_STRING_CHARS = 2_000;
/** The Payload fields that identify the event, kept whole. */
const IDENTIFYING = ['error_code', 'resource_sid', 'service_sid', 'more_info'];

function trimStrings(v: unknown, max: number): unknown {
  if (typeof v === 'string') return v.length > max ? `${v.slice(0, max)}… [${v.length - max} characters cut]` : v;
  if (Array.isArray(v)) return v.map((x) => trimStrings(x, max));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, trimStrings(x, max)]));
  return v;
}

/** The Payload as stored: whole when small enough; else long strings cut, and failing that only the identifying fields and a cut of the rest. Marked `truncated`. */
export function boundedPayload(payload: Record<string, unknown>, raw: number): Record<string, unknown> {
  if (raw <= MAX_PAYLOAD_CHARS) return payload;
  const trimmed = trimStrings(payload, MAX_STRING_CHARS) as Record<string, unknown>;
  if (JSON.stringify(trimmed).length <= MAX_PAYLOAD_CHARS - 100) return { ...trimmed, truncated: true };
  const kept = Object.fromEntries(IDENTIFYING.filter((k) => k in payload).map((k) => [k, trimStrings(payload[k], 500)]));
  const rest = Object.fromEntries(Object.entries(payload).filter(([k]) => !IDENTIFYING.includes(k)));
  return { ...kept, rest: trimStrings(JSON.stringify(rest), MAX_PAYLOAD_CHARS / 2), truncated: true };
}

export function parseDebuggerEvent(p: Record<string, string | undefined>): ParsedDebuggerEvent {
  const problems: string[] = [];
  const sid = p['Sid'] ?? '';
  const account = p['AccountSid'] ?? '';
  if (!SID.test(sid)) problems.push('Sid must be two capital letters and 32 hex characters');
  if (!ACCOUNT.test(account)) problems.push('AccountSid must be AC followed by 32 hex characters');
  const rawLevel = (p['Level'] ?? '').trim().toLowerCase();
  // Older pages list DEBUG and INFO too: not alerts.
  if (rawLevel === 'debug' || rawLevel === 'info') return problems.length ? { ok: false, problems } : { ok: true, ignored: `level ${p['Level']}` };
  const level = rawLevel === 'error' ? 'Error' : rawLevel === 'warning' ? 'Warning' : null;
  if (!level) problems.push('Level must be Error or Warning');
  const rawPayload = p['Payload'] ?? '';
  let payload: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(rawPayload) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) payload = v as Record<string, unknown>;
  } catch {
    // reported below
  }
  if (!payload) problems.push('Payload must be a JSON object');
  const code = payload ? payload['error_code'] : undefined;
  const errorCode = typeof code === 'number' && Number.isInteger(code) ? String(code) : typeof code === 'string' ? code.trim() : '';
  if (payload && !/^[0-9]{1,6}$/.test(errorCode)) problems.push('Payload.error_code must be a Twilio error code (digits)');
  if (problems.length || !payload || !level) return { ok: false, problems };
  const resource = payload['resource_sid'];
  const ts = Date.parse(p['Timestamp'] ?? '');
  return {
    ok: true,
    event: {
      sid,
      accountSid: account,
      level,
      errorCode,
      resourceSid: typeof resource === 'string' && resource.length <= 64 ? resource : null,
      occurredAt: Number.isFinite(ts) ? new Date(ts).toISOString() : null,
      payload: boundedPayload(payload, rawPayload.length),
    },
  };
}
