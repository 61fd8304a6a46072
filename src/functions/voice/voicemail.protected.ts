/**
 * /voice/voicemail[?agent=<id>] — the Dial action after ringing an agent, and the Record action
 * after a message. A bridged call just ends; an unanswered one records a message (the agent's,
 * when the URL names one); a recorded message gets a thank-you. Needs no database, so it works
 * during an outage too.
 */
import twilio from 'twilio';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { addVoicemail, say, unavailableTwiml } from '../../lib/domain/twiml';
import { actionParams, parseParams } from '../../lib/runtime/params';
import { int } from '../../lib/runtime/validate';

const voicemailParams = { ...actionParams, agent: int(1, Number.MAX_SAFE_INTEGER).orElse(undefined) };

export const handler = voiceFunction(
  async ({ config, params }) => {
    const p = parseParams(voicemailParams, params);
    const twiml = new twilio.twiml.VoiceResponse();
    if (params['RecordingUrl'] !== undefined) {
      say(twiml, config, MESSAGES.voicemailThanks);
      twiml.hangup();
    } else if (params['DialCallStatus'] === 'completed' || params['DialCallStatus'] === 'answered') {
      twiml.hangup();
    } else {
      addVoicemail(twiml, config, p.agent === undefined ? {} : { agentId: p.agent });
    }
    return twiml;
  },
  (config) => unavailableTwiml(config),
);
