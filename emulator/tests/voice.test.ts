import { rigPerTest, vr, verbs, type Rig } from './helpers';
import { probeAudio } from '../audio';

const CUSTOMER = '+5511999990001';
const AGENT = '+5511988887777';
let r: Rig;

rigPerTest(() => r, (x) => (r = x));

async function call(params: Record<string, unknown> = {}) {
  const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, ...params });
  await r.emu.waitForCall(c.sid);
  return c.sid;
}

describe('outbound call, status callbacks and voice parameters', () => {
  test('answer URL gets Twilio voice parameters; status callbacks carry sequence, source, duration', async () => {
    r.app.route('/answer', () => vr().say('Olá'));
    r.emu.addParty({ number: CUSTOMER, answerAfter: 2 });
    const sid = await call({ statusCallback: `${r.app.url}/status`, statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'] });
    const [answer] = r.app.to('/answer');
    expect(answer?.params).toMatchObject({
      CallSid: sid, AccountSid: r.emu.accountSid, From: r.number, To: CUSTOMER, CallStatus: 'in-progress', Direction: 'outbound-api', ApiVersion: '2010-04-01',
    });
    const st = r.app.to('/status').map((q) => q.params);
    expect(st.map((p) => p.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    expect(st.map((p) => p.SequenceNumber)).toEqual(['0', '1', '2', '3']);
    for (const p of st) {
      expect(p.CallbackSource).toBe('call-progress-events');
      expect(p.Timestamp).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    }
    expect(Number(st[3]?.CallDuration)).toBeGreaterThanOrEqual(1); // Say of 1 s + webhook latency on the virtual clock
    expect(st[3]?.Duration).toBe(String(Math.ceil(Number(st[3]?.CallDuration) / 60)));
    expect(st[0]?.CallDuration).toBeUndefined();
    const fetched = await r.client.calls(sid).fetch();
    expect(fetched.status).toBe('completed');
    expect(fetched.duration).toBe(st[3]?.CallDuration);
    expect(fetched.direction).toBe('outbound-api');
  });

  test('only completed is sent when StatusCallbackEvent is absent', async () => {
    r.app.route('/answer', () => vr().hangup());
    await call({ statusCallback: `${r.app.url}/status` });
    expect(r.app.to('/status').map((q) => q.params.CallStatus)).toEqual(['completed']);
  });

  test.each([
    ['busy', 'busy'],
    ['failed', 'failed'],
    ['no-answer', 'no-answer'],
  ] as const)('party outcome %s ends the call %s without fetching the answer URL', async (outcome, status) => {
    r.emu.addParty({ number: CUSTOMER, outcome });
    const sid = await call({ statusCallback: `${r.app.url}/status`, timeout: 5 });
    expect(r.app.to('/answer')).toHaveLength(0);
    expect(r.app.to('/status').map((q) => q.params.CallStatus)).toEqual([status]);
    expect((await r.client.calls(sid).fetch()).status).toBe(status);
  });

  test('Twiml parameter runs without a URL', async () => {
    const sid = await call({ url: undefined, twiml: '<Response><Say>inline</Say></Response>' });
    expect(verbs(r.emu, sid)).toEqual(['Say:inline']);
  });

  test('Say duration follows ~15 chars/s and loop; Pause length; Play uses the real asset length', async () => {
    const { synthWav } = await import('../audio');
    r.app.route('/beep.wav', () => ({ status: 200, body: synthWav(1, 1), contentType: 'audio/wav' }));
    r.app.route('/answer', () => {
      const t = vr();
      t.say({ loop: 2, language: 'pt-BR', voice: 'Polly.Camila' }, 'x'.repeat(30));
      t.pause({ length: 4 });
      t.play({ loop: 1 }, '/beep.wav');
      t.play({ digits: 'ww12' });
      return t;
    });
    const sid = await call({ statusCallback: `${r.app.url}/status` });
    const tl = r.emu.timeline(sid).filter((e) => e.type === 'verb');
    expect(tl.map((e) => e.verb)).toEqual(['Say', 'Pause', 'Play', 'Play']);
    expect(tl[0]?.attrs).toMatchObject({ loop: '2', language: 'pt-BR', voice: 'Polly.Camila' });
    const gap = (i: number) => ((tl[i + 1]?.t ?? 0) - (tl[i]?.t ?? 0)) / 1000;
    expect(gap(0)).toBeGreaterThanOrEqual(3.9); // 2 × ceil(30/15)
    expect(gap(0)).toBeLessThan(8);
    expect(gap(1)).toBeGreaterThanOrEqual(3.9);
    expect(gap(2)).toBeGreaterThanOrEqual(0.9);
    expect(gap(2)).toBeLessThan(4.5); // a 1 s asset, not the 5 s default
    expect(tl[2]?.content).toBe(`${r.app.url}/beep.wav`);
    expect(tl[3]?.content).toBe('ww12');
  });
});

describe('Gather', () => {
  test('digits in response to a Gather are posted to action with Digits; nested Say runs', async () => {
    r.emu.addParty({ number: CUSTOMER, gather: ['42#'] });
    r.app.route('/answer', () => {
      const t = vr();
      t.gather({ action: 'next', numDigits: 5, finishOnKey: '#', timeout: 3 }).say('Digite o código');
      t.say('not reached');
      return t;
    });
    r.app.route('/next', (q) => vr().say(`got ${q.params.Digits}`));
    const sid = await call();
    expect(r.app.to('/next')[0]?.params).toMatchObject({ Digits: '42', FinishedOnKey: '#', CallSid: sid });
    expect(verbs(r.emu, sid)).toEqual(['Gather:', 'Say:Digite o código', 'Gather:42', 'Say:got 42']);
  });

  test('numDigits stops collecting; timed digits script reaches a Gather', async () => {
    r.emu.addParty({ number: CUSTOMER, digits: [{ at: 2, digits: '789' }] });
    r.app.route('/answer', () => {
      const t = vr();
      t.gather({ action: '/next', numDigits: 2, timeout: 10 });
      return t;
    });
    await call();
    expect(r.app.to('/next')[0]?.params.Digits).toBe('78');
  });

  test('without input the call continues with the next verb; without action Digits go to the document URL', async () => {
    r.emu.addParty({ number: CUSTOMER, gather: [null, '9'] });
    let n = 0;
    r.app.route('/answer', (q) => {
      n++;
      const t = vr();
      if (q.params.Digits) return t.say(`second pass ${q.params.Digits}`);
      t.gather({ timeout: 2, numDigits: 1 }).say('primeira');
      t.say('fell through');
      t.gather({ timeout: 2, numDigits: 1 }).say('segunda');
      return t;
    });
    const sid = await call();
    expect(n).toBe(2);
    expect(r.app.to('/answer')[1]?.params.Digits).toBe('9');
    expect(verbs(r.emu, sid)).toContain('Say:fell through');
    expect(verbs(r.emu, sid)).toContain('Say:second pass 9');
  });

  test('barge-in: a digit pressed during the prompt stops it', async () => {
    r.emu.addParty({ number: CUSTOMER, gather: [{ digits: '1', afterSeconds: 1 }] });
    r.app.route('/answer', () => {
      const t = vr();
      t.gather({ numDigits: 1, action: '/next' }).say('x'.repeat(300));
      return t;
    });
    const sid = await call();
    const tl = r.emu.timeline(sid);
    const start = tl.find((e) => e.verb === 'Say')?.t ?? 0;
    const got = tl.find((e) => e.verb === 'Gather' && e.content === '1')?.t ?? 0;
    expect((got - start) / 1000).toBeLessThan(8); // the 20 s prompt was cut short
    expect(r.app.to('/next')[0]?.params.Digits).toBe('1');
  });
});

describe('Dial', () => {
  test('Number with whisper url, answerOnBridge, callerId, record-from-answer-dual: action and recording callback', async () => {
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 60 });
    r.emu.addParty({ number: AGENT, answerAfter: 3, talkSeconds: 10, gather: ['1'] });
    r.app.route('/answer', () => {
      const t = vr();
      const d = t.dial({ action: '/dial-result', callerId: r.number, timeout: 20, record: 'record-from-answer-dual', recordingStatusCallback: '/rec', answerOnBridge: true });
      d.number({ url: '/whisper', statusCallback: '/child-status', statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'] }, AGENT);
      t.say('never runs: Dial has an action');
      return t;
    });
    r.app.route('/whisper', () => {
      const t = vr();
      t.gather({ numDigits: 1, action: '/accept', timeout: 3 }).say('Cliente na linha, digite 1');
      t.hangup();
      return t;
    });
    r.app.route('/accept', (q) => (q.params.Digits === '1' ? vr().say('conectando') : vr().hangup()));
    r.app.route('/dial-result', () => vr().hangup());
    const sid = await call();
    const whisper = r.app.to('/whisper')[0]?.params;
    expect(whisper).toMatchObject({ Direction: 'outbound-dial', ParentCallSid: sid, To: AGENT, From: r.number, CallStatus: 'in-progress' });
    const child = whisper?.CallSid as string;
    const res = r.app.to('/dial-result')[0]?.params;
    expect(res).toMatchObject({ DialCallStatus: 'completed', DialCallSid: child, DialBridged: 'true', CallSid: sid });
    expect(Number(res?.DialCallDuration)).toBeGreaterThanOrEqual(10);
    expect(res?.RecordingUrl).toMatch(new RegExp(`^${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}/Recordings/RE[0-9a-f]{32}$`));
    expect(verbs(r.emu, sid)).not.toContain('Say:never runs: Dial has an action');
    const childStatus = r.app.to('/child-status').map((q) => q.params);
    expect(childStatus.map((p) => p.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    expect(childStatus.every((p) => p.ParentCallSid === sid && p.Direction === 'outbound-dial')).toBe(true);
    const rec = r.app.to('/rec')[0]?.params;
    expect(rec).toMatchObject({ RecordingChannels: '2', RecordingSource: 'DialVerb', RecordingStatus: 'completed', CallSid: sid, AccountSid: r.emu.accountSid });
    expect(rec?.RecordingStartTime).toMatch(/\+0000$/);
    expect(Number(rec?.RecordingDuration)).toBeGreaterThanOrEqual(9);
    const wav = Buffer.from(await (await fetch(`${rec?.RecordingUrl}.wav`)).arrayBuffer());
    expect(probeAudio(wav)).toMatchObject({ format: 'wav', channels: 2 });
    expect(Math.abs((probeAudio(wav)?.seconds ?? 0) - Number(rec?.RecordingDuration))).toBeLessThan(0.01);
    const mp3 = Buffer.from(await (await fetch(`${rec?.RecordingUrl}.mp3`)).arrayBuffer());
    expect(probeAudio(mp3)).toMatchObject({ format: 'mp3', channels: 2 });
  });

  test('whisper hang-up makes the Dial see no-answer; busy and no-answer agents', async () => {
    r.emu.addParty({ number: AGENT, gather: [null] });
    r.emu.addParty({ number: '+5511977776666', outcome: 'busy' });
    r.emu.addParty({ number: '+5511966665555', outcome: 'no-answer' });
    let i = 0;
    const targets = [AGENT, '+5511977776666', '+5511966665555'];
    r.app.route('/answer', () => {
      const t = vr();
      t.dial({ action: '/dial-result', timeout: 5 }).number({ url: '/whisper' }, targets[i++] as string);
      return t;
    });
    r.app.route('/whisper', () => {
      const t = vr();
      t.gather({ numDigits: 1, timeout: 2 }).say('digite 1');
      t.hangup();
      return t;
    });
    r.app.route('/dial-result', () => vr().hangup());
    for (let k = 0; k < 3; k++) await call();
    expect(r.app.to('/dial-result').map((q) => [q.params.DialCallStatus, q.params.DialBridged])).toEqual([
      ['no-answer', 'false'], ['busy', 'false'], ['no-answer', 'false'],
    ]);
  });

  test('Dial without action continues with the next verb; Client and Sip nouns; simultaneous ring first answer wins', async () => {
    r.emu.addParty({ number: 'client:maria', answerAfter: 2, talkSeconds: 3 });
    r.emu.addParty({ number: 'sip:ramal@pbx.example.com', answerAfter: 6 });
    r.app.route('/answer', () => {
      const t = vr();
      const d = t.dial({ timeout: 15 });
      d.client('maria');
      d.sip('sip:ramal@pbx.example.com');
      t.say('after dial');
      return t;
    });
    const sid = await call();
    expect(verbs(r.emu, sid)).toContain('Say:after dial');
    const kids = r.emu.calls().filter((c) => c.parentCallSid === sid);
    expect(kids.map((k) => [k.to, k.status]).sort()).toEqual([['client:maria', 'completed'], ['sip:ramal@pbx.example.com', 'canceled']]);
  });

  test('hangupOnStar ends the bridge and the caller continues', async () => {
    r.emu.addParty({ number: CUSTOMER, digits: [{ at: 8, digits: '*' }] });
    r.app.route('/answer', () => {
      const t = vr();
      t.dial({ hangupOnStar: true }).number(AGENT);
      t.say('back');
      return t;
    });
    const sid = await call();
    expect(verbs(r.emu, sid)).toContain('Say:back');
    const kid = r.emu.calls().find((c) => c.parentCallSid === sid);
    expect(kid?.status).toBe('completed');
  });

  test('sendDigits and record-from-ringing', async () => {
    r.emu.addParty({ number: AGENT, answerAfter: 4, talkSeconds: 2 });
    r.app.route('/answer', () => {
      const t = vr();
      t.dial({ record: 'record-from-ringing', recordingStatusCallback: '/rec' }).number({ sendDigits: 'ww123' }, AGENT);
      return t;
    });
    const sid = await call();
    const kid = r.emu.calls().find((c) => c.parentCallSid === sid);
    expect(r.emu.timeline(kid?.sid as string).some((e) => e.verb === 'sendDigits' && e.content === 'ww123')).toBe(true);
    const rec = r.app.to('/rec')[0]?.params;
    expect(rec?.RecordingChannels).toBe('1');
    expect(Number(rec?.RecordingDuration)).toBeGreaterThanOrEqual(6);
  });
});

describe('Record, Redirect, Hangup, Reject, errors', () => {
  test('Record posts RecordingUrl/Duration/Digits and sends a RecordVerb recording callback', async () => {
    r.emu.addParty({ number: CUSTOMER, record: { speakSeconds: 7, then: 'key', key: '#' } });
    r.app.route('/answer', () => {
      const t = vr();
      t.record({ maxLength: 30, timeout: 3, finishOnKey: '#', playBeep: true, action: '/recorded', recordingStatusCallback: '/rec' });
      return t;
    });
    r.app.route('/recorded', () => vr().hangup());
    const sid = await call();
    const p = r.app.to('/recorded')[0]?.params;
    expect(p).toMatchObject({ Digits: '#', CallSid: sid });
    expect(Number(p?.RecordingDuration)).toBeGreaterThanOrEqual(6);
    const rec = r.app.to('/rec')[0]?.params;
    expect(rec).toMatchObject({ RecordingSource: 'RecordVerb', RecordingChannels: '1', RecordingStatus: 'completed', RecordingSid: p?.RecordingSid });
    const fetched = await r.client.recordings(p?.RecordingSid as string).fetch();
    expect(fetched.callSid).toBe(sid);
    expect(fetched.source).toBe('RecordVerb');
  });

  test('Record: maxLength caps, hang-up gives Digits=hangup', async () => {
    r.emu.addParty({ number: CUSTOMER, record: { speakSeconds: 5, then: 'hangup' } });
    r.app.route('/answer', () => vr().record({ maxLength: 60, action: '/recorded' }));
    const sid = await call();
    expect(r.app.to('/recorded')[0]?.params.Digits).toBe('hangup');
    expect((await r.client.calls(sid).fetch()).status).toBe('completed');
  });

  test('Redirect resolves relative URLs against the document and uses its method', async () => {
    r.app.route('/answer', () => {
      const t = vr();
      t.redirect({ method: 'GET' }, 'sub/step');
      return t;
    });
    r.app.route('/sub/step', (q) => vr().say(`via ${q.method}`));
    const sid = await call();
    expect(r.app.to('/sub/step')[0]?.method).toBe('GET');
    expect(r.app.to('/sub/step')[0]?.params.CallSid).toBe(sid);
    expect(verbs(r.emu, sid)).toEqual(['Redirect:' + `${r.app.url}/sub/step`, 'Say:via GET']);
  });

  test('inbound Reject busy / rejected never answers the call', async () => {
    let reason: 'busy' | 'rejected' = 'busy';
    r.app.route('/inbound', () => vr().reject({ reason }));
    const a = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(a);
    reason = 'rejected';
    const b = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(b);
    expect((await r.client.calls(a).fetch()).status).toBe('busy');
    expect((await r.client.calls(b).fetch()).status).toBe('no-answer');
    expect(r.app.to('/inbound')[0]?.params).toMatchObject({ CallStatus: 'ringing', Direction: 'inbound', From: CUSTOMER, To: r.number });
  });

  test('a failing webhook plays the application error and ends the call (11200, 12100)', async () => {
    r.app.route('/answer', () => ({ status: 500, body: 'boom' }));
    const a = await call();
    expect(r.emu.timeline(a).some((e) => e.type === 'error' && e.errorCode === 11200)).toBe(true);
    expect(verbs(r.emu, a)).toEqual(['Say:We are sorry, an application error has occurred. Goodbye.']);
    r.app.route('/answer', () => ({ status: 200, body: '<Response><Say>unclosed</Response>', contentType: 'text/xml' }));
    const b = await call();
    expect(r.emu.timeline(b).some((e) => e.type === 'error' && e.errorCode === 12100)).toBe(true);
    r.app.route('/answer', () => ({ status: 200, body: '<Response><Dance/></Response>', contentType: 'text/xml' }));
    const c = await call();
    expect(r.emu.timeline(c).some((e) => e.errorCode === 12100)).toBe(true);
  });

  test('FallbackUrl is used when the answer URL fails', async () => {
    r.app.route('/answer', () => ({ status: 503 }));
    r.app.route('/fallback', () => vr().say('fallback'));
    const sid = await call({ fallbackUrl: `${r.app.url}/fallback` });
    expect(verbs(r.emu, sid)).toEqual(['Say:fallback']);
  });
});

describe('AMD', () => {
  test.each([
    ['Enable', { kind: 'human' }, 'human'],
    ['Enable', { kind: 'machine' }, 'machine_start'],
    ['DetectMessageEnd', { kind: 'machine', machine: { greetingSeconds: 5, beep: true } }, 'machine_end_beep'],
    ['DetectMessageEnd', { kind: 'machine', machine: { greetingSeconds: 5, beep: false } }, 'machine_end_silence'],
    ['DetectMessageEnd', { kind: 'machine', answeredBy: 'machine_end_other' }, 'machine_end_other'],
    ['Enable', { kind: 'fax' }, 'fax'],
    ['DetectMessageEnd', { kind: 'machine', machine: { greetingSeconds: 40 } }, 'unknown'],
  ] as const)('async %s with %j gives AnsweredBy=%s', async (mode, party, expected) => {
    r.emu.addParty({ number: CUSTOMER, ...party } as never);
    r.app.route('/answer', () => vr().pause({ length: 45 }));
    const sid = await call({ machineDetection: mode, asyncAmd: 'true', asyncAmdStatusCallback: `${r.app.url}/amd`, machineDetectionTimeout: 30 });
    const amd = r.app.to('/amd');
    expect(amd).toHaveLength(1);
    expect(amd[0]?.params).toMatchObject({ CallSid: sid, AccountSid: r.emu.accountSid, AnsweredBy: expected });
    expect(Number(amd[0]?.params.MachineDetectionDuration)).toBeGreaterThan(0);
    expect(r.app.to('/answer')[0]?.params.AnsweredBy).toBeUndefined();
    expect((await r.client.calls(sid).fetch()).answeredBy).toBe(expected);
  });

  test('synchronous AMD waits and sends AnsweredBy with the answer URL', async () => {
    r.emu.addParty({ number: CUSTOMER, kind: 'machine' });
    r.app.route('/answer', () => vr().hangup());
    await call({ machineDetection: 'Enable' });
    expect(r.app.to('/answer')[0]?.params.AnsweredBy).toBe('machine_start');
  });
});

describe('Calls update and API recording', () => {
  test('Url redirects a live call; Status=completed hangs up; Record=true dual gives an OutboundAPI recording', async () => {
    r.emu.addParty({ number: CUSTOMER });
    r.app.route('/answer', () => vr().pause({ length: 600 }));
    r.app.route('/moved', () => vr().pause({ length: 600 }));
    const c = await r.client.calls.create({
      to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, record: true, recordingChannels: 'dual',
      recordingStatusCallback: `${r.app.url}/rec`, recordingStatusCallbackEvent: ['in-progress', 'completed'],
    });
    await r.emu.waitForCall(c.sid, (v) => v.status === 'in-progress');
    await new Promise((x) => setTimeout(x, 50));
    await r.client.calls(c.sid).update({ url: `${r.app.url}/moved`, method: 'POST' });
    await new Promise((x) => setTimeout(x, 50));
    expect(r.app.to('/moved')).toHaveLength(1);
    const done = await r.client.calls(c.sid).update({ status: 'completed' });
    expect(['in-progress', 'completed']).toContain(done.status);
    await r.emu.waitForCall(c.sid);
    expect((await r.client.calls(c.sid).fetch()).status).toBe('completed');
    const recs = r.app.to('/rec').map((q) => q.params);
    expect(recs.map((p) => p.RecordingStatus)).toEqual(['in-progress', 'completed']);
    expect(recs[1]).toMatchObject({ RecordingSource: 'OutboundAPI', RecordingChannels: '2' });
    await expect(r.client.calls(c.sid).update({ url: `${r.app.url}/moved` })).rejects.toMatchObject({ code: 21220, status: 400 });
  });

  test('Status=canceled stops a ringing call', async () => {
    r.emu.addParty({ number: CUSTOMER, answerAfter: 30 });
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/answer`, statusCallback: `${r.app.url}/status` });
    await r.emu.waitForCall(c.sid, (v) => v.status === 'ringing');
    await r.client.calls(c.sid).update({ status: 'canceled' });
    await r.emu.waitForCall(c.sid);
    expect(r.app.to('/status').map((q) => q.params.CallStatus)).toEqual(['canceled']);
  });
});

describe('inbound', () => {
  test('a party dials a number: VoiceUrl fetched with its method; status callback of the number; ForwardedFrom', async () => {
    const [n] = await r.client.incomingPhoneNumbers.list({ phoneNumber: r.number });
    await r.client.incomingPhoneNumbers(n?.sid as string).update({ voiceUrl: `${r.app.url}/in2`, voiceMethod: 'GET', statusCallback: `${r.app.url}/status` });
    r.app.route('/in2', () => vr().say('bem-vindo'));
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number, forwardedFrom: '+5511912345678' });
    await r.emu.waitForCall(sid);
    const q = r.app.to('/in2')[0];
    expect(q?.method).toBe('GET');
    expect(q?.params).toMatchObject({ CallSid: sid, Direction: 'inbound', ForwardedFrom: '+5511912345678', CallStatus: 'ringing' });
    expect(r.app.to('/status').map((x) => x.params.CallStatus)).toEqual(['completed']);
    expect(verbs(r.emu, sid)).toEqual(['Say:bem-vindo']);
  });
});
