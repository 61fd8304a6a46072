/**
 * /voice/fallback — every number's VoiceFallbackUrl (set by `numbers point`). Twilio calls it
 * when the primary VoiceUrl fails: an error status, invalid TwiML, or no answer in time. It
 * receives the usual call parameters plus ErrorCode and ErrorUrl (what failed and where).
 * It never touches the database and never fails: an inbound caller hears the disclaimer, then
 * is connected to FALLBACK_NUMBER, else leaves a voicemail; with a broken configuration, a
 * spoken apology. A dialer call (the answer URL's FallbackUrl) is never connected from here:
 * the opt-out list could not be checked, so the customer hears an apology and the call ends.
 */
import twilio from 'twilio';
import type { Config } from '../../lib/runtime/config';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { addDial, addDisclaimer, addVoicemail, sayAndHangUp, unavailableTwiml } from '../../lib/domain/twiml';

/** Calls discador placed (the customer is the callee): everything but an inbound call. */
function isDialerCall(params: Record<string, string>): boolean {
  return params['Direction'] !== undefined && params['Direction'] !== 'inbound';
}

/** Disclaimer, then the fallback number (voicemail if nobody answers), else voicemail. */
function fallbackTwiml(config: Config): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  addDisclaimer(twiml, config);
  if (config.FALLBACK_NUMBER) addDial(twiml, config, { kind: 'number', number: config.FALLBACK_NUMBER }, '/voice/voicemail');
  else addVoicemail(twiml, config);
  return twiml;
}

export const handler = voiceFunction(
  async ({ config, params }) => {
    // Parameters are not validated here: whatever Twilio sends, the caller must be served.
    console.error(
      `[discador] /voice/fallback: primary URL failed (ErrorCode ${params['ErrorCode'] ?? '?'} at ${params['ErrorUrl'] ?? '?'}) for call ${params['CallSid'] ?? '?'}`,
    );
    return isDialerCall(params) ? sayAndHangUp(config, MESSAGES.outboundUnverified) : fallbackTwiml(config);
  },
  (config, params) => (isDialerCall(params) ? sayAndHangUp(config, MESSAGES.outboundUnverified) : config ? fallbackTwiml(config) : unavailableTwiml(null)),
);
