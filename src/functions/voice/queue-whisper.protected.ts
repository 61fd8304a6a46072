/**
 * /voice/queue-whisper?queue=<name>&waited=<seconds> — the AnnounceUrl played into an agent's
 * room when a queued caller is handed to them: "Cliente aguardando há 3 minutos, fila geral."
 * Only the agent is in the room then. Announcement documents may hold Play, Say, Pause,
 * Redirect only (twilio.com/docs/voice/api/conference-resource). Needs no database; bad
 * parameters are left out of the sentence, never an error.
 */
import twilio from 'twilio';
import { QUEUE_MESSAGES, QUEUE_NAME, spokenWaited } from '../../lib/domain/queue';
import { say } from '../../lib/domain/twiml';
import { voiceFunction } from '../../lib/runtime/handler';

export const handler = voiceFunction(
  async ({ config, params }) => {
    const twiml = new twilio.twiml.VoiceResponse();
    const queue = params['queue'] && QUEUE_NAME.test(params['queue']) ? params['queue'] : 'geral';
    const waited = /^[0-9]{1,6}$/.test(params['waited'] ?? '') ? Number(params['waited']) : 0;
    say(twiml, config, QUEUE_MESSAGES.whisper(spokenWaited(waited), queue));
    return twiml;
  },
  () => new twilio.twiml.VoiceResponse(),
);
