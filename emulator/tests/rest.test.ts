import { rig, type Rig } from './helpers';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(async () => {
  await r.close();
});

const auth = (sid: string, token: string) => ({ Authorization: 'Basic ' + Buffer.from(`${sid}:${token}`).toString('base64') });
async function raw(method: string, path: string, form?: Record<string, string | string[]>, creds?: [string, string]) {
  const pairs: [string, string][] = [];
  for (const [k, v] of Object.entries(form ?? {})) for (const x of Array.isArray(v) ? v : [v]) pairs.push([k, x]);
  const body = form ? new URLSearchParams(pairs).toString() : undefined;
  const res = await fetch(r.emu.url + path, {
    method,
    headers: { ...auth(...(creds ?? [r.emu.accountSid, r.emu.authToken])), ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
    body,
  });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as Record<string, unknown> };
}

describe('auth and accounts', () => {
  test('bad credentials give 401 / 20003 in Twilio error shape', async () => {
    const res = await raw('GET', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls.json`, undefined, [r.emu.accountSid, 'x'.repeat(32)]);
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
  });

  test('subaccounts: created and listed by the main account, own token, isolated resources', async () => {
    const sub = await r.client.api.v2010.accounts.create({ friendlyName: 'Cliente A' });
    expect(sub.sid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(sub.ownerAccountSid).toBe(r.emu.accountSid);
    expect(sub.authToken).toHaveLength(32);
    const all = await r.client.api.v2010.accounts.list();
    expect(all.map((a) => a.sid).sort()).toEqual([r.emu.accountSid, sub.sid].sort());
    expect((await r.client.api.v2010.accounts.list({ friendlyName: 'Cliente A' })).map((a) => a.sid)).toEqual([sub.sid]);
    const subClient = createTwilioClient(sub.sid, sub.authToken, r.emu.url);
    const n = await subClient.incomingPhoneNumbers.create({ phoneNumber: '+551130000099' });
    expect(n.accountSid).toBe(sub.sid);
    // main acts on the subaccount
    const viaMain = await r.client.api.v2010.accounts(sub.sid).incomingPhoneNumbers.list();
    expect(viaMain.map((x) => x.sid)).toEqual([n.sid]);
    // the subaccount cannot see the main account's resources nor create subaccounts
    await expect(createTwilioClient(sub.sid, sub.authToken, r.emu.url).api.v2010.accounts(r.emu.accountSid).calls.list()).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(subClient.api.v2010.accounts.create({ friendlyName: 'x' })).rejects.toMatchObject({ code: 20003 });
    expect((await subClient.api.v2010.accounts.list()).map((a) => a.sid)).toEqual([sub.sid]);
    const fetched = await r.client.api.v2010.accounts(sub.sid).fetch();
    expect(fetched.friendlyName).toBe('Cliente A');
  });
});

describe('contract validation against twilio_api_v2010.json', () => {
  test.each([
    ['unknown parameter', { To: '+5511999990001', From: '+551130000001', Url: 'http://x.test/a', Colour: 'blue' }, /unknown parameter 'Colour'/],
    ['missing required', { From: '+551130000001', Url: 'http://x.test/a' }, /missing required parameter 'To'/],
    ['bad enum', { To: '+5511999990001', From: '+551130000001', Url: 'http://x.test/a', Method: 'PUT' }, /'Method' must be one of "GET", "POST"/],
    ['bad type', { To: '+5511999990001', From: '+551130000001', Url: 'http://x.test/a', Timeout: 'soon' }, /'Timeout' must be integer/],
    ['bad uri', { To: '+5511999990001', From: '+551130000001', Url: 'not a url' }, /'Url' must match format "uri"/],
  ])('%s fails loudly and is recorded', async (_name, form, message) => {
    const res = await raw('POST', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls.json`, form);
    expect(res.status).toBe(400);
    expect(String(res.json.message)).toMatch(message);
    expect(r.emu.contractViolations()).toHaveLength(1);
    expect(r.emu.contractViolations()[0]?.errors.join(' ')).toMatch(message);
  });

  test('bad pattern in a path parameter and wrong paths are violations', async () => {
    expect((await raw('GET', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls/CAnothex.json`)).status).toBe(400);
    expect((await raw('GET', `/2010-04-01/Accounts/${r.emu.accountSid}/Callz.json`)).status).toBe(404);
    expect((await raw('PUT', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls.json`)).status).toBe(405);
    expect(r.emu.contractViolations().map((v) => v.errors[0])).toEqual([
      expect.stringMatching(/^path: 'Sid' must/),
      'no such path in twilio_api_v2010.json',
      'method PUT is not defined for this path',
    ]);
  });

  test('the official client never violates the contract in normal use', async () => {
    await r.client.calls.list({ to: '+5511999990001', limit: 3 });
    await r.client.queues.create({ friendlyName: 'q', maxSize: 10 });
    expect(r.emu.contractViolations()).toEqual([]);
  });
});

