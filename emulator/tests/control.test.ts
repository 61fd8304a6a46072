import { INBOUND_CALLS_PATH } from '../control';
import { rigPerTest, vr, verbs, type Rig } from './helpers';

let r: Rig;
rigPerTest(() => r, (x) => (r = x));

function post(body: Record<string, string>, auth = `${r.emu.accountSid}:${r.emu.authToken}`) {
  return fetch(r.emu.url + INBOUND_CALLS_PATH, {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(auth).toString('base64'), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
}

test('a customer calls one of the account\'s numbers: the number\'s VoiceUrl runs, the party hangs up as told', async () => {
  r.app.route('/inbound', () => vr().say('olá'));
  const res = await post({ From: '+5511987650001', To: r.number, HangupAfter: '3' });
  expect(res.status).toBe(201);
  const { sid } = (await res.json()) as { sid: string };
  expect(sid).toMatch(/^CA[0-9a-f]{32}$/);
  const call = await r.emu.waitForCall(sid);
  expect(call).toMatchObject({ direction: 'inbound', from: '+5511987650001', to: r.number });
  expect(r.app.to('/inbound')[0]?.params).toMatchObject({ CallSid: sid, From: '+5511987650001', To: r.number });
  expect(verbs(r.emu, sid)).toContain('Say:olá');
});

test('refuses a wrong token, a bad From, a number the account does not own; no call is placed', async () => {
  const before = r.emu.calls().length;
  expect((await post({ From: '+5511987650001', To: r.number }, `${r.emu.accountSid}:wrong`)).status).toBe(401);
  const bad = await post({ From: '11 98765', To: r.number });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { message: string }).message).toMatch(/From/);
  const notOurs = await post({ From: '+5511987650001', To: '+551140000000' });
  expect(notOurs.status).toBe(400);
  expect((await post({ From: '+5511987650001', To: r.number, TalkSeconds: '0' })).status).toBe(400);
  expect((await fetch(r.emu.url + INBOUND_CALLS_PATH)).status).toBe(405);
  expect(r.emu.calls().length).toBe(before);
});
