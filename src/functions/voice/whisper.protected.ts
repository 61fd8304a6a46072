/**
 * /voice/whisper?call=<CallSid> — the AnnounceUrl played into the agent's room when a campaign
 * customer was found live and the agent reserved: the lead's context spoken once (the
 * campaign's whisper template, else the lead's name and the campaign), at most
 * WHISPER_MAX_CHARS. Only the agent is in the room then; the customer still hears the
 * disclaimer. Announcement documents may hold Play, Say, Pause, Redirect only
 * (twilio.com/docs/voice/api/conference-resource). An unknown call, or any failure, plays
 * nothing (an empty document), never an error.
 */
import twilio from 'twilio';
import type { WhisperData } from '../../lib/domain/campaign-calls';
import { say } from '../../lib/domain/twiml';
import { whisperText } from '../../lib/domain/whisper';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';

const CALL_SID = /^CA[0-9a-f]{32}$/;

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const twiml = new twilio.twiml.VoiceResponse();
    const callSid = params['call'];
    if (!callSid || !CALL_SID.test(callSid)) {
      console.warn('[discador] /voice/whisper without a usable ?call=: nothing announced');
      return twiml;
    }
    const data = unwrap(await db.rpc<WhisperData | null>('campaign_whisper', { p_call_sid: callSid }));
    if (data) say(twiml, config, whisperText(data, config.WHISPER_MAX_CHARS));
    return twiml;
  },
  () => new twilio.twiml.VoiceResponse(),
);
