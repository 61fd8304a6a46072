import { rig, vr, verbs, type Rig } from './helpers';

const CUSTOMER = '+5511999990001';
let r: Rig;
beforeEach(async () => {
  r = await rig();
  r.app.route('/answer', () => vr().say('oi'));
});
afterEach(async () => {
  await r.close();
});

const create = (extra: Record<string, unknown> = {}) =>
  r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, statusCallback: `${r.app.url}/status`, statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'], ...extra });

test('duplicate: the same callback twice with the same I-Twilio-Idempotency-Token', async () => {
  r.emu.addFault({ kind: 'duplicate', purpose: 'status', callStatus: 'completed' });
  const c = await create();
  await r.emu.waitForCall(c.sid);
  const completed = r.app.to('/status').filter((q) => q.params.CallStatus === 'completed');
  expect(completed).toHaveLength(2);
  expect(completed[0]?.params.SequenceNumber).toBe(completed[1]?.params.SequenceNumber);
  expect(completed[0]?.headers['i-twilio-idempotency-token']).toBeTruthy();
  expect(completed[0]?.headers['i-twilio-idempotency-token']).toBe(completed[1]?.headers['i-twilio-idempotency-token']);
});

test('reorder: ringing is held back and arrives after completed', async () => {
  r.emu.addFault({ kind: 'reorder', purpose: 'status', callStatus: 'ringing', delaySeconds: 30 });
  const c = await create();
  await r.emu.waitForCall(c.sid);
  expect(r.app.to('/status').map((q) => q.params.CallStatus)).toEqual(['initiated', 'in-progress', 'completed', 'ringing']);
  expect(r.app.to('/status').map((q) => q.params.SequenceNumber)).toEqual(['0', '2', '3', '1']);
});

test('retry: delivered twice, the retry carries the same idempotency token', async () => {
  r.emu.addFault({ kind: 'retry', url: '/answer' });
  const c = await create();
  await r.emu.waitForCall(c.sid);
  const a = r.app.to('/answer');
  expect(a).toHaveLength(2);
  expect(a[0]?.headers['i-twilio-idempotency-token']).toBe(a[1]?.headers['i-twilio-idempotency-token']);
  expect(verbs(r.emu, c.sid)).toEqual(['Say:oi']);
  expect(r.emu.webhooks().filter((w) => w.purpose === 'voice').map((w) => w.attempt)).toEqual([1, 2]);
});

test('timeout on the answer URL: 15 s of virtual silence, error 11200, application error', async () => {
  r.emu.addFault({ kind: 'timeout', purpose: 'voice' });
  const c = await create();
  await r.emu.waitForCall(c.sid);
  const tl = r.emu.timeline(c.sid);
  const err = tl.find((e) => e.type === 'error' && e.errorCode === 11200);
  expect(err?.text).toMatch(/timeout/);
  const answered = tl.find((e) => e.status === 'in-progress')?.t ?? 0;
  expect(((err?.t ?? 0) - answered) / 1000).toBeGreaterThanOrEqual(15);
  expect(verbs(r.emu, c.sid)).toEqual(['Say:We are sorry, an application error has occurred. Goodbye.']);
});

test('URL fragment #rt= overrides the read timeout', async () => {
  r.emu.addFault({ kind: 'timeout', purpose: 'voice' });
  const c = await create({ url: `${r.app.url}/answer#rt=3000` });
  await r.emu.waitForCall(c.sid);
  const err = r.emu.webhooks().find((w) => w.purpose === 'voice');
  expect(err?.error).toMatch(/3 s/);
  expect(err?.url).toBe(`${r.app.url}/answer`);
});

test('a real slow app (no fault) that exceeds the read timeout (#rt=300) is an 11200 too', async () => {
  r.app.route('/answer', () => ({ status: 200, body: '<Response/>', delayMs: 600 }));
  const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer#rt=300` });
  await r.emu.waitForCall(c.sid);
  expect(r.emu.timeline(c.sid).some((e) => e.errorCode === 11200)).toBe(true);
});
