/**
 * /voice/opt-out — `<Gather action>` of the disclaimer. The opt-out key puts the customer's
 * number on the opt-out list and ends the call politely; any other key goes on to the agent.
 *
 * Database away: the request is retried within the call. The caller hears "aguarde um
 * instante", a short pause, and the flow comes back here (`<Redirect>`) with the attempt
 * number and the key pressed in the URL, up to OPT_OUT_ATTEMPTS times. If the last attempt
 * fails too, the opt-out is sent to a person (Slack and/or SMS, outside the database) with the
 * number, the call and the time, and the caller is told the truth: the request could not be
 * registered now, and whether the team was told.
 */
import twilio from 'twilio';
import { urlFor, type Config } from '../../lib/runtime/config';
import { DB_UNAVAILABLE, unwrap, type RpcResult } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { isE164 } from '../../lib/domain/e164';
import { customerNumber } from '../../lib/domain/routing';
import { say, sayAndHangUp } from '../../lib/domain/twiml';
import { sendOptOutAlert } from '../../lib/domain/urgent-alert';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { gatherParams, parseParams } from '../../lib/runtime/params';

/** Tries at registering an opt-out within one call (the first included). */
export const OPT_OUT_ATTEMPTS = 3;
/** Seconds of silence between tries (after "aguarde um instante"), so a database restart can finish. */
export const OPT_OUT_RETRY_PAUSE_S = 2;

/**
 * Longest wait on the database per attempt (ms, or DB_TIMEOUT_MS when shorter): leaves time,
 * within the voice deadline, to alert a person on the last attempt and still answer the caller.
 */
export const OPT_OUT_DB_BUDGET_MS = 2500;

/** The rpc's result, or DB_UNAVAILABLE once `ms` have passed. */
function within<T>(p: Promise<RpcResult<T>>, ms: number): Promise<RpcResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<RpcResult<T>>((resolve) => {
    timer = setTimeout(() => resolve({ data: null, error: { code: DB_UNAVAILABLE, message: `no answer within ${ms} ms` } }), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The attempt this request is (1 for the Gather action, then from the Redirect's query). */
function attemptOf(params: Record<string, string>): number {
  const n = Number(params['attempt'] ?? '1');
  return Number.isInteger(n) && n >= 1 && n <= OPT_OUT_ATTEMPTS ? n : OPT_OUT_ATTEMPTS;
}

/** "Aguarde um instante", a pause, and back here for the next attempt with the same key. */
function retryLater(config: Config | null, params: Record<string, string>, attempt: number): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  say(twiml, config, MESSAGES.optOutWait);
  twiml.pause({ length: OPT_OUT_RETRY_PAUSE_S });
  const query = new URLSearchParams({ attempt: String(attempt + 1), Digits: params['Digits'] ?? '' });
  const path = `/voice/opt-out?${query.toString()}`;
  twiml.redirect({ method: 'POST' }, config ? urlFor(config, path) : path);
  return twiml;
}

export const handler = voiceFunction(
  async ({ config, params, db, context }) => {
    const call = parseParams(gatherParams, params);
    if (call.Digits !== config.OPT_OUT_KEY) {
      const twiml = new twilio.twiml.VoiceResponse();
      twiml.redirect({ method: 'POST' }, urlFor(config, '/voice/outbound?step=connect'));
      return twiml;
    }
    const phone = customerNumber(call);
    if (!isE164(phone)) {
      // A withheld or alphanumeric caller ID cannot go on the list: say so, no retry helps.
      console.error(`[discador] opt-out key from a caller without a usable number (${phone || 'none'}): call ${call.CallSid}`);
      return sayAndHangUp(config, MESSAGES.optOutNoNumber);
    }
    const attempt = attemptOf(params);
    const result = await within(
      db.rpc('opt_out_from_call', { p_call_sid: call.CallSid, p_phone: phone, p_source: 'ivr' }),
      Math.min(config.DB_TIMEOUT_MS, OPT_OUT_DB_BUDGET_MS),
    );
    if (!result.error) return sayAndHangUp(config, MESSAGES.optOutConfirmed);
    if (result.error.code !== DB_UNAVAILABLE) unwrap(result); // refused by the database: throws
    console.error(`[discador] opt-out attempt ${attempt}/${OPT_OUT_ATTEMPTS} failed (database unavailable): call ${call.CallSid} number ${phone}: ${result.error.message}`);
    if (attempt < OPT_OUT_ATTEMPTS) return retryLater(config, params, attempt);

    const ourNumber = call.Direction === 'inbound' ? call.To : call.From;
    const alert = await sendOptOutAlert(
      {
        config,
        // The runtime types name an older twilio package; the object is this project's twilio client.
        twilio: () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio,
        smsFrom: isE164(ourNumber) ? ourNumber : null,
      },
      { phone, callSid: call.CallSid, at: new Date(), attempts: attempt },
    );
    console.error(
      `[discador] opt-out NOT recorded: call ${call.CallSid} number ${phone}; alert slack=${alert.slack} sms=${alert.sms}${alert.errors.length ? ` (${alert.errors.join('; ')})` : ''}`,
    );
    return sayAndHangUp(config, alert.delivered ? MESSAGES.optOutFailedReported : MESSAGES.optOutFailed);
  },
  // Past the deadline or on an unexpected failure: retry while attempts remain, else the truth.
  (config, params) => {
    const attempt = attemptOf(params);
    if (params['Digits'] !== undefined && params['Digits'] === (config?.OPT_OUT_KEY ?? '9') && attempt < OPT_OUT_ATTEMPTS) {
      return retryLater(config, params, attempt);
    }
    console.error(`[discador] opt-out NOT recorded (no alert sent): call ${params['CallSid']} number ${params['Direction'] === 'inbound' ? params['From'] : params['To']}`);
    return sayAndHangUp(config, MESSAGES.optOutFailed);
  },
);
