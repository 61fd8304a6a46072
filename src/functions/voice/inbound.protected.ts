/**
 * /voice/inbound — a number's VoiceUrl. The caller hears the recording disclaimer, then, on a
 * number an agent owns: when the agent can take it (available, page polling, shift leg in the
 * room) the call is offered — the agent is reserved and the caller waits in the agent's queue
 * (ringback) until the agent answers from the page or the ring timeout sends them to
 * voicemail; otherwise the call goes down the agent's follow-me chain (softphone, mobile with
 * screening, then the agent's voicemail or a service queue; /voice/follow-me takes each next
 * hop, docs/follow-me.md). A service number nobody owns redirects to its service queue
 * (/voice/queue?queue=<name>). Another number nobody owns goes to the fallback number, else voicemail.
 * Opted-out callers get OPT_OUT_INBOUND.
 * Database down: disclaimer, then fallback number or voicemail.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { addFollowMeStep } from '../../lib/domain/follow-me';
import { urlFor, type Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { inboundRoute, type InboundDecision, type InboundRoute } from '../../lib/domain/routing';
import { addOffer } from '../../lib/domain/rooms';
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
      addDial(twiml, config, route.target, route.agentId === undefined ? '/voice/voicemail' : `/voice/voicemail?agent=${route.agentId}`);
      return twiml;
    case 'offer':
      addDisclaimer(twiml, config);
      addOffer(twiml, config, route.agentId);
      return twiml;
    case 'follow-me':
      addDisclaimer(twiml, config);
      addFollowMeStep(twiml, config, route.chain);
      return twiml;
    case 'queue':
      // A service number (whatever its VoiceUrl): the queue takes the caller without playing
      // the disclaimer again.
      addDisclaimer(twiml, config);
      twiml.redirect({ method: 'POST' }, urlFor(config, `/voice/queue?${new URLSearchParams({ queue: route.queue }).toString()}`));
      return twiml;
    case 'voicemail':
      addDisclaimer(twiml, config);
      addVoicemail(twiml, config, route.agentId === undefined ? {} : { agentId: route.agentId });
      return twiml;
  }
}

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(voiceParams, params);
    const event = { ...voiceEvent(call, params), presence_seconds: config.AGENT_PRESENCE_SECONDS, opt_out_inbound: config.OPT_OUT_INBOUND };
    const decision = unwrap(await db.rpc<InboundDecision>('start_inbound_call', { p_event: event }));
    return answer(inboundRoute(decision, config), config);
  },
  (config) => (config ? answer(inboundRoute(null, config), config) : unavailableTwiml(null)),
);
