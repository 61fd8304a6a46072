/**
 * /voice/inbound — a number's VoiceUrl. The caller hears the recording disclaimer, then is
 * connected to the agent who owns the dialed number (softphone and phone ring together),
 * else to the fallback number, else voicemail. Opted-out callers get OPT_OUT_INBOUND.
 * Database down: disclaimer, then fallback number or voicemail.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import type { Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { inboundRoute, type InboundDecision, type InboundRoute } from '../../lib/domain/routing';
import { addDial, addDisclaimer, addVoicemail, say, unavailableTwiml } from '../../lib/domain/twiml';
import { parseParams, voiceParams } from '../../lib/runtime/params';

function answer(route: InboundRoute, config: Config): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  switch (route.kind) {
    case 'reject':
      twiml.reject({ reason: 'rejected' });
      return twiml;
    case 'opted-out-message':
      say(twiml, config, MESSAGES.inboundOptedOut);
      twiml.hangup();
      return twiml;
    case 'dial':
      addDisclaimer(twiml, config);
      addDial(twiml, config, route.target, '/voice/voicemail');
      return twiml;
    case 'voicemail':
      addDisclaimer(twiml, config);
      addVoicemail(twiml, config);
      return twiml;
  }
}

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(voiceParams, params);
    const decision = unwrap(await db.rpc<InboundDecision>('start_inbound_call', { p_event: voiceEvent(call, params) }));
    return answer(inboundRoute(decision, config), config);
  },
  (config) => (config ? answer(inboundRoute(null, config), config) : unavailableTwiml(null)),
);
