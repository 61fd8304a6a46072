import { randomBytes, randomInt } from 'node:crypto';
import twilio from 'twilio';

/** A fresh, well-formed CallSid. */
export function newCallSid(): string {
  return 'CA' + randomBytes(16).toString('hex');
}

/** A random valid São Paulo mobile number (unique enough to keep parallel tests apart). */
export function newMobile(ddd = '11'): string {
  return `+55${ddd}9${String(randomInt(10_000_000, 99_999_999))}`;
}

/** POSTs form parameters to url signed with X-Twilio-Signature, as Twilio does. */
export async function signedPost(url: string, params: Record<string, string>, authToken: string, opts: { signature?: string } = {}): Promise<Response> {
  const signature = opts.signature ?? twilio.getExpectedTwilioSignature(authToken, url, params);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
}

/** The parameters Twilio sends with every voice request. */
export function voiceRequest(over: Partial<Record<string, string>> & { CallSid: string; From: string; To: string }, accountSid: string): Record<string, string> {
  const base: Record<string, string> = {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallStatus: 'ringing',
    Direction: 'inbound',
    CallerCountry: 'BR',
    ToCountry: 'BR',
  };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) base[k] = v;
  return base;
}
