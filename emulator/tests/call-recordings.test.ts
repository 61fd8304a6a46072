/**
 * The Calls Recordings resource (start / pause / resume / stop a live call's recording), against
 * Twilio's documented behaviour (sources in emulator/README.md, "Conformance").
 */
import { probeAudio } from '../audio';
import { rig, rigPerTest, vr, type Rig } from './helpers';

const CUSTOMER = '+5511999990001';
let r: Rig;

rigPerTest(() => r, (x) => (r = x));

/** Waits `s` virtual seconds. */
const virtual = (s: number) => r.emu.clock.sleep(s * 1000);

/** An outbound call the customer answers, which then stays up (a long pause). */
async function liveCall(): Promise<string> {
  r.emu.addParty({ number: CUSTOMER });
  r.app.route('/answer', () => vr().pause({ length: 600 }));
  const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer` });
  await r.emu.waitForCall(c.sid, (v) => v.status === 'in-progress');
  return c.sid;
}

/** Recording status callbacks the app received, as their parameters. */
const callbacks = (path = '/rec') => r.app.to(path).map((q) => q.params);

/** A raw REST request (to break the contract on purpose). */
async function raw(method: string, path: string, form?: Record<string, string>) {
  const res = await fetch(`${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}${path}`, {
    method, body: form ? new URLSearchParams(form).toString() : undefined,
    headers: { Authorization: 'Basic ' + Buffer.from(`${r.emu.accountSid}:${r.emu.authToken}`).toString('base64'), 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

describe('Calls Recordings create', () => {
  test('on an in-progress call: a dual StartCallRecordingAPI recording, signed in-progress and completed callbacks, 2-channel media when the call ends', async () => {
    const sid = await liveCall();
    const rec = await r.client.calls(sid).recordings.create({
      recordingChannels: 'dual', recordingTrack: 'both', trim: 'do-not-trim', recordingStatusCallback: `${r.app.url}/rec`,
      recordingStatusCallbackMethod: 'POST', recordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'],
    });
    expect(rec).toMatchObject({ callSid: sid, accountSid: r.emu.accountSid, status: 'in-progress', channels: 2, source: 'StartCallRecordingAPI', track: 'both', duration: null });
    expect(rec.sid).toMatch(/^RE[0-9a-f]{32}$/);
    expect(rec.uri).toBe(`/2010-04-01/Accounts/${r.emu.accountSid}/Calls/${sid}/Recordings/${rec.sid}.json`);
    // media is not served while the recording runs
    expect((await fetch(`${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}/Recordings/${rec.sid}.wav`)).status).toBe(404);
    await virtual(10);
    await r.client.calls(sid).update({ status: 'completed' });
    await r.emu.waitForCall(sid);
    const cbs = callbacks();
    expect(cbs.map((p) => p.RecordingStatus)).toEqual(['in-progress', 'completed']);
    expect(r.app.to('/rec').every((q) => q.signatureValid && q.method === 'POST')).toBe(true);
    const done = cbs[1] as Record<string, string>;
    expect(Object.keys(done).sort()).toEqual([
      'AccountSid', 'CallSid', 'ErrorCode', 'RecordingChannels', 'RecordingDuration', 'RecordingSid', 'RecordingSource', 'RecordingStartTime',
      'RecordingStatus', 'RecordingTrack', 'RecordingUrl',
    ]);
    expect(done).toMatchObject({
      AccountSid: r.emu.accountSid, CallSid: sid, RecordingSid: rec.sid, RecordingChannels: '2', RecordingSource: 'StartCallRecordingAPI',
      RecordingTrack: 'both', ErrorCode: '0', RecordingUrl: `${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}/Recordings/${rec.sid}`,
    });
    expect(done.RecordingStartTime).toMatch(/\+0000$/);
    expect(Number(done.RecordingDuration)).toBeGreaterThanOrEqual(9);
    const wav = Buffer.from(await (await fetch(`${done.RecordingUrl}.wav`)).arrayBuffer());
    expect(probeAudio(wav)).toMatchObject({ format: 'wav', channels: 2 });
    expect(Math.abs((probeAudio(wav)?.seconds ?? 0) - Number(done.RecordingDuration))).toBeLessThan(0.01);
    expect(probeAudio(Buffer.from(await (await fetch(`${done.RecordingUrl}.mp3`)).arrayBuffer()))).toMatchObject({ format: 'mp3', channels: 2 });
    // the Recordings resource and the call's list show it completed
    expect(await r.client.recordings(rec.sid).fetch()).toMatchObject({ status: 'completed', source: 'StartCallRecordingAPI', channels: 2, duration: done.RecordingDuration, callSid: sid });
    const listed = await r.client.calls(sid).recordings.list();
    expect(listed.map((x) => [x.sid, x.status, x.duration])).toEqual([[rec.sid, 'completed', done.RecordingDuration]]);
  });

  test('mono by default, callback events default to completed, inbound track kept, GET callback when asked', async () => {
    const sid = await liveCall();
    const rec = await r.client.calls(sid).recordings.create({ recordingStatusCallback: `${r.app.url}/rec`, recordingStatusCallbackMethod: 'GET', recordingTrack: 'inbound' });
    expect(rec).toMatchObject({ channels: 1, track: 'inbound', status: 'in-progress' });
    await virtual(3);
    await r.client.calls(sid).update({ status: 'completed' });
    await r.emu.waitForCall(sid);
    expect(callbacks().map((p) => [p.RecordingStatus, p.RecordingChannels, p.RecordingTrack])).toEqual([['completed', '1', 'inbound']]);
    expect(r.app.to('/rec').map((q) => [q.method, q.signatureValid])).toEqual([['GET', true]]);
    const wav = Buffer.from(await (await fetch(`${callbacks()[0]?.RecordingUrl}.wav`)).arrayBuffer());
    expect(probeAudio(wav)).toMatchObject({ channels: 1 });
  });

  test('a call that is not in-progress cannot be recorded (21220) and nothing is created', async () => {
    r.emu.addParty({ number: CUSTOMER, answerAfter: 30 });
    const ringing = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer` });
    await r.emu.waitForCall(ringing.sid, (v) => v.status === 'ringing');
    await expect(r.client.calls(ringing.sid).recordings.create({ recordingChannels: 'dual' })).rejects.toMatchObject({ status: 400, code: 21220 });
    await r.client.calls(ringing.sid).update({ status: 'canceled' });
    await r.emu.waitForCall(ringing.sid);
    const sid = await liveCall();
    await r.client.calls(sid).update({ status: 'completed' });
    await r.emu.waitForCall(sid);
    await expect(r.client.calls(sid).recordings.create({ recordingChannels: 'dual', recordingStatusCallback: `${r.app.url}/rec` })).rejects.toMatchObject({ status: 400, code: 21220 });
    await expect(r.client.calls('CA' + '0'.repeat(32)).recordings.create({})).rejects.toMatchObject({ status: 404, code: 20404 });
    expect(r.emu.recordings()).toEqual([]);
    expect(r.app.to('/rec')).toEqual([]);
  });
});

