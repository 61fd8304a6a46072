/**
 * /voice/voicemail-drop?attempt=<id> — where a campaign call answered by a machine is sent at
 * the beep (AMD DetectMessageEnd, Calls update Url): the campaign's message is left (its MP3
 * asset, else its text spoken, else a short default naming the company) and the call ends.
 * One round trip (campaign_voicemail_drop) logs it and reads the message. Anything unknown or
 * failing: the call just ends, never an error.
 */
import twilio from 'twilio';
import { voicemailDropTwiml } from '../../lib/domain/campaign-calls';
import { voiceEvent } from '../../lib/domain/call-events';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';

interface Drop {
  audio: string | null;
  text: string | null;
  company_name: string | null;
}

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(voiceParams, params);
    const drop = unwrap(await db.rpc<Drop | null>('campaign_voicemail_drop', { p_event: voiceEvent(call, params) }));
    return voicemailDropTwiml(config, drop);
  },
  () => {
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.hangup();
    return twiml;
  },
);
