/**
 * /voice/outbound — answer URL of every call the dialer places. The customer hears the
 * disclaimer with the opt-out offer (a key press goes to /voice/opt-out), then is connected
 * to the call's agent, else the fallback number. `?step=connect` skips the disclaimer (used
 * when the customer pressed another key). Database down: disclaimer, then fallback number.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { urlFor, type Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { agentTarget, type RoutedAgent } from '../../lib/domain/routing';
import { addDial, addDisclaimer, say, unavailableTwiml, type DialTarget } from '../../lib/domain/twiml';
import { parseParams, voiceParams } from '../../lib/runtime/params';

function answer(config: Config, target: DialTarget | null, withDisclaimer: boolean): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  if (withDisclaimer) {
    const gather = twiml.gather({ numDigits: 1, timeout: 1, action: urlFor(config, '/voice/opt-out'), actionOnEmptyResult: false });
    addDisclaimer(gather, config);
    say(gather, config, MESSAGES.optOutOffer(config.OPT_OUT_KEY));
  }
  const to = target ?? (config.FALLBACK_NUMBER ? ({ kind: 'number', number: config.FALLBACK_NUMBER } as const) : null);
  if (to) addDial(twiml, config, to, '/voice/voicemail');
  else {
    say(twiml, config, MESSAGES.unavailable);
    twiml.hangup();
  }
  return twiml;
}

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(voiceParams, params);
    const agent = unwrap(await db.rpc<RoutedAgent | null>('start_outbound_answer', { p_event: voiceEvent(call, params) }));
    return answer(config, agentTarget(agent), params['step'] !== 'connect');
  },
  (config, params) => (config ? answer(config, null, params['step'] !== 'connect') : unavailableTwiml(null)),
);