describe('Calls Recordings update', () => {
  test('pause with skip leaves the paused time out; resume; stop (by Twilio.CURRENT) completes it before the call ends', async () => {
    const sid = await liveCall();
    const rec = await r.client.calls(sid).recordings.create({ recordingChannels: 'dual', recordingStatusCallback: `${r.app.url}/rec` });
    await virtual(5);
    expect(await r.client.calls(sid).recordings(rec.sid).update({ status: 'paused', pauseBehavior: 'skip' })).toMatchObject({ status: 'paused' });
    expect((await r.client.recordings(rec.sid).fetch()).status).toBe('paused');
    await virtual(20);
    expect(await r.client.calls(sid).recordings(rec.sid).update({ status: 'in-progress' })).toMatchObject({ status: 'in-progress' });
    await virtual(5);
    expect(await r.client.calls(sid).recordings('Twilio.CURRENT').update({ status: 'stopped' })).toMatchObject({ sid: rec.sid, status: 'stopped' });
    const after = await r.client.calls(sid).recordings(rec.sid).fetch();
    expect(after.status).toBe('completed');
    // 5 s + 5 s recorded; the 20 s pause is skipped
    expect(Number(after.duration)).toBeGreaterThanOrEqual(9);
    expect(Number(after.duration)).toBeLessThanOrEqual(12);
    expect(callbacks().map((p) => [p.RecordingStatus, p.RecordingDuration])).toEqual([['completed', after.duration]]);
    // the call is still up; a stopped recording cannot be resumed; no running recording for Twilio.CURRENT
    expect((await r.client.calls(sid).fetch()).status).toBe('in-progress');
    await expect(r.client.calls(sid).recordings(rec.sid).update({ status: 'in-progress' })).rejects.toMatchObject({ status: 400, code: 21220 });
    await expect(r.client.calls(sid).recordings('Twilio.CURRENT').update({ status: 'paused' })).rejects.toMatchObject({ status: 404 });
    await r.client.calls(sid).update({ status: 'completed' });
    await r.emu.waitForCall(sid);
    expect(callbacks()).toHaveLength(1);
  });

  test('pause with silence (the default) keeps the paused time; the call ending while paused completes it', async () => {
    const sid = await liveCall();
    const rec = await r.client.calls(sid).recordings.create({ recordingStatusCallback: `${r.app.url}/rec` });
    await virtual(5);
    await r.client.calls(sid).recordings(rec.sid).update({ status: 'paused' });
    await virtual(10);
    await r.client.calls(sid).update({ status: 'completed' });
    await r.emu.waitForCall(sid);
    const [done] = callbacks();
    expect(done?.RecordingStatus).toBe('completed');
    expect(Number(done?.RecordingDuration)).toBeGreaterThanOrEqual(14);
    expect((await r.client.recordings(rec.sid).fetch()).status).toBe('completed');
  });
});

