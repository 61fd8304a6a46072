import twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { MESSAGES } from './messages';

type VoiceResponse = twilio.twiml.VoiceResponse;
type Sayable = Pick<VoiceResponse, 'say' | 'play'>;

/** Speaks pt-BR text with the configured voice. */
export function say(node: Pick<VoiceResponse, 'say'>, config: Pick<Config, 'TTS_VOICE' | 'TTS_LANGUAGE'> | null, text: string): void {
  node.say({ voice: (config?.TTS_VOICE ?? 'Polly.Camila') as 'Polly.Camila', language: (config?.TTS_LANGUAGE ?? 'pt-BR') as 'pt-BR' }, text);
}

/** The recording disclaimer: the MP3 asset, or DISCLAIMER_TEXT (default text) spoken. */
export function addDisclaimer(node: Sayable, config: Config): void {
  if (config.DISCLAIMER_MODE === 'play') node.play(urlFor(config, config.DISCLAIMER_AUDIO));
  else say(node, config, config.DISCLAIMER_TEXT ?? MESSAGES.disclaimer);
}

/** Whose voicemail a message is: an agent's, a service queue's, or nobody's in particular. */
export type VoicemailOwner = { agentId?: number; queue?: string };

/**
 * The RecordingStatusCallback of a voicemail: /webhooks/recording with kind=voicemail and the
 * owner (agent=<id> or queue=<name>) in the query, so the recordings row says whose it is.
 */
export function voicemailRecordingCallback(config: Config, owner: VoicemailOwner = {}): string {
  const q = new URLSearchParams({ kind: 'voicemail' });
  if (owner.agentId !== undefined) q.set('agent', String(owner.agentId));
  if (owner.queue !== undefined) q.set('queue', owner.queue);
  return urlFor(config, `/webhooks/recording?${q.toString()}`);
}

/**
 * Prompt, beep, and a recorded message of at most VOICEMAIL_MAX_LENGTH seconds with leading
 * and trailing silence trimmed; the recording's callback stores it as the owner's voicemail
 * (then it is copied to S3 like any recording). /voice/voicemail thanks the caller afterwards.
 */
export function addVoicemail(twiml: VoiceResponse, config: Config, owner: VoicemailOwner = {}): void {
  say(twiml, config, MESSAGES.voicemail);
  twiml.record({
    maxLength: config.VOICEMAIL_MAX_LENGTH,
    playBeep: true,
    timeout: 5,
    trim: 'trim-silence',
    action: urlFor(config, '/voice/voicemail'),
    recordingStatusCallback: voicemailRecordingCallback(config, owner),
    recordingStatusCallbackMethod: 'POST',
    recordingStatusCallbackEvent: ['completed', 'absent'],
    ...voicemailTranscription(config),
  });
}

/**
 * With VOICEMAIL_TRANSCRIBE=on, Twilio's legacy transcription of the message (`<Record
 * transcribe transcribeCallback>`, twilio.com/docs/voice/twiml/record#transcribe): the text is
 * posted to /webhooks/transcription, which stores it on the recording. Twilio documents it for
 * English; see docs/follow-me.md.
 */
export function voicemailTranscription(config: Pick<Config, 'VOICEMAIL_TRANSCRIBE' | 'baseUrl'>): { transcribe?: boolean; transcribeCallback?: string } {
  if (config.VOICEMAIL_TRANSCRIBE !== 'on') return {};
  return { transcribe: true, transcribeCallback: urlFor(config as Config, '/webhooks/transcription') };
}

/** Says one thing, then ends the call (a goodbye, an apology): nobody is connected. */
export function sayAndHangUp(config: Pick<Config, 'TTS_VOICE' | 'TTS_LANGUAGE'> | null, text: string): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  say(twiml, config, text);
  twiml.hangup();
  return twiml;
}

/** What a caller hears when nothing else can be done (e.g. the configuration is broken). */
export function unavailableTwiml(config: Config | null): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  say(twiml, config, MESSAGES.unavailable);
  twiml.hangup();
  return twiml;
}

/** Who an answered call should ring: an agent (softphone and/or phone) or a plain number. */
export type DialTarget = { kind: 'agent'; phone: string | null; client: string | null } | { kind: 'number'; number: string };

/** Rings the target (all of an agent's devices at once) and hands the outcome to actionPath. */
export function addDial(twiml: VoiceResponse, config: Config, target: DialTarget, actionPath: string): void {
  const dial = twiml.dial({ timeout: config.AGENT_RING_TIMEOUT, action: urlFor(config, actionPath), answerOnBridge: true });
  if (target.kind === 'number') {
    dial.number(target.number);
    return;
  }
  if (target.client) dial.client(target.client);
  if (target.phone) dial.number(target.phone);
}
