/**
 * Twilio behaviours a flow could get wrong locally and pay for in production: each test pins one documented rule
 * (sources in emulator/README.md, "Conformance").
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rig, rigPerTest, vr, verbs, type Rig } from './helpers';

const CUSTOMER = '+5511999990001';
const AGENT = '+5511988887777';
const US = '+14155550100';
let r: Rig;

rigPerTest(() => r, (x) => (r = x));

const statusOf = (sid: string) => r.app.to('/status').filter((q) => q.params.CallSid === sid).map((q) => q.params.CallStatus);
const errors = (sid: string) => r.emu.timeline(sid, { children: true }).filter((e) => e.errorCode).map((e) => e.errorCode);

describe('calls cancelled while queued', () => {
  test('a call cancelled in the CPS queue ends canceled with no status callback; the call placed before it gets its callbacks', async () => {
    await r.close();
    r = await rig({ cps: 0.02 }); // one call every 50 virtual seconds: the second waits in the queue
    r.app.route('/answer', () => vr().say('oi'));
    const params = { to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, statusCallback: `${r.app.url}/status`, statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'] };
    const first = await r.client.calls.create(params);
    const second = await r.client.calls.create(params);
    expect(second.status).toBe('queued');
    await r.client.calls(second.sid).update({ status: 'canceled' });
    await r.emu.waitForCall(second.sid);
    await r.emu.waitForCall(first.sid);
    expect((await r.client.calls(second.sid).fetch()).status).toBe('canceled');
    expect(statusOf(second.sid)).toEqual([]);
    expect(r.app.to('/answer').map((q) => q.params.CallSid)).toEqual([first.sid]);
    expect(statusOf(first.sid)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
  });

  test('a ringing call cancelled is a different case: its completed callback says canceled', async () => {
    r.emu.addParty({ number: CUSTOMER, answerAfter: 30 });
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, statusCallback: `${r.app.url}/status` });
    await r.emu.waitForCall(c.sid, (v) => v.status === 'ringing');
    await r.client.calls(c.sid).update({ status: 'canceled' });
    await r.emu.waitForCall(c.sid);
    expect(statusOf(c.sid)).toEqual(['canceled']);
  });
});

describe('geographic permissions', () => {
  test('Calls create to a country not enabled: 400 / 21215 and no call; enabling the country lets it through', async () => {
    await expect(r.client.calls.create({ to: US, from: r.number, url: `${r.app.url}/answer` })).rejects.toMatchObject({ status: 400, code: 21215 });
    expect(r.emu.calls()).toEqual([]);
    r.emu.configureAccount(r.emu.accountSid, { dialingPermissions: ['BR', 'US'] });
    const c = await r.client.calls.create({ to: US, from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(c.sid);
    expect((await r.client.calls(c.sid).fetch()).status).toBe('completed');
  });

  test('a subaccount inherits its main account permissions unless it has its own', async () => {
    const sub = r.emu.createSubaccount('tenant');
    r.emu.addNumber({ accountSid: sub.sid, phoneNumber: '+551130000077' });
    const call = () => r.client.api.v2010.accounts(sub.sid).calls.create({ to: US, from: '+551130000077', twiml: '<Response/>' });
    await expect(call()).rejects.toMatchObject({ code: 21215 });
    r.emu.configureAccount(r.emu.accountSid, { dialingPermissions: ['*'] });
    await expect(call()).resolves.toMatchObject({ status: 'queued' });
    r.emu.configureAccount(sub.sid, { dialingPermissions: ['BR'] });
    await expect(call()).rejects.toMatchObject({ code: 21215 });
    await r.emu.waitUntilIdle();
  });

  test('<Dial> to a country not enabled: 13227, the child leg fails, DialCallStatus=failed', async () => {
    r.app.route('/inbound', () => {
      const t = vr();
      t.dial({ action: '/dial-result' }).number(US);
      return t;
    });
    r.app.route('/dial-result', () => vr().hangup());
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-result')[0]?.params.DialCallStatus).toBe('failed');
    const child = r.emu.calls().find((c) => c.parentCallSid === sid);
    expect(child).toMatchObject({ to: US, status: 'failed', durationS: 0 });
    expect(errors(sid)).toContain(13227);
  });
});

describe('ring timeouts carry Twilio 5 s buffer', () => {
  test('Calls Timeout=10: a party answering at 12 s is answered; one that would answer at 16 s is no-answer after ~15 s of ringing', async () => {
    r.app.route('/answer', () => vr().say('oi'));
    r.emu.addParty({ number: CUSTOMER, answerAfter: 12 });
    const a = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, timeout: 10 });
    await r.emu.waitForCall(a.sid);
    expect((await r.client.calls(a.sid).fetch()).status).toBe('completed');

    r.emu.addParty({ number: AGENT, answerAfter: 16 });
    const b = await r.client.calls.create({ to: AGENT, from: r.number, url: `${r.app.url}/answer`, timeout: 10 });
    await r.emu.waitForCall(b.sid);
    expect((await r.client.calls(b.sid).fetch()).status).toBe('no-answer');
    const tl = r.emu.timeline(b.sid);
    const rang = (tl.find((e) => e.status === 'ringing')?.t ?? 0) / 1000;
    const ended = (tl.find((e) => e.status === 'no-answer')?.t ?? 0) / 1000;
    expect(ended - rang).toBeGreaterThan(14.5);
    expect(ended - rang).toBeLessThan(16);
  });

  test('<Dial timeout=10>: a callee answering at 13 s is bridged', async () => {
    r.emu.addParty({ number: AGENT, answerAfter: 13, talkSeconds: 2 });
    r.app.route('/inbound', () => {
      const t = vr();
      t.dial({ action: '/dial-result', timeout: 10 }).number(AGENT);
      return t;
    });
    r.app.route('/dial-result', () => vr().hangup());
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-result')[0]?.params).toMatchObject({ DialCallStatus: 'completed', DialBridged: 'true' });
  });
});

describe('caller IDs', () => {
  test('Calls create From: a number of the account or a verified caller ID; anything else 21210', async () => {
    await expect(r.client.calls.create({ to: CUSTOMER, from: '+551130009999', url: `${r.app.url}/answer` })).rejects.toMatchObject({ status: 400, code: 21210 });
    r.emu.configureAccount(r.emu.accountSid, { verifiedCallerIds: ['+551130009999'] });
    const c = await r.client.calls.create({ to: CUSTOMER, from: '+551130009999', url: `${r.app.url}/answer` });
    await r.emu.waitForCall(c.sid);
    expect((await r.client.calls(c.sid).fetch()).from).toBe('+551130009999');
  });

  test('<Dial callerId> not owned, verified, calling or called: 13214, nothing dialed, DialCallStatus=failed', async () => {
    r.app.route('/inbound', () => {
      const t = vr();
      t.dial({ action: '/dial-result', callerId: '+551130009999' }).number(AGENT);
      return t;
    });
    r.app.route('/dial-result', () => vr().hangup());
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-result')[0]?.params.DialCallStatus).toBe('failed');
    expect(r.emu.calls().filter((c) => c.parentCallSid === sid)).toEqual([]);
    expect(errors(sid)).toContain(13214);
  });

  test('<Dial callerId> equal to the calling number is accepted', async () => {
    r.emu.addParty({ number: AGENT, talkSeconds: 1 });
    r.app.route('/inbound', () => {
      const t = vr();
      t.dial({ action: '/dial-result', callerId: CUSTOMER }).number(AGENT);
      return t;
    });
    r.app.route('/dial-result', () => vr().hangup());
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-result')[0]?.params.DialCallStatus).toBe('completed');
    expect(r.emu.calls().find((c) => c.parentCallSid === sid)?.from).toBe(CUSTOMER);
  });
});

describe('verb allow-lists', () => {
  function dialWithWhisper(whisper: string) {
    r.app.route('/inbound', () => {
      const t = vr();
      t.dial({ action: '/dial-result' }).number({ url: '/whisper' }, AGENT);
      return t;
    });
    r.app.route('/whisper', () => whisper);
    r.app.route('/dial-result', () => vr().hangup());
  }

  test.each([
    ['<Dial>', '<Response><Dial>+5511977776666</Dial></Response>'],
    ['<Pause>', '<Response><Pause length="1"/><Say>oi</Say></Response>'],
    ['<Redirect>', '<Response><Redirect>/elsewhere</Redirect></Response>'],
  ])('a <Number url> document with %s is refused (12100): the callee is not bridged', async (_name, whisper) => {
    r.emu.addParty({ number: AGENT, talkSeconds: 5 });
    dialWithWhisper(whisper);
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-result')[0]?.params).toMatchObject({ DialCallStatus: 'no-answer', DialBridged: 'false' });
    expect(errors(sid)).toContain(12100);
    expect(r.app.to('/elsewhere')).toEqual([]);
  });

  test('a <Number url> document with Say, Gather and Hangup runs', async () => {
    r.emu.addParty({ number: AGENT, talkSeconds: 2, gather: ['1'] });
    dialWithWhisper('<Response><Say>cliente</Say><Gather numDigits="1" timeout="3"><Play digits="1"/></Gather></Response>');
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-result')[0]?.params.DialCallStatus).toBe('completed');
    expect(errors(sid)).toEqual([]);
  });

  function queueApp(announce: string) {
    r.app.route('/inbound', () => {
      const t = vr();
      t.enqueue({ action: '/queue-result' }, 'suporte');
      return t;
    });
    r.app.route('/queue-result', () => vr().hangup());
    r.app.route('/agent', () => {
      const t = vr();
      t.dial({ action: '/agent-done' }).queue({ url: '/announce' }, 'suporte');
      return t;
    });
    r.app.route('/announce', () => announce);
    r.app.route('/agent-done', () => vr().hangup());
  }

  test('<Queue url> gets QueueSid, CallSid (the caller), QueueTime and DequeingCallSid; Say and Pause run', async () => {
    r.emu.addParty({ number: AGENT, talkSeconds: 2 });
    queueApp('<Response><Say>conectando</Say><Pause length="1"/></Response>');
    const caller = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(caller, (v) => v.status === 'in-progress' && r.emu.queues()[0]?.members.length === 1);
    const agent = await r.client.calls.create({ to: AGENT, from: r.number, url: `${r.app.url}/agent` });
    await r.emu.waitForCall(agent.sid);
    await r.emu.waitForCall(caller);
    const p = r.app.to('/announce')[0]?.params;
    expect(p).toMatchObject({ CallSid: caller, QueueSid: r.emu.queues()[0]?.sid, DequeingCallSid: agent.sid });
    expect(Number(p?.QueueTime)).toBeGreaterThanOrEqual(0);
    expect(verbs(r.emu, caller)).toEqual(expect.arrayContaining(['Say:conectando', 'Pause:1']));
    expect(r.app.to('/agent-done')[0]?.params.DialCallStatus).toBe('completed');
  });

  test('a <Queue url> document with <Gather> is refused: 12100, the caller hears the application error, no bridge', async () => {
    queueApp('<Response><Gather numDigits="1"/></Response>');
    const caller = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(caller, (v) => v.status === 'in-progress' && r.emu.queues()[0]?.members.length === 1);
    const agent = await r.client.calls.create({ to: AGENT, from: r.number, url: `${r.app.url}/agent` });
    await r.emu.waitForCall(agent.sid);
    await r.emu.waitForCall(caller);
    expect(errors(caller)).toContain(12100);
    expect(verbs(r.emu, caller)).toContain('Say:We are sorry, an application error has occurred. Goodbye.');
    expect(r.app.to('/agent-done')[0]?.params).toMatchObject({ DialBridged: 'false' });
  });
});

describe('queues', () => {
  function enqueueApp(wait: () => string | { status: number; body?: string }) {
    r.app.route('/inbound', () => {
      const t = vr();
      t.enqueue({ action: '/queue-result', waitUrl: '/wait' }, 'suporte');
      t.say('depois da fila');
      return t;
    });
    r.app.route('/wait', wait);
    r.app.route('/queue-result', () => vr().say('resultado'));
  }

  test.each([
    ['answers 500', () => ({ status: 500, body: 'boom' })],
    ['returns a verb not allowed there (<Dial>)', () => '<Response><Dial>+5511977776666</Dial></Response>'],
    ['returns invalid XML', () => '<Response><Say>'],
  ])('a waitUrl that %s: the caller leaves the queue with QueueResult=error', async (_name, wait) => {
    enqueueApp(wait);
    const caller = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(caller);
    expect(r.app.to('/queue-result')[0]?.params).toMatchObject({ QueueResult: 'error', CallSid: caller });
    expect(r.emu.queues()[0]?.members).toEqual([]);
    expect(verbs(r.emu, caller)).toContain('Say:resultado');
  });

  test('<Dial><Queue> naming a queue that does not exist fails at once (DialCallStatus=failed), without waiting the timeout', async () => {
    r.app.route('/agent', () => {
      const t = vr();
      t.dial({ action: '/agent-done', timeout: 60 }).queue('nao-existe');
      return t;
    });
    r.app.route('/agent-done', () => vr().hangup());
    const agent = await r.client.calls.create({ to: AGENT, from: r.number, url: `${r.app.url}/agent` });
    await r.emu.waitForCall(agent.sid);
    expect(r.app.to('/agent-done')[0]?.params.DialCallStatus).toBe('failed');
    expect(errors(agent.sid)).toContain(12100);
    expect(r.emu.queues()).toEqual([]);
    expect((await r.client.calls(agent.sid).fetch()).duration).not.toBe(null);
    expect(Number((await r.client.calls(agent.sid).fetch()).duration)).toBeLessThan(30);
  });

  test('a queue made by <Enqueue> holds 1000 callers; the 1001st gets QueueResult=queue-full', async () => {
    await r.close();
    r = await rig({ speed: 200 });
    r.app.route('/inbound', () => {
      const t = vr();
      t.enqueue({ action: '/queue-result' }, 'grande');
      return t;
    });
    r.app.route('/queue-result', () => vr().hangup());
    for (let i = 0; i < 1000; i++) await r.emu.placeInboundCall({ from: `+55119${String(10000000 + i)}`, to: r.number });
    const deadline = Date.now() + 60000;
    while ((r.emu.queues()[0]?.members.length ?? 0) < 1000 && Date.now() < deadline) await new Promise((x) => setTimeout(x, 50));
    expect(r.emu.queues()[0]).toMatchObject({ maxSize: 1000 });
    expect(r.emu.queues()[0]?.members).toHaveLength(1000);
    expect(r.app.to('/queue-result')).toEqual([]);
    const last = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(last);
    expect(r.app.to('/queue-result').map((q) => [q.params.CallSid, q.params.QueueResult])).toEqual([[last, 'queue-full']]);
    expect(errors(last)).toContain(14207);
  }, 120000);
});

describe('TwiML size limits', () => {
  const say = (n: number) => `<Response><Say>${'a'.repeat(n - '<Response><Say></Say></Response>'.length)}</Say></Response>`;

  test('Calls create Twiml of 4001 characters: 400 / 32018 and no call; 4000 is accepted', async () => {
    expect(say(4001)).toHaveLength(4001);
    await expect(r.client.calls.create({ to: CUSTOMER, from: r.number, twiml: say(4001) })).rejects.toMatchObject({ status: 400, code: 32018 });
    expect(r.emu.calls()).toEqual([]);
    const ok = await r.client.calls.create({ to: CUSTOMER, from: r.number, twiml: say(4000) });
    await r.emu.waitForCall(ok.sid, (v) => v.status === 'in-progress');
    await r.client.calls(ok.sid).update({ status: 'completed' });
    await r.emu.waitForCall(ok.sid);
  });

  test('Calls update Twiml of 4001 characters: 400 / 32018 and the call goes on unchanged', async () => {
    r.app.route('/answer', () => vr().pause({ length: 30 }));
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(c.sid, (v) => v.status === 'in-progress');
    await expect(r.client.calls(c.sid).update({ twiml: say(4001) })).rejects.toMatchObject({ status: 400, code: 32018 });
    expect(r.emu.timeline(c.sid).some((e) => e.text.includes('TwiML via REST'))).toBe(false);
    await r.client.calls(c.sid).update({ status: 'completed' });
    await r.emu.waitForCall(c.sid);
  });

  test('a fetched document may be far longer than 4000 characters, but not over 64 kB (11750, application error)', async () => {
    r.app.route('/answer', () => say(20000));
    const a = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(a.sid, (v) => v.status === 'in-progress' && verbs(r.emu, a.sid).length > 0);
    expect(errors(a.sid)).toEqual([]);
    await r.client.calls(a.sid).update({ status: 'completed' });
    await r.emu.waitForCall(a.sid);

    r.app.route('/big', () => say(70 * 1024));
    const b = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/big` });
    await r.emu.waitForCall(b.sid);
    expect(errors(b.sid)).toContain(11750);
    expect(verbs(r.emu, b.sid)).toEqual(['Say:We are sorry, an application error has occurred. Goodbye.']);
  });
});

describe('virtual clock and the app latency', () => {
  test('at speed 200, an answer URL that takes 1 s real costs about 1 virtual second, not 200', async () => {
    await r.close();
    r = await rig({ speed: 200 });
    r.app.route('/answer', () => ({ status: 200, body: '<Response><Pause length="20"/></Response>', contentType: 'text/xml', delayMs: 1000 }));
    const started = Date.now();
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(c.sid);
    const wall = Date.now() - started;
    const hook = r.emu.webhooks().find((w) => w.purpose === 'voice');
    const virtualS = ((hook?.doneAt ?? 0) - (hook?.sentAt ?? 0)) / 1000;
    expect(virtualS).toBeGreaterThanOrEqual(0.95);
    expect(virtualS).toBeLessThan(3);
    const duration = Number((await r.client.calls(c.sid).fetch()).duration);
    expect(duration).toBeGreaterThanOrEqual(21); // 1 s waiting for the app + the 20 s pause
    expect(duration).toBeLessThan(25);
    expect(wall).toBeLessThan(5000); // the pause itself still runs 200x faster
  });
});

describe('connection overrides on callback URLs', () => {
  function failing(path: string, statuses: number[]) {
    let i = 0;
    r.app.route(path, () => ({ status: statuses[i++] ?? 204 }));
  }
  async function callWith(statusCallback: string) {
    r.app.route('/answer', () => vr().say('oi'));
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, statusCallback });
    await r.emu.waitForCall(c.sid);
    return c.sid;
  }

  test('#rc=3&rp=5xx: a 503 is retried with the same idempotency token; the fragment never reaches the app and the signature is of the URL without it', async () => {
    failing('/status', [503, 503]);
    const sid = await callWith(`${r.app.url}/status?x=1#rc=3&rp=5xx`);
    const got = r.app.to('/status');
    expect(got.map((q) => q.params.CallStatus)).toEqual(['completed', 'completed', 'completed']);
    expect(new Set(got.map((q) => q.headers['i-twilio-idempotency-token'])).size).toBe(1);
    expect(got.every((q) => q.url === `${r.app.url}/status?x=1` && q.signatureValid)).toBe(true);
    const sent = r.emu.webhooks().filter((w) => w.purpose === 'status' && w.callSid === sid);
    expect(sent.map((w) => [w.attempt, w.status])).toEqual([[1, 503], [2, 503], [3, 204]]);
    expect(sent.every((w) => !w.url.includes('#'))).toBe(true);
  });

  test('without a fragment a 503 is not retried (Twilio retries only connection failures, once)', async () => {
    failing('/status', [503]);
    await callWith(`${r.app.url}/status`);
    expect(r.app.to('/status')).toHaveLength(1);
  });

  test('#rc=3&rp=ct does not retry a 503; #rc=2&rp=all retries it up to rc times', async () => {
    failing('/status', [503, 503, 503, 503]);
    await callWith(`${r.app.url}/status#rc=3&rp=ct`);
    expect(r.app.to('/status')).toHaveLength(1);
    failing('/status2', [503, 503, 503, 503]);
    await callWith(`${r.app.url}/status2#rc=2&rp=all`);
    expect(r.app.to('/status2')).toHaveLength(3);
  });

  test('a refused connection is retried once by default, not at all with #rc=0', async () => {
    const srv = createServer();
    await new Promise<void>((x) => srv.listen(0, '127.0.0.1', () => x()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((x) => srv.close(x));
    const a = await callWith(`http://127.0.0.1:${port}/status`);
    expect(r.emu.webhooks().filter((w) => w.callSid === a && w.purpose === 'status').map((w) => [w.attempt, w.errorCode])).toEqual([[1, 11205], [2, 11205]]);
    const b = await callWith(`http://127.0.0.1:${port}/status#rc=0`);
    expect(r.emu.webhooks().filter((w) => w.callSid === b && w.purpose === 'status').map((w) => w.attempt)).toEqual([1]);
  });

  test('#tt bounds all attempts together: slow 503s stop being retried when the total time is spent', async () => {
    let n = 0;
    r.app.route('/status', () => ({ status: 503, delayMs: 400, body: String(n++) }));
    await callWith(`${r.app.url}/status#rc=5&rp=5xx&tt=1000`);
    expect(r.app.to('/status').length).toBeGreaterThanOrEqual(2);
    expect(r.app.to('/status').length).toBeLessThanOrEqual(3);
  });

  test('an unknown retry policy is refused with 11243 and nothing is sent', async () => {
    const sid = await callWith(`${r.app.url}/status#rp=sometimes`);
    expect(r.app.to('/status')).toEqual([]);
    expect(r.emu.webhooks().filter((w) => w.callSid === sid && w.purpose === 'status').map((w) => w.errorCode)).toEqual([11243]);
  });
});