describe('AvailablePhoneNumbers BR and IncomingPhoneNumbers', () => {
  test('Local / Mobile / TollFree are realistic and filtered', async () => {
    const local = await r.client.availablePhoneNumbers('BR').local.list({ areaCode: 21, limit: 5 });
    expect(local).toHaveLength(5);
    for (const n of local) {
      expect(n.phoneNumber).toMatch(/^\+5521[2-5]\d{7}$/);
      expect(n.isoCountry).toBe('BR');
      expect(n.region).toBe('RJ');
      expect(n.capabilities).toMatchObject({ voice: true });
    }
    const mobile = await r.client.availablePhoneNumbers('BR').mobile.list({ areaCode: 11, limit: 3 });
    for (const n of mobile) expect(n.phoneNumber).toMatch(/^\+55119\d{8}$/);
    const free = await r.client.availablePhoneNumbers('BR').tollFree.list({ limit: 3 });
    for (const n of free) expect(n.phoneNumber).toMatch(/^\+55800\d{7}$/);
    const contains = await r.client.availablePhoneNumbers('BR').local.list({ areaCode: 11, contains: '77', limit: 3 });
    expect(contains.length).toBeGreaterThan(0);
    for (const n of contains) expect(n.phoneNumber.slice(1)).toContain('77');
    expect(await r.client.availablePhoneNumbers('BR').local.list({ voiceEnabled: false, limit: 3 })).toEqual([]);
    expect(await r.client.availablePhoneNumbers('BR').local.list({ areaCode: 10, limit: 3 })).toEqual([]);
    expect(r.emu.contractViolations()).toEqual([]);
  });

  test('buy, list by PhoneNumber, fetch, update, release; sold numbers are no longer available', async () => {
    const [candidate] = await r.client.availablePhoneNumbers('BR').local.list({ areaCode: 31, limit: 1 });
    const bought = await r.client.incomingPhoneNumbers.create({ phoneNumber: candidate?.phoneNumber as string, voiceUrl: 'https://app.test/voice/inbound' });
    expect(bought.sid).toMatch(/^PN[0-9a-f]{32}$/);
    expect(bought.voiceUrl).toBe('https://app.test/voice/inbound');
    expect(bought.voiceMethod).toBe('POST');
    const again = await r.client.availablePhoneNumbers('BR').local.list({ areaCode: 31, limit: 50 });
    expect(again.map((n) => n.phoneNumber)).not.toContain(bought.phoneNumber);
    await expect(r.client.incomingPhoneNumbers.create({ phoneNumber: bought.phoneNumber })).rejects.toMatchObject({ code: 21422, status: 400 });
    const listed = await r.client.incomingPhoneNumbers.list({ phoneNumber: bought.phoneNumber });
    expect(listed.map((n) => n.sid)).toEqual([bought.sid]);
    const upd = await r.client.incomingPhoneNumbers(bought.sid).update({ voiceUrl: 'https://app.test/v2', voiceMethod: 'GET', statusCallback: 'https://app.test/s', smsUrl: 'https://app.test/sms' });
    expect([upd.voiceUrl, upd.voiceMethod, upd.statusCallback, upd.smsUrl]).toEqual(['https://app.test/v2', 'GET', 'https://app.test/s', 'https://app.test/sms']);
    expect((await r.client.incomingPhoneNumbers(bought.sid).fetch()).voiceUrl).toBe('https://app.test/v2');
    expect(await r.client.incomingPhoneNumbers(bought.sid).remove()).toBe(true);
    await expect(r.client.incomingPhoneNumbers(bought.sid).fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    const mobile = await r.client.incomingPhoneNumbers.mobile.create({ phoneNumber: '+5511912345678' });
    expect(mobile.phoneNumber).toBe('+5511912345678');
    await expect(r.client.incomingPhoneNumbers.local.create({ phoneNumber: '+5511912345679' })).rejects.toMatchObject({ code: 21422 });
    await expect(r.client.incomingPhoneNumbers.create({ areaCode: '10' })).rejects.toMatchObject({ code: 21452 });
  });

  test('21631 / 21649 when address or bundle is required for BR Local/Mobile', async () => {
    const sub = r.emu.createSubaccount('regulated', { requireAddressForBR: true });
    const c = createTwilioClient(sub.sid, sub.authToken, r.emu.url);
    await expect(c.incomingPhoneNumbers.create({ phoneNumber: '+551140000001' })).rejects.toMatchObject({ code: 21631, status: 400 });
    expect((await c.incomingPhoneNumbers.create({ phoneNumber: '+551140000001', addressSid: 'AD' + '0'.repeat(32) })).addressSid).toBe('AD' + '0'.repeat(32));
    expect((await c.incomingPhoneNumbers.create({ phoneNumber: '+558001234567' })).phoneNumber).toBe('+558001234567');
    r.emu.configureAccount(sub.sid, { requireBundleForBR: true });
    await expect(c.incomingPhoneNumbers.create({ phoneNumber: '+551140000002', addressSid: 'AD' + '0'.repeat(32) })).rejects.toMatchObject({ code: 21649 });
    // the main account is not regulated
    expect((await r.client.incomingPhoneNumbers.create({ phoneNumber: '+551140000003' })).sid).toMatch(/^PN/);
  });
});

describe('Calls REST', () => {
  test('21211 invalid To, 21210 From not ours or toll-free, 20404 unknown call', async () => {
    await expect(r.client.calls.create({ to: '+55119999', from: r.number, url: 'http://x.test/a' })).rejects.toMatchObject({ code: 21211, status: 400 });
    await expect(r.client.calls.create({ to: '+5511999990001', from: '+551130009999', url: 'http://x.test/a' })).rejects.toMatchObject({ code: 21210, status: 400 });
    await r.client.incomingPhoneNumbers.create({ phoneNumber: '+558001111222' });
    await expect(r.client.calls.create({ to: '+5511999990001', from: '+558001111222', url: 'http://x.test/a' })).rejects.toMatchObject({ code: 21210, status: 400 });
    await expect(r.client.calls('CA' + '0'.repeat(32)).fetch()).rejects.toMatchObject({ code: 20404, status: 404 });
  });

  test('list pages with page, page_size, uris; filters by To/Status', async () => {
    r.app.route('/a', () => '<Response/>');
    for (let i = 0; i < 5; i++) await r.client.calls.create({ to: `+551199999000${i}`, from: r.number, url: `${r.app.url}/a` });
    await r.emu.waitUntilIdle();
    const res = await raw('GET', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls.json?PageSize=2`);
    expect(res.json).toMatchObject({ page: 0, page_size: 2, start: 0, end: 1, previous_page_uri: null });
    expect(res.json.first_page_uri).toMatch(/Calls\.json\?.*PageSize=2/);
    expect(res.json.next_page_uri).toMatch(/Page=1/);
    expect((res.json.calls as unknown[]).length).toBe(2);
    const all = await r.client.calls.list({ pageSize: 2 });
    expect(all).toHaveLength(5);
    expect(await r.client.calls.list({ to: '+5511999990003' })).toHaveLength(1);
    expect(await r.client.calls.list({ status: 'completed' })).toHaveLength(5);
    expect(r.emu.contractViolations()).toEqual([]);
  });

  test('list filters by From and by StartTime> / StartTime<, as the Calls list API documents', async () => {
    r.app.route('/a', () => '<Response/>');
    const other = '+551130000002';
    await r.client.incomingPhoneNumbers.create({ phoneNumber: other });
    const first = await r.client.calls.create({ to: '+5511999990101', from: r.number, url: `${r.app.url}/a` });
    await r.emu.waitUntilIdle();
    // The client sends whole seconds: the next second after the first call's start.
    const between = new Date(Math.floor((await r.client.calls(first.sid).fetch()).startTime.getTime() / 1000) * 1000 + 1000);
    await new Promise((res) => setTimeout(res, 100)); // 5 virtual seconds at x50
    const second = await r.client.calls.create({ to: '+5511999990101', from: other, url: `${r.app.url}/a` });
    await r.emu.waitUntilIdle();
    const sids = (calls: { sid: string }[]) => calls.map((c) => c.sid).sort();
    expect(sids(await r.client.calls.list({ from: other }))).toEqual([second.sid]);
    expect(sids(await r.client.calls.list({ startTimeAfter: between }))).toEqual([second.sid]);
    expect(sids(await r.client.calls.list({ startTimeBefore: between }))).toEqual([first.sid]);
    expect(sids(await r.client.calls.list({ to: '+5511999990101', from: r.number, startTimeAfter: new Date(between.getTime() - 60_000), startTimeBefore: between }))).toEqual([first.sid]);
    // The raw parameter names Twilio documents.
    const tomorrow = new Date(between.getTime() + 86_400_000).toISOString();
    const after = await raw('GET', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls.json?${encodeURIComponent('StartTime>')}=${tomorrow}`);
    expect([after.status, after.json.calls]).toEqual([200, []]);
    const before = await raw('GET', `/2010-04-01/Accounts/${r.emu.accountSid}/Calls.json?${encodeURIComponent('StartTime<')}=${tomorrow}`);
    expect((before.json.calls as { sid: string }[]).map((c) => c.sid).sort()).toEqual([first.sid, second.sid].sort());
    expect(r.emu.contractViolations()).toEqual([]);
  });

  test('CPS: excess calls are queued and paced; 20429 past the configured queue limit', async () => {
    await r.close();
    r = await rig({ cps: 0.04, cpsQueueLimit: 3 }); // one call per 25 virtual s = 0.5 s real at x50
    r.app.route('/a', () => '<Response/>');
    const results = await Promise.allSettled(
      [0, 1, 2, 3, 4].map((i) => r.client.calls.create({ to: `+551199999100${i}`, from: r.number, url: `${r.app.url}/a` })),
    );
    const created = results.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
    const rejected = results.flatMap((x) => (x.status === 'rejected' ? [x.reason as { status: number; code: number }] : []));
    expect(created.map((c) => c.status)).toEqual(['queued', 'queued', 'queued', 'queued']);
    expect(rejected.map((e) => [e.status, e.code])).toEqual([[429, 20429]]);
    await r.emu.waitUntilIdle();
    const starts = created.map((c) => r.emu.timeline(c.sid).find((e) => e.status === 'initiated')?.t ?? 0).sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) expect((starts[i] as number) - (starts[i - 1] as number)).toBeGreaterThanOrEqual(24500);
  });
});

