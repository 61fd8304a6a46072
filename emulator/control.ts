/**
 * The emulator's own control endpoint, outside Twilio's API: lets a person (or a script) at
 * the local stack play a customer who calls one of the account's numbers, which Twilio's API
 * cannot do. Authenticated like the REST API (Basic, an account SID and its auth token); the
 * number must belong to that account.
 *
 *   POST /_emulator/InboundCalls.json   From=+55…&To=+55…[&TalkSeconds=N][&HangupAfter=N][&Digits=…]
 *   → 201 {"sid": "CA…", "from": …, "to": …}
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PartySpec } from './parties';
import type { Store } from './state';
import type { VoiceEngine } from './voice/engine';

export const INBOUND_CALLS_PATH = '/_emulator/InboundCalls.json';

const PARTY = /^(\+[1-9][0-9]{6,14}|client:[A-Za-z0-9_.-]{1,120})$/;
const MAX_BODY = 16 * 1024;

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function seconds(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 14400) throw new Error(`${name} must be whole seconds from 1 to 14400`);
  return Number(v);
}

/** Handles the control path; false when the request is for something else. */
export function serveControl(req: IncomingMessage, res: ServerResponse, deps: { store: Store; engine: VoiceEngine }): boolean {
  if ((req.url ?? '').split('?')[0] !== INBOUND_CALLS_PATH) return false;
  if (req.method !== 'POST') {
    reply(res, 405, { code: 20004, message: 'Method not allowed' });
    return true;
  }
  const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  const [sid, token] = m ? Buffer.from(m[1]!, 'base64').toString('utf8').split(':') : [];
  const account = sid ? deps.store.accounts.get(sid) : undefined;
  if (!account || account.authToken !== token || account.status === 'closed') {
    reply(res, 401, { code: 20003, message: 'Authenticate' });
    return true;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return reply(res, 413, { code: 20001, message: 'body too large' });
    const p = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const from = p.get('From') ?? '';
    const to = p.get('To') ?? '';
    try {
      if (!PARTY.test(from)) throw new Error('From must be an E.164 number (or client:identity)');
      const number = deps.store.numberByAddress(to);
      if (!number || number.accountSid !== account.sid) throw new Error(`To must be one of this account's numbers; ${to || '(empty)'} is not`);
      const party: Partial<PartySpec> = {};
      const talk = seconds(p.get('TalkSeconds'), 'TalkSeconds');
      const hangup = seconds(p.get('HangupAfter'), 'HangupAfter');
      if (talk !== undefined) party.talkSeconds = talk;
      if (hangup !== undefined) party.hangupAfter = hangup;
      const digits = p.get('Digits');
      if (digits) {
        if (!/^[0-9*#w]{1,32}$/.test(digits)) throw new Error('Digits must be keypad keys (0-9, *, #, w)');
        party.gather = [digits];
      }
      const leg = deps.engine.startInbound({ from, to: number.phoneNumber, party });
      reply(res, 201, { sid: leg.sid, from, to: number.phoneNumber });
    } catch (e) {
      reply(res, 400, { code: 21210, message: e instanceof Error ? e.message : String(e) });
    }
  });
  return true;
}
