/**
 * The local stack's softphone wiring: at start it made an API key and the agents' TwiML App on
 * its Twilio emulator through the REST API, gave their values to the functions (and to
 * stack.env), and a token signed with that key registers on the emulator's softphone socket.
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import twilio from 'twilio';
import WebSocket from 'ws';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { env } from '../helpers/db';

test('the stack made the API key and the TwiML App and wrote them for the functions and in stack.env', async () => {
  const client = createTwilioClient(env('TWILIO_ACCOUNT_SID'), env('TWILIO_AUTH_TOKEN'), env('TWILIO_API_BASE_URL'));
  const app = await client.applications(env('TWILIO_TWIML_APP_SID')).fetch();
  expect(app).toMatchObject({ voiceUrl: `${env('FUNCTIONS_BASE_URL')}/voice/agent-session`, voiceMethod: 'POST', friendlyName: 'discador agents' });
  expect((await client.keys.list()).map((k) => k.sid)).toContain(env('TWILIO_API_KEY'));
  expect(env('SOFTPHONE_STANDIN_URL')).toBe(`${env('TWILIO_API_BASE_URL')}/softphone/device.js`);
  const written = parseEnv(readFileSync(env('DISCADOR_STACK_ENV'), 'utf8'));
  for (const k of ['TWILIO_API_KEY', 'TWILIO_API_SECRET', 'TWILIO_TWIML_APP_SID', 'SOFTPHONE_STANDIN_URL']) expect(written[k]).toBe(env(k));
  const script = await fetch(env('SOFTPHONE_STANDIN_URL'));
  expect(script.status).toBe(200);
  expect(await script.text()).toContain('DiscadorStandInDevice');
});

test('a token signed with the stack\'s key registers a softphone; one signed otherwise is refused', async () => {
  const token = (secret: string) => {
    const t = new twilio.jwt.AccessToken(env('TWILIO_ACCOUNT_SID'), env('TWILIO_API_KEY'), secret, { identity: 'stack_check', ttl: 600 });
    t.addGrant(new twilio.jwt.AccessToken.VoiceGrant({ incomingAllow: true, outgoingApplicationSid: env('TWILIO_TWIML_APP_SID') }));
    return t.toJwt();
  };
  const ws = new WebSocket(env('TWILIO_API_BASE_URL').replace(/^http/, 'ws') + '/softphone');
  const replies: { type: string; code?: number; identity?: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = () => new Promise<{ type: string; code?: number; identity?: string }>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
  try {
    ws.send(JSON.stringify({ type: 'register', token: token('w'.repeat(32)) }));
    replies.push(await next());
    ws.send(JSON.stringify({ type: 'register', token: token(env('TWILIO_API_SECRET')) }));
    replies.push(await next());
  } finally {
    ws.close();
  }
  expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 20101 }), { type: 'registered', identity: 'stack_check' }]);
});
