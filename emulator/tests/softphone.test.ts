/**
 * The offline softphone on the emulator's side: Applications and Keys over REST, AccessToken
 * verification, and the WebSocket protocol driven from Node with tokens made by
 * `twilio.jwt.AccessToken` — incoming legs to `client:<identity>` ring the registered browser,
 * its answers drive the engine, and `connect` calls the TwiML App.
 */
import { rig, rigPerTest, vr, verbs, type Rig } from './helpers';
import { Phone, softphoneAccount, voiceToken, type SoftphoneAccount } from './softphone-helpers';

const CUSTOMER = '+5511999990001';
let r: Rig;
let acct: SoftphoneAccount;
const phones: Phone[] = [];

rigPerTest(() => r, (x) => (r = x));
beforeEach(async () => {
  acct = await softphoneAccount(r, `${r.app.url}/agent-session`, `${r.app.url}/app-status`);
});
afterEach(() => {
  for (const p of phones.splice(0)) p.close();
});

async function phone(): Promise<Phone> {
  const p = await Phone.open(r.emu.softphone.socketUrl);
  phones.push(p);
  return p;
}

async function registered(identity = 'ana'): Promise<Phone> {
  const p = await phone();
  await p.register(voiceToken(r, acct, { identity }));
  return p;
}

/** Raw REST request with the main account's credentials (to see the error bodies). */
async function rest(method: string, path: string, form?: Record<string, string>, on: Rig = r) {
  const res = await fetch(`${on.emu.url}/2010-04-01/Accounts/${on.emu.accountSid}${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${on.emu.accountSid}:${on.emu.authToken}`).toString('base64')}`,
      ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
}

describe('Applications and Keys (REST)', () => {
  test('a TwiML App is created, listed, fetched, updated and deleted with Twilio JSON', async () => {
    const app = await r.client.applications(acct.appSid).fetch();
    expect(app).toMatchObject({ accountSid: r.emu.accountSid, voiceUrl: `${r.app.url}/agent-session`, voiceMethod: 'POST', statusCallback: `${r.app.url}/app-status`, friendlyName: 'agents' });
    expect(app.sid).toMatch(/^AP[0-9a-f]{32}$/);
    const updated = await r.client.applications(acct.appSid).update({ voiceUrl: `${r.app.url}/other`, voiceMethod: 'GET' });
    expect(updated).toMatchObject({ voiceUrl: `${r.app.url}/other`, voiceMethod: 'GET' });
    expect((await r.client.applications.list({ friendlyName: 'agents' })).map((a) => a.sid)).toEqual([acct.appSid]);
    expect(await r.client.applications.list({ friendlyName: 'nope' })).toEqual([]);
    await r.client.applications(acct.appSid).remove();
    expect((await rest('GET', `/Applications/${acct.appSid}.json`)).status).toBe(404);
  });

  test('a key shows its secret on create only; fetch, list and delete', async () => {
    const made = await rest('POST', '/Keys.json', { FriendlyName: 'second' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ friendly_name: 'second' });
    expect(String(made.body?.sid)).toMatch(/^SK[0-9a-f]{32}$/);
    expect(String(made.body?.secret).length).toBeGreaterThanOrEqual(32);
    const fetched = await rest('GET', `/Keys/${String(made.body?.sid)}.json`);
    expect(fetched.body).toEqual({ sid: made.body?.sid, friendly_name: 'second', date_created: made.body?.date_created, date_updated: made.body?.date_updated });
    const keys = await r.client.keys.list();
    expect(keys.map((k) => k.sid).sort()).toEqual([acct.keySid, String(made.body?.sid)].sort());
    await r.client.keys(acct.keySid).remove();
    expect((await rest('GET', `/Keys/${acct.keySid}.json`)).status).toBe(404);
  });

  test('parameters outside the OpenAPI are refused, recorded as violations, and create nothing', async () => {
    const own = await rig(); // violations expected: not the per-test rig, which must end with none
    try {
      const bad = await rest('POST', '/Applications.json', { VoiceUrl: 'http://x.example/v', Bogus: '1' }, own);
      expect(bad).toMatchObject({ status: 400, body: { code: 20001 } });
      const badMethod = await rest('POST', '/Keys.json', { FriendlyName: 'k', Secret: 'mine' }, own);
      expect(badMethod).toMatchObject({ status: 400, body: { code: 20001 } });
      expect(await own.client.applications.list()).toEqual([]);
      expect(await own.client.keys.list()).toEqual([]);
      expect(own.emu.contractViolations().map((v) => v.errors[0])).toEqual(["body: unknown parameter 'Bogus'", "body: unknown parameter 'Secret'"]);
    } finally {
      await own.close();
    }
  });

  test('Calls create with ApplicationSid runs the App\'s VoiceUrl and StatusCallback', async () => {
    r.app.route('/agent-session', () => vr().say('app'));
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, applicationSid: acct.appSid });
    await r.emu.waitForCall(c.sid);
    expect(verbs(r.emu, c.sid)).toEqual(['Say:app']);
    expect(r.app.to('/agent-session')[0]?.params.CallSid).toBe(c.sid);
    expect(r.app.to('/app-status').map((q) => q.params.CallStatus)).toEqual(['completed']);
    await expect(r.client.calls.create({ to: CUSTOMER, from: r.number, applicationSid: 'AP' + '0'.repeat(32) })).rejects.toMatchObject({ code: 21218 });
  });
});

describe('AccessToken verification', () => {
  test('a token from twilio.jwt.AccessToken registers the identity', async () => {
    const p = await phone();
    expect(await p.register(voiceToken(r, acct, { identity: 'ana' }))).toEqual({ type: 'registered', identity: 'ana' });
    expect(r.emu.softphone.registered()).toEqual(['ana']);
  });

  test.each([
    ['signed with another secret', { secret: 'x'.repeat(32) }, 20101],
    ['for another account', { accountSid: 'AC' + 'f'.repeat(32) }, 20101],
    ['expired', { ttl: -60 }, 20104],
    ['living more than 24 hours', { ttl: 24 * 3600 + 60 }, 20104],
    ['without an incoming grant', { incoming: false }, 31201],
  ] as const)('a token %s is refused (%s) and nothing is registered', async (_what, o, code) => {
    const p = await phone();
    p.send({ type: 'register', token: voiceToken(r, acct, { identity: 'ana', ...o }) });
    expect(await p.next('error')).toMatchObject({ code, ref: 'register' });
    expect(r.emu.softphone.registered()).toEqual([]);
  });

  test('a malformed token, a tampered payload and a deleted key are invalid (20101)', async () => {
    const p = await phone();
    const good = voiceToken(r, acct, { identity: 'ana' });
    const [h, payload, s] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { grants: { identity: string } };
    claims.grants.identity = 'bruno';
    for (const token of ['not-a-jwt', `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`]) {
      p.send({ type: 'register', token });
      expect(await p.next('error')).toMatchObject({ code: 20101, ref: 'register' });
    }
    await r.client.keys(acct.keySid).remove();
    p.send({ type: 'register', token: good });
    expect(await p.next('error')).toMatchObject({ code: 20101, message: expect.stringMatching(/not an API key/) });
    expect(r.emu.softphone.registered()).toEqual([]);
  });

  test('a registration ends with 20104 when its token expires; updateToken keeps it', async () => {
    const p = await phone();
    await p.register(voiceToken(r, acct, { identity: 'ana', ttl: 2 }));
    p.send({ type: 'token', token: voiceToken(r, acct, { identity: 'ana', ttl: 3600 }) });
    await new Promise((x) => setTimeout(x, 2500));
    expect(p.received.filter((m) => m.type === 'error')).toEqual([]);
    expect(r.emu.softphone.registered()).toEqual(['ana']);
    const q = await phone();
    await q.register(voiceToken(r, acct, { identity: 'bia', ttl: 2 }));
    expect(await q.next('error', undefined, 5000)).toMatchObject({ code: 20104 });
    await q.next('unregistered');
    expect(r.emu.softphone.registered()).toEqual(['ana']);
  });
});

describe('incoming calls ring the registered browser', () => {
  function dialClient(identity: string, attrs: Record<string, string> = {}) {
    r.app.route('/inbound', () => {
      const t = vr();
      const d = t.dial({ action: '/dial-done', timeout: 10, ...attrs });
      const c = d.client();
      c.identity(identity);
      c.parameter({ name: 'lead', value: '42' });
      return t;
    });
    r.app.route('/dial-done', () => vr().hangup());
  }

  test('<Dial><Client> rings; accept bridges the caller and the browser; hanging up ends the Dial completed', async () => {
    const p = await registered('ana');
    dialClient('ana');
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    const inc = await p.next('incoming');
    const child = r.emu.calls().find((c) => c.parentCallSid === sid);
    expect(inc).toEqual({
      type: 'incoming', callSid: child?.sid,
      parameters: { AccountSid: r.emu.accountSid, CallSid: child?.sid, From: CUSTOMER, To: 'client:ana' },
      customParameters: { lead: '42' },
    });
    expect(r.emu.softphone.calls()).toEqual([{ callSid: inc.callSid, identity: 'ana', direction: 'incoming', state: 'pending', muted: false }]);
    p.send({ type: 'accept', callSid: inc.callSid });
    await p.next('accepted', (m) => m.callSid === inc.callSid);
    await r.emu.waitForCall(sid, (c) => c.status === 'in-progress');
    expect(r.emu.timeline(sid).some((e) => e.type === 'bridge' && e.text.startsWith(`bridged with ${inc.callSid}`))).toBe(true);
    expect(r.emu.softphone.calls()[0]?.state).toBe('open');
    p.send({ type: 'mute', callSid: inc.callSid, muted: true });
    await new Promise((x) => setTimeout(x, 50));
    expect(r.emu.softphone.calls()[0]?.muted).toBe(true);
    expect(r.emu.softphone.muted(inc.callSid)).toBe(true);
    p.send({ type: 'disconnect', callSid: inc.callSid });
    await r.emu.waitForCall(sid);
    const tl = r.emu.timeline(sid, { children: true }).map((e) => e.text);
    expect(tl).toContain('browser softphone accepted the call');
    expect(tl).toContain('browser softphone muted its microphone');
    expect(tl).toContain('browser softphone hung up');
    expect(r.app.to('/dial-done')[0]?.params).toMatchObject({ DialCallStatus: 'completed', DialCallSid: inc.callSid, DialBridged: 'true' });
    expect(r.emu.calls().find((c) => c.sid === inc.callSid)?.status).toBe('completed');
  });

  test('reject ends the child leg busy and the Dial reports DialCallStatus=busy', async () => {
    const p = await registered('ana');
    dialClient('ana');
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    const inc = await p.next('incoming');
    p.send({ type: 'reject', callSid: inc.callSid });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-done')[0]?.params).toMatchObject({ DialCallStatus: 'busy', DialBridged: 'false' });
    expect(r.emu.calls().find((c) => c.sid === inc.callSid)?.status).toBe('busy');
    expect(p.received.some((m) => m.type === 'accepted')).toBe(false);
  });

  test('ignore stops ringing here; the Dial rings out no-answer', async () => {
    const p = await registered('ana');
    dialClient('ana', { timeout: '5' });
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    const inc = await p.next('incoming');
    p.send({ type: 'ignore', callSid: inc.callSid });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-done')[0]?.params.DialCallStatus).toBe('no-answer');
    expect(r.emu.softphone.calls()).toEqual([]);
    expect(r.emu.timeline(inc.callSid).map((e) => e.text)).toContain('browser softphone ignored the call');
  });

  test('the caller hanging up while it rings cancels it on the browser; a late accept is refused (31008)', async () => {
    const p = await registered('ana');
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 1 });
    dialClient('ana');
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    const inc = await p.next('incoming');
    await p.next('cancel', (m) => m.callSid === inc.callSid);
    p.send({ type: 'accept', callSid: inc.callSid });
    expect(await p.next('error')).toMatchObject({ code: 31008, callSid: inc.callSid });
    await r.emu.waitForCall(sid);
    expect(r.emu.calls().find((c) => c.sid === inc.callSid)?.status).toBe('canceled');
  });

  test('two browsers of one identity ring; the first to accept wins, the other gets cancel', async () => {
    const a = await registered('ana');
    const b = await registered('ana');
    dialClient('ana');
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    const inc = await a.next('incoming');
    await b.next('incoming');
    b.send({ type: 'accept', callSid: inc.callSid });
    await a.next('cancel');
    await b.next('accepted');
    await r.emu.waitForCall(sid, (c) => c.status === 'in-progress');
    r.emu.addParty({ number: CUSTOMER }); // nothing else scripted
    b.close();
    await r.emu.waitForCall(sid);
    expect(r.emu.timeline(inc.callSid).map((e) => e.text)).toContain('browser softphone connection closed: hanging up');
    expect(r.app.to('/dial-done')[0]?.params.DialCallStatus).toBe('completed');
  });

  test('with no browser registered the simulated party answers, as before', async () => {
    const p = await registered('bruno');
    r.emu.addParty({ number: 'client:ana', outcome: 'busy' });
    dialClient('ana');
    const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(sid);
    expect(r.app.to('/dial-done')[0]?.params.DialCallStatus).toBe('busy');
    expect(p.received.some((m) => m.type === 'incoming')).toBe(false);
  });

  test('Calls create To=client:ana?k=v rings the browser with those parameters; accept runs the Url', async () => {
    const p = await registered('ana');
    r.app.route('/answer', () => vr().say('olá agente'));
    const c = await r.client.calls.create({ to: 'client:ana?lead=7&campaign=x', from: r.number, url: `${r.app.url}/answer` });
    const inc = await p.next('incoming');
    expect(inc).toMatchObject({ callSid: c.sid, parameters: { To: 'client:ana', From: r.number }, customParameters: { lead: '7', campaign: 'x' } });
    p.send({ type: 'accept', callSid: c.sid });
    await p.next('accepted');
    await p.next('disconnected', (m) => m.callSid === c.sid);
    await r.emu.waitForCall(c.sid);
    expect(verbs(r.emu, c.sid)).toEqual(['Say:olá agente']);
    expect(r.emu.calls().find((x) => x.sid === c.sid)?.status).toBe('completed');
  });
});

describe('outgoing calls go to the TwiML App', () => {
  test('connect fetches the VoiceUrl with the Voice SDK parameters; digits reach a Gather; disconnect ends it', async () => {
    const p = await registered('ana');
    r.app.route('/agent-session', () => {
      const t = vr();
      t.gather({ action: '/keys', numDigits: 3, timeout: 30 }).say('digite');
      return t;
    });
    r.app.route('/keys', () => vr().pause({ length: 600 }));
    p.send({ type: 'connect', ref: 'c1', token: voiceToken(r, acct, { identity: 'ana', appParams: { tenant: 'd' } }), params: { To: '+5511988887777', lead: '9' } });
    const created = await p.next('created');
    await p.next('ringing', (m) => m.callSid === created.callSid);
    await p.next('accepted', (m) => m.callSid === created.callSid);
    const [req] = r.app.to('/agent-session');
    expect(req?.params).toEqual({
      AccountSid: r.emu.accountSid, ApiVersion: '2010-04-01', ApplicationSid: acct.appSid, CallSid: created.callSid, CallStatus: 'ringing',
      Direction: 'inbound', From: 'client:ana', Caller: 'client:ana', To: '+5511988887777', Called: '', lead: '9', tenant: 'd',
      FromCountry: '', ToCountry: '', CalledCountry: '', CallerCountry: '',
    });
    expect(created.parameters).toEqual({ AccountSid: r.emu.accountSid, CallSid: created.callSid, From: 'client:ana', To: '+5511988887777' });
    await r.emu.waitForCall(created.callSid, () => r.emu.timeline(created.callSid).some((e) => e.verb === 'Gather'));
    p.send({ type: 'digits', callSid: created.callSid, digits: '1w2#3' });
    await r.emu.waitForCall(created.callSid, () => r.app.to('/keys').length > 0);
    expect(r.app.to('/keys')[0]?.params.Digits).toBe('12');
    p.send({ type: 'disconnect', callSid: created.callSid });
    await r.emu.waitForCall(created.callSid);
    expect(r.emu.calls().find((c) => c.sid === created.callSid)).toMatchObject({ direction: 'inbound', from: 'client:ana', status: 'completed' });
    expect(r.app.to('/app-status').map((q) => q.params.CallStatus)).toEqual(['completed']);
  });

  test('in a conference, a browser that mutes is heard by nobody until it unmutes; it still hears the room', async () => {
    const p = await registered('ana');
    const room = (t: ReturnType<typeof vr>, endOnExit: boolean) => {
      t.dial().conference({ startConferenceOnEnter: true, endConferenceOnExit: endOnExit, beep: 'false', waitUrl: '' }, 'agent-1');
      return t;
    };
    r.app.route('/agent-session', () => room(vr(), true));
    r.app.route('/inbound', () => room(vr(), false));
    p.send({ type: 'connect', ref: 'c', token: voiceToken(r, acct, { identity: 'ana' }), params: {} });
    const agent = (await p.next('created')).callSid;
    await p.next('accepted');
    const customer = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(customer, () => r.emu.hears(customer).has(agent));
    p.send({ type: 'mute', callSid: agent, muted: true });
    await r.emu.waitForCall(customer, () => !r.emu.hears(customer).has(agent));
    expect(r.emu.hears(agent)).toEqual(new Set([customer]));
    expect(r.emu.timeline(customer).map((e) => e.text)).toContain('agent-1: hears nobody');
    p.send({ type: 'mute', callSid: agent, muted: false });
    await r.emu.waitForCall(customer, () => r.emu.hears(customer).has(agent));
    p.send({ type: 'disconnect', callSid: agent });
    await r.emu.waitForCall(customer); // the agent's leg ends the room (endConferenceOnExit)
  });

  test('the engine hanging up sends disconnected with the final status', async () => {
    const p = await registered('ana');
    r.app.route('/agent-session', () => vr().say('tchau'));
    p.send({ type: 'connect', ref: 'x', token: voiceToken(r, acct, { identity: 'ana' }), params: {} });
    const created = await p.next('created');
    expect(await p.next('disconnected')).toEqual({ type: 'disconnected', callSid: created.callSid, status: 'completed', reason: 'hangup' });
    expect(r.app.to('/agent-session')[0]?.params.To).toBe('');
  });

  test('connect is refused without an outgoing grant or with an App of nobody (31001), and with a bad token (20101)', async () => {
    const p = await phone();
    p.send({ type: 'connect', ref: 'a', token: voiceToken(r, acct, { identity: 'ana', appSid: null }), params: {} });
    expect(await p.next('error')).toMatchObject({ code: 31001, ref: 'a' });
    p.send({ type: 'connect', ref: 'b', token: voiceToken(r, acct, { identity: 'ana', appSid: 'AP' + '1'.repeat(32) }), params: {} });
    expect(await p.next('error')).toMatchObject({ code: 31001, ref: 'b' });
    p.send({ type: 'connect', ref: 'c', token: voiceToken(r, acct, { identity: 'ana', secret: 'y'.repeat(32) }), params: {} });
    expect(await p.next('error')).toMatchObject({ code: 20101, ref: 'c' });
    expect(r.emu.calls()).toEqual([]);
    expect(r.app.to('/agent-session')).toEqual([]);
  });

  test('bad messages get 31100 and change nothing', async () => {
    const p = await registered('ana');
    p.ws.send('not json');
    expect(await p.next('error')).toMatchObject({ code: 31100 });
    p.send({ type: 'dance' });
    expect(await p.next('error')).toMatchObject({ code: 31100, message: expect.stringMatching(/unknown message type/) });
    p.send({ type: 'digits', callSid: 'CA' + '0'.repeat(32), digits: '12a' });
    expect(await p.next('error')).toMatchObject({ code: 31100 });
    p.send({ type: 'accept' });
    expect(await p.next('error')).toMatchObject({ code: 31100 });
    expect(r.emu.calls()).toEqual([]);
    expect(r.emu.softphone.registered()).toEqual(['ana']);
  });
});
