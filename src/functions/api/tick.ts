/**
 * POST /api/tick — one pacing round for every running campaign (or {campaign_id}): the
 * heartbeat's URL (pg_cron + pg_net in production, the local stack's interval) and a
 * supervisor's or admin's "dial now". Answers {rounds: [{campaign_id, dial, wanted, claimed,
 * placed, reason}]}.
 *
 * Who may call:
 *  - the heartbeat: `X-Discador-Tick: t=<unix seconds>,v1=<hex HMAC-SHA256(TICK_SECRET, t)>`,
 *    or the same as a JSON body {t, v1}; the timestamp within ±60 s (constant-time compare).
 *    A bad, old or malformed credential is 401 and nothing is dialed;
 *  - a signed-in supervisor or admin (session cookie or bearer token).
 * TICK_SECRET unset: 503 tick_not_configured (the pacer has no heartbeat to trust).
 */
import type { Context, ServerlessCallback, TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import type twilio from 'twilio';
import { parseTickHeader, TICK_HEADER, verifyTick } from '../../lib/domain/dialer/tick-auth';
import { runTick } from '../../lib/domain/dialer/tick';
import { ApiError, checkSession, failureResponse, header, jsonResponse, requestOf, requestToken, requireRole, tokenHash, Unauthenticated } from '../../lib/runtime/api';
import { loadConfig } from '../../lib/runtime/config';
import { DbUnavailable, getDb } from '../../lib/runtime/db';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';

/** Time the round may take before the heartbeat is answered 503 (Functions stop at 10 s). */
const TICK_DEADLINE_MS = 8000;

const AUTH_MESSAGES = {
  missing: 'send X-Discador-Tick: t=<unix seconds>,v1=<hex HMAC-SHA256 of t>, or sign in as a supervisor',
  malformed: 'the tick credential is malformed: t=<unix seconds>,v1=<64 hex characters>',
  stale: 'the tick timestamp is more than 60 s away from the server clock',
  bad_signature: 'the tick signature does not match',
} as const;

function field(event: Record<string, unknown>, name: string): string | undefined {
  const v = event[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export const handler = (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void => {
  const run = async (): Promise<TwilioResponse> => {
    const config = loadConfig(context);
    if (!config.TICK_SECRET) throw new ApiError(503, 'tick_not_configured', 'TICK_SECRET is not set: the pacer heartbeat is off');
    const req = requestOf(event);
    const sent = header(req, TICK_HEADER);
    const bodyT = field(event, 't');
    const bodyV1 = field(event, 'v1');
    const db = getDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: config.DB_TIMEOUT_MS });

    let trigger: 'heartbeat' | 'campaign';
    if (sent !== undefined || bodyT !== undefined || bodyV1 !== undefined) {
      const cred = sent !== undefined ? parseTickHeader(sent) : bodyT !== undefined && bodyV1 !== undefined ? { t: bodyT, v1: bodyV1 } : null;
      const verdict = cred ? verifyTick(config.TICK_SECRET, cred) : ({ ok: false, why: 'malformed' } as const);
      if (!verdict.ok) throw new ApiError(401, `tick_${verdict.why}`, AUTH_MESSAGES[verdict.why]);
      trigger = 'heartbeat';
    } else {
      const token = requestToken(req);
      if (token === undefined) throw new Unauthenticated(AUTH_MESSAGES.missing);
      if (token === null) throw new Unauthenticated('the session token is malformed; sign in again');
      requireRole(await checkSession(db, config, tokenHash(token)), ['supervisor', 'admin']);
      trigger = 'campaign';
    }

    const rawCampaign = field(event, 'campaign_id');
    if (rawCampaign !== undefined && !/^[1-9][0-9]{0,17}$/.test(rawCampaign)) throw new ApiError(400, 'bad_request', 'campaign_id must be a positive integer');
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    const result = await runTick({ db, twilio: client, config }, { trigger, ...(rawCampaign ? { campaignId: Number(rawCampaign) } : {}) });
    return jsonResponse(200, {
      rounds: result.rounds.map((r) => ({ campaign_id: r.campaign_id, dial: r.dial, wanted: r.wanted, claimed: r.claimed, placed: r.placed, reason: r.reason })),
    });
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbUnavailable(`no answer within ${TICK_DEADLINE_MS} ms`)), TICK_DEADLINE_MS);
  });
  Promise.race([run(), deadline])
    .finally(() => clearTimeout(timer))
    .then(
      (res) => callback(null, res),
      (err: unknown) => callback(null, failureResponse(context, err)),
    );
};
