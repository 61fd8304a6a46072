import { rigPerTest, vr, verbs, type Rig } from './helpers';

const CALLER = '+5511999990001';
const AGENT = 'client:ana';
let r: Rig;
rigPerTest(() => r, (x) => (r = x));

function enqueueApp() {
  r.app.route('/inbound', () => {
    const t = vr();
    t.enqueue({ waitUrl: '/wait', action: '/queue-result' }, 'suporte');
    t.say('after queue');
    return t;
  });
  r.app.route('/wait', (q) => vr().say(`posição ${q.params.QueuePosition}`));
  r.app.route('/queue-result', () => vr().hangup());
}

test('waitUrl is re-fetched with queue parameters; Dial Queue bridges; Enqueue action gets QueueResult=bridged', async () => {
  enqueueApp();
  r.emu.addParty({ number: CALLER, hangupAfter: 120 });
  r.emu.addParty({ number: AGENT, talkSeconds: 5 });
  const caller = await r.emu.placeInboundCall({ from: CALLER, to: r.number });
  await r.emu.waitForCall(caller, () => r.app.to('/wait').length >= 3);
  const w = r.app.to('/wait').map((q) => q.params);
  expect(w[0]).toMatchObject({ QueuePosition: '1', CurrentQueueSize: '1', MaxQueueSize: '1000', AvgQueueTime: '0', CallSid: caller });
  expect(w[0]?.QueueSid).toMatch(/^QU[0-9a-f]{32}$/);
  expect(Number(w[2]?.QueueTime)).toBeGreaterThan(Number(w[0]?.QueueTime));
  // REST view of the queue and its members
  const [queue] = await r.client.queues.list();
  expect(queue).toMatchObject({ friendlyName: 'suporte', currentSize: 1, maxSize: 1000 });
  const members = await r.client.queues(queue?.sid as string).members.list();
  expect(members.map((m) => [m.callSid, m.position])).toEqual([[caller, 1]]);
  // an agent call takes the caller: <Dial><Queue url> with the whisper to the caller
  r.app.route('/agent', () => {
    const t = vr();
    t.dial({ action: '/agent-done' }).queue({ url: '/to-caller' }, 'suporte');
    return t;
  });
  r.app.route('/to-caller', () => vr().say('conectando com atendente'));
  r.app.route('/agent-done', () => vr().hangup());
  const agentCall = await r.client.calls.create({ to: AGENT, from: r.number, url: `${r.app.url}/agent` });
  await r.emu.waitForCall(agentCall.sid);
  await r.emu.waitForCall(caller);
  const res = r.app.to('/queue-result')[0]?.params;
  expect(res).toMatchObject({ QueueResult: 'bridged', QueueSid: queue?.sid, CallSid: caller });
  expect(Number(res?.QueueTime)).toBeGreaterThan(0);
  expect(r.app.to('/agent-done')[0]?.params).toMatchObject({ DialCallStatus: 'completed', DialCallSid: caller, DialBridged: 'true' });
  expect(r.app.to('/to-caller')[0]?.params.CallSid).toBe(caller);
  expect(verbs(r.emu, caller)).toContain('Say:conectando com atendente');
  expect(verbs(r.emu, caller)).not.toContain('Say:after queue');
  expect((await r.client.queues(queue?.sid as string).fetch()).currentSize).toBe(0);
});

test('Leave in the wait document: QueueResult=leave; without action the next verb runs', async () => {
  r.app.route('/inbound', () => {
    const t = vr();
    t.enqueue({ waitUrl: '/wait' }, 'vendas');
    t.say('after queue');
    return t;
  });
  let n = 0;
  r.app.route('/wait', () => (++n >= 2 ? vr().leave() : vr().pause({ length: 3 })));
  const caller = await r.emu.placeInboundCall({ from: CALLER, to: r.number });
  await r.emu.waitForCall(caller);
  expect(verbs(r.emu, caller)).toEqual(['Enqueue:vendas', 'Pause:3', 'Leave:', 'Say:after queue']);
});

test('Members dequeue by Front with Url; a queued caller hanging up gives QueueResult=hangup', async () => {
  enqueueApp();
  r.app.route('/wait', () => vr().pause({ length: 2 }));
  r.app.route('/picked', () => vr().say('retirado da fila'));
  r.emu.addParty({ number: '+5511999990002', hangupAfter: 10 });
  const first = await r.emu.placeInboundCall({ from: CALLER, to: r.number });
  const second = await r.emu.placeInboundCall({ from: '+5511999990002', to: r.number });
  await r.emu.waitForCall(second, () => r.emu.queues()[0]?.members.length === 2);
  const q = r.emu.queues()[0]?.sid as string;
  const m = await r.client.queues(q).members('Front').update({ url: `${r.app.url}/picked`, method: 'POST' });
  expect(m.callSid).toBe(first);
  await r.emu.waitForCall(first);
  expect(verbs(r.emu, first)).toContain('Say:retirado da fila');
  expect(r.app.to('/picked')[0]?.params.CallSid).toBe(first);
  await r.emu.waitForCall(second);
  const results = r.app.to('/queue-result').map((x) => [x.params.CallSid, x.params.QueueResult]);
  expect(results).toContainEqual([second, 'hangup']);
  expect(results).toContainEqual([first, 'redirected']);
  await expect(r.client.queues(q).members('Front').update({ url: `${r.app.url}/picked` })).rejects.toMatchObject({ code: 20404 });
});

test('queue-full when MaxSize is reached; Queues create/fetch through REST', async () => {
  const q = await r.client.queues.create({ friendlyName: 'pequena', maxSize: 1 });
  expect(q.sid).toMatch(/^QU/);
  expect((await r.client.queues(q.sid).fetch()).maxSize).toBe(1);
  r.app.route('/inbound', () => {
    const t = vr();
    t.enqueue({ action: '/queue-result', waitUrl: '/wait' }, 'pequena');
    return t;
  });
  r.app.route('/wait', () => vr().pause({ length: 5 }));
  r.app.route('/queue-result', () => vr().hangup());
  r.emu.addParty({ number: CALLER, hangupAfter: 20 });
  const a = await r.emu.placeInboundCall({ from: CALLER, to: r.number });
  await r.emu.waitForCall(a, () => r.emu.queues()[0]?.members.length === 1);
  const b = await r.emu.placeInboundCall({ from: '+5511999990003', to: r.number });
  await r.emu.waitForCall(b);
  expect(r.app.to('/queue-result').find((x) => x.params.CallSid === b)?.params.QueueResult).toBe('queue-full');
  await r.emu.waitUntilIdle();
});