describe('Recordings and Messages', () => {
  test('recording fetch, list by call, media, delete', async () => {
    r.emu.addParty({ number: '+5511999990001', record: { speakSeconds: 3 } });
    r.app.route('/a', () => '<Response><Record timeout="1" action="/done"/></Response>');
    r.app.route('/done', () => '<Response><Hangup/></Response>');
    const c = await r.client.calls.create({ to: '+5511999990001', from: r.number, url: `${r.app.url}/a` });
    await r.emu.waitForCall(c.sid);
    const [rec] = await r.client.recordings.list({ callSid: c.sid });
    expect(rec?.callSid).toBe(c.sid);
    expect(rec?.duration).toBe('3');
    expect((await r.client.calls(c.sid).recordings.list()).map((x) => x.sid)).toEqual([rec?.sid]);
    const media = await fetch(`${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}/Recordings/${rec?.sid}.mp3`, { headers: auth(r.emu.accountSid, r.emu.authToken) });
    expect(media.status).toBe(200);
    expect(media.headers.get('content-type')).toBe('audio/mpeg');
    expect(await r.client.recordings(rec?.sid as string).remove()).toBe(true);
    await expect(r.client.recordings(rec?.sid as string).fetch()).rejects.toMatchObject({ code: 20404 });
    expect((await fetch(`${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}/Recordings/${rec?.sid}.wav`)).status).toBe(404);
  });

  test('a message record is deleted (log and body gone); an unknown SID is 404', async () => {
    const m = await r.client.messages.create({ to: '+5511999990002', from: r.number, body: 'apagar' });
    await r.emu.waitUntilIdle();
    expect(await r.client.messages(m.sid).remove()).toBe(true);
    expect(await r.client.messages.list({ to: '+5511999990002' })).toEqual([]);
    await expect(r.client.messages(m.sid).remove()).rejects.toMatchObject({ status: 404, code: 20404 });
  });

  test('SMS and WhatsApp messages: create, status callbacks, list; inbound SMS reaches SmsUrl', async () => {
    const sms = await r.client.messages.create({ to: '+5511999990001', from: r.number, body: 'Olá', statusCallback: `${r.app.url}/msg` });
    expect(sms.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(sms.status).toBe('queued');
    const wa = await r.client.messages.create({ to: 'whatsapp:+5511999990001', from: `whatsapp:${r.number}`, body: 'Oi' });
    expect(wa.to).toBe('whatsapp:+5511999990001');
    await expect(r.client.messages.create({ to: 'whatsapp:+5511999990001', from: r.number, body: 'x' })).rejects.toMatchObject({ status: 400 });
    await expect(r.client.messages.create({ to: '+5511999990001', from: '+551130009999', body: 'x' })).rejects.toMatchObject({ code: 21212 });
    await expect(r.client.messages.create({ to: 'abc', from: r.number, body: 'x' })).rejects.toMatchObject({ code: 21211 });
    await r.emu.waitUntilIdle();
    expect(r.app.to('/msg').map((q) => q.params.MessageStatus)).toEqual(['sent', 'delivered']);
    expect(r.app.to('/msg')[0]?.params.MessageSid).toBe(sms.sid);
    expect((await r.client.messages.list({ to: 'whatsapp:+5511999990001' })).map((m) => m.sid)).toEqual([wa.sid]);
    const [n] = await r.client.incomingPhoneNumbers.list({ phoneNumber: r.number });
    await r.client.incomingPhoneNumbers(n?.sid as string).update({ smsUrl: `${r.app.url}/sms` });
    const got = await r.emu.sendInboundMessage({ from: '+5511999990001', to: r.number, body: 'SAIR' });
    expect(got.status).toBe(200);
    expect(r.app.to('/sms')[0]?.params).toMatchObject({ Body: 'SAIR', From: '+5511999990001', To: r.number });
    expect(r.app.requests.every((q) => q.signatureValid)).toBe(true);
    expect(r.emu.contractViolations()).toEqual([]);
  });
});
