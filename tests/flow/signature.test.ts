/** The local front rejects unsigned or mis-signed requests to protected functions, as Twilio's gateway does. */
import { env, sql } from '../helpers/db';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { parseTwiml } from '../helpers/twiml';

const url = () => `${env('FUNCTIONS_BASE_URL')}/voice/inbound`;
const token = () => env('TWILIO_AUTH_TOKEN');
const params = () => voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: '+551130009999' }, env('TWILIO_ACCOUNT_SID'));

async function rowsFor(callSid: string): Promise<number> {
  const [r] = await sql<{ n: string }>('select count(*) as n from calls where call_sid = $1', [callSid]);
  return Number(r!.n);
}

describe('signature front', () => {
  it('rejects a request without X-Twilio-Signature with 401 (error 80625) and runs nothing', async () => {
    const p = params();
    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(p).toString() });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 80625 });
    expect(await rowsFor(p['CallSid']!)).toBe(0);
  });

  it('rejects a signature made with another auth token, for another URL, or before a parameter was changed', async () => {
    const p = params();
    const wrongToken = await signedPost(url(), p, 'another0auth0token00000000000000');
    const otherUrl = await signedPost(url(), p, token(), { signature: require('twilio').getExpectedTwilioSignature(token(), url() + '?x=1', p) });
    const tampered = await signedPost(url(), { ...p, From: newMobile() }, token(), { signature: require('twilio').getExpectedTwilioSignature(token(), url(), p) });
    expect([wrongToken.status, otherUrl.status, tampered.status]).toEqual([401, 401, 401]);
    expect(await rowsFor(p['CallSid']!)).toBe(0);
  });

  it('accepts a correctly signed request and answers TwiML', async () => {
    const p = params();
    const res = await signedPost(url(), p, token());
    expect(res.status).toBe(200);
    expect(parseTwiml(await res.text()).children.length).toBeGreaterThan(0);
    expect(await rowsFor(p['CallSid']!)).toBe(1);
  });

  it('serves the public assets without a signature', async () => {
    const res = await fetch(`${env('FUNCTIONS_BASE_URL')}/disclaimer.mp3`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
  });
});