describe('Calls Recordings contract', () => {
  test('unknown parameters (PlayBeep), bad enums, bad values: refused, nothing recorded', async () => {
    const sid = await liveCall();
    const path = `/Calls/${sid}/Recordings.json`;
    expect(await raw('POST', path, { PlayBeep: 'true' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('POST', path, { RecordingStatusCallbackMethod: 'PUT' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('POST', path, { RecordingStatusCallback: 'not a url' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(r.emu.contractViolations().map((v) => v.operation)).toEqual(['CreateCallRecording', 'CreateCallRecording', 'CreateCallRecording']);
    // values the contract leaves free but Twilio accepts only from a list
    const bad: Record<string, string>[] = [{ RecordingChannels: 'stereo' }, { RecordingTrack: 'left' }, { Trim: 'yes' }, { RecordingStatusCallbackEvent: 'paused' }];
    for (const form of bad) {
      const res = await raw('POST', path, form);
      expect(res).toMatchObject({ status: 400, json: { code: 20001 } });
      expect(String(res.json.message)).toMatch(new RegExp(`Invalid ${Object.keys(form)[0]}`));
    }
    expect(r.emu.recordings()).toEqual([]);
    const rec = await r.client.calls(sid).recordings.create({});
    expect(await raw('POST', `/Calls/${sid}/Recordings/${rec.sid}.json`, {})).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('POST', `/Calls/${sid}/Recordings/${rec.sid}.json`, { Status: 'completed' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('POST', `/Calls/${sid}/Recordings/${rec.sid}.json`, { Status: 'paused', PauseBehavior: 'drop' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect((await r.client.recordings(rec.sid).fetch()).status).toBe('in-progress');
    expect(r.emu.contractViolations().map((v) => v.operation)).toEqual(['CreateCallRecording', 'CreateCallRecording', 'CreateCallRecording', 'UpdateCallRecording']);
    await r.client.calls(sid).update({ status: 'completed' });
    await r.emu.waitForCall(sid);
    // the violations above were on purpose: the per-test check runs on a fresh rig
    await r.close();
    r = await rig();
  });
});
