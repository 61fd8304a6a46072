/**
 * What a campaign simulation needs from the emulator: a clock that keeps its speed while the
 * app answers (so the database can follow the same virtual time), a virtual epoch of its
 * choosing, a party decided per dial, a person who gives up waiting unless someone is heard,
 * and every timeline entry pushed to a listener with its real time.
 */
import { VirtualClock } from '../clock';
import { rig, vr, type Rig } from './helpers';

const realSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('VirtualClock holdsRunRealTime', () => {
  test('by default a hold runs the clock at real time', async () => {
    const c = new VirtualClock(100);
    const release = c.hold();
    const t0 = c.elapsed();
    await realSleep(100);
    const during = c.elapsed() - t0;
    release();
    expect(c.rate()).toBe(100);
    expect(during).toBeGreaterThanOrEqual(90);
    expect(during).toBeLessThan(1000); // ~100 virtual ms, far from the 10 000 at speed
  });

  test('with holdsRunRealTime false a hold keeps the speed, and virtual time stays linear in real time', async () => {
    const c = new VirtualClock(100, Date.UTC(2026, 11, 1, 12), { holdsRunRealTime: false });
    expect(c.holdsRunRealTime).toBe(false);
    const release = c.hold();
    expect(c.held()).toBe(1);
    expect(c.rate()).toBe(100);
    const t0 = c.elapsed();
    await realSleep(100);
    const during = c.elapsed() - t0;
    release();
    expect(c.held()).toBe(0);
    expect(during).toBeGreaterThanOrEqual(9000);
    // now() = epoch + (real now - realEpochMs) * speed, whatever was held meanwhile.
    const real = performance.timeOrigin + performance.now();
    expect(Math.abs(c.now() - (c.epochMs + (real - c.realEpochMs) * 100))).toBeLessThan(100);
  });

  test('a timer armed before a hold fires at the speed while the hold lasts', async () => {
    const c = new VirtualClock(50, Date.now(), { holdsRunRealTime: false });
    const release = c.hold();
    const started = Date.now();
    await c.sleep(5000); // 100 real ms at x50; with a real-time hold it would take 5 s
    release();
    expect(Date.now() - started).toBeLessThan(2000);
    c.stop();
  });
});

describe('startEmulator options for simulations', () => {
  let r: Rig | undefined;
  afterEach(async () => {
    if (r) {
      expect(r.emu.contractViolations()).toEqual([]);
      expect(r.app.requests.every((q) => q.signatureValid)).toBe(true);
      await r.close();
    }
    r = undefined;
  });

  test('epochMs sets the virtual date the calls carry', async () => {
    const epoch = Date.UTC(2026, 11, 1, 12, 0, 0);
    r = await rig({ epochMs: epoch, holdsRunRealTime: false });
    expect(r.emu.clock.epochMs).toBe(epoch);
    r.app.route('/answer', () => vr().hangup());
    const c = await r.client.calls.create({ to: '+5511999990001', from: r.number, url: `${r.app.url}/answer` });
    const done = await r.emu.waitForCall(c.sid);
    expect(done.createdMs).toBeGreaterThanOrEqual(epoch);
    expect(done.createdMs).toBeLessThan(epoch + 60_000);
  });

  test('a party resolver decides each leg: the same number is busy on one dial and answers on the next', async () => {
    const seen: string[] = [];
    let dial = 0;
    r = await rig({
      partyResolver: (address) => {
        if (address !== '+5511999990002') return undefined;
        seen.push(address);
        return dial++ === 0 ? { number: address, outcome: 'busy', answerAfter: 3 } : { number: address, answerAfter: 1 };
      },
    });
    r.app.route('/answer', () => vr().hangup());
    const first = await r.client.calls.create({ to: '+5511999990002', from: r.number, url: `${r.app.url}/answer` });
    const second = await r.client.calls.create({ to: '+5511999990002', from: r.number, url: `${r.app.url}/answer` });
    const other = await r.client.calls.create({ to: '+5511999990003', from: r.number, url: `${r.app.url}/answer` });
    expect((await r.emu.waitForCall(first.sid)).status).toBe('busy');
    expect((await r.emu.waitForCall(second.sid)).status).toBe('completed');
    expect((await r.emu.waitForCall(other.sid)).status).toBe('completed'); // not resolved: the default party
    expect(seen).toEqual(['+5511999990002', '+5511999990002']);
    // The busy signal came after the 3 s of ringing the party was given.
    const tl = r.emu.timeline(first.sid).filter((e) => e.type === 'status');
    const ringing = tl.find((e) => e.status === 'ringing')!.t;
    const busy = tl.find((e) => e.status === 'busy')!.t;
    expect(busy - ringing).toBeGreaterThanOrEqual(2900);
    expect(busy - ringing).toBeLessThan(4000);
  });

  test('patienceSeconds: counted from the end of the first document; a person left waiting hangs up, one who hears someone stays', async () => {
    r = await rig();
    const rig_ = r;
    // A 5 s disclaimer, then a wait with nobody there.
    rig_.app.route('/wait', () => {
      const t = vr();
      t.pause({ length: 5 });
      t.redirect('/hold');
      return t;
    });
    rig_.app.route('/hold', () => vr().pause({ length: 60 }));
    rig_.app.route('/bridge', () => {
      const t = vr();
      t.dial().number('+5511988887777');
      return t;
    });
    rig_.emu.addParty({ number: '+5511999990004', answerAfter: 1, patienceSeconds: 8 });
    rig_.emu.addParty({ number: '+5511999990005', answerAfter: 1, patienceSeconds: 8 });
    rig_.emu.addParty({ number: '+5511988887777', answerAfter: 1, hangupAfter: 20 });
    const waiting = await rig_.client.calls.create({ to: '+5511999990004', from: rig_.number, url: `${rig_.app.url}/wait` });
    const bridged = await rig_.client.calls.create({ to: '+5511999990005', from: rig_.number, url: `${rig_.app.url}/bridge` });
    const w = await rig_.emu.waitForCall(waiting.sid);
    const b = await rig_.emu.waitForCall(bridged.sid);
    expect(w.status).toBe('completed');
    expect(w.durationS).toBeGreaterThanOrEqual(12); // 5 s of disclaimer + 8 s of patience
    expect(w.durationS).toBeLessThanOrEqual(15);
    expect(rig_.emu.timeline(waiting.sid).some((e) => e.type === 'party' && /gives up waiting/.test(e.text))).toBe(true);
    expect(b.durationS).toBeGreaterThanOrEqual(18); // the agent's 20 s call, not the 8 s patience
    expect(rig_.emu.timeline(bridged.sid).some((e) => /gives up waiting/.test(e.text))).toBe(false);
  });

  test('onEvent hands every timeline entry to listeners, with its real time, until unsubscribed', async () => {
    r = await rig();
    const got: { type: string; realMs: number; direction: string }[] = [];
    const off = r.emu.onEvent((e, call) => got.push({ type: e.type, realMs: e.realMs, direction: call.direction }));
    r.app.route('/answer', () => vr().say('Olá'));
    const before = Date.now();
    const c = await r.client.calls.create({ to: '+5511999990006', from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(c.sid);
    off();
    const count = got.length;
    expect(got.map((g) => g.type)).toEqual(expect.arrayContaining(['status', 'webhook', 'verb']));
    expect(got.every((g) => g.direction === 'outbound-api' && g.realMs >= before - 5 && g.realMs <= Date.now() + 5)).toBe(true);
    const again = await r.client.calls.create({ to: '+5511999990006', from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(again.sid);
    expect(got).toHaveLength(count);
  });
});
