/**
 * What the agents' softphones need from a Twilio account, made at stack start through the
 * (emulated) Twilio REST API the way an operator makes it once on a real account: an API key
 * that signs the AccessTokens of `GET /api/voice-token`, and a TwiML App whose VoiceUrl
 * (`/voice/agent-session`) answers `Device.connect()`. The functions get them as env vars,
 * with the URL of the emulator's stand-in Device for the agent page.
 */
import { createTwilioClient } from '../src/lib/runtime/twilio-client';

/** FriendlyName of the TwiML App the stack makes (found and repointed if the emulator already has it). */
export const SOFTPHONE_APP_NAME = 'discador agents';

/** The functions' env vars for the softphone. */
export interface SoftphoneEnv {
  TWILIO_API_KEY: string;
  TWILIO_API_SECRET: string;
  TWILIO_TWIML_APP_SID: string;
  /** The emulator's stand-in Device script (the page loads it instead of the Voice SDK on the local stack). */
  SOFTPHONE_STANDIN_URL: string;
}

/** The softphone's voice URL on the functions. */
export function agentSessionUrl(functionsUrl: string): string {
  return `${functionsUrl.replace(/\/+$/, '')}/voice/agent-session`;
}

/** Creates the API key and the TwiML App on the emulator at `apiBaseUrl`; returns the functions' env vars. */
export async function provisionSoftphone(o: { apiBaseUrl: string; accountSid: string; authToken: string; functionsUrl: string }): Promise<SoftphoneEnv> {
  const client = createTwilioClient(o.accountSid, o.authToken, o.apiBaseUrl);
  const voiceUrl = agentSessionUrl(o.functionsUrl);
  const key = await client.newKeys.create({ friendlyName: 'discador local stack' });
  const [existing] = await client.applications.list({ friendlyName: SOFTPHONE_APP_NAME, limit: 1 });
  const app = existing
    ? await client.applications(existing.sid).update({ voiceUrl, voiceMethod: 'POST' })
    : await client.applications.create({ friendlyName: SOFTPHONE_APP_NAME, voiceUrl, voiceMethod: 'POST' });
  return {
    TWILIO_API_KEY: key.sid,
    TWILIO_API_SECRET: key.secret,
    TWILIO_TWIML_APP_SID: app.sid,
    SOFTPHONE_STANDIN_URL: `${o.apiBaseUrl.replace(/\/+$/, '')}/softphone/device.js`,
  };
}
