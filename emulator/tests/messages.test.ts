/**
 * Inbound SMS and WhatsApp: the SmsUrl request (WhatsApp's prefixed addresses, WaId and
 * ProfileName), `<Message>` answers sent back as replies on the same channel, and the scenario
 * format's `messages` with its message expectations.
 */
import { runScenario, type Scenario } from '../scenario';
import { rig, startApp, type Rig } from './helpers';

const ACCOUNT = 'AC' + 'e'.repeat(32);
const TOKEN = 'messages0test0auth0token00000000';
const customer = '+5511987650001';

describe('inbound messages', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
    const [n] = await r.client.incomingPhoneNumbers.list({ phoneNumber: r.number });
    await r.client.incomingPhoneNumbers(n!.sid).update({ smsUrl: `${r.app.url}/sms` });
  });
  afterEach(async () => r.close());

  it('a <Message> answer is sent back to the sender from the number written to, on the same channel', async () => {
    r.app.route('/sms', (q) => (q.params['Body'] === 'SAIR' ? '<Response><Message>Pronto</Message></Response>' : '<Response/>'));
    const sms = await r.emu.sendInboundMessage({ from: customer, to: r.number, body: 'SAIR' });
    expect(sms).toMatchObject({ status: 200, replies: [{ from: r.number, to: customer, body: 'Pronto' }] });
    const wa = await r.emu.sendInboundMessage({ from: `whatsapp:${customer}`, to: `whatsapp:${r.number}`, body: 'SAIR', profileName: 'Maria' });
    expect(wa.replies).toEqual([{ sid: expect.stringMatching(/^SM[0-9a-f]{32}$/), from: `whatsapp:${r.number}`, to: `whatsapp:${customer}`, body: 'Pronto' }]);
    const none = await r.emu.sendInboundMessage({ from: customer, to: r.number, body: 'Olá' });
    expect(none).toMatchObject({ status: 200, replies: [] });

    expect(r.app.to('/sms')[1]!.params).toMatchObject({ From: `whatsapp:${customer}`, To: `whatsapp:${r.number}`, WaId: customer.slice(1), ProfileName: 'Maria' });
    expect(r.app.to('/sms')[0]!.params['WaId']).toBeUndefined();
    expect(r.app.requests.every((q) => q.signatureValid)).toBe(true);
    const sent = await r.client.messages.list({ to: customer });
    expect(sent.map((m) => [m.direction, m.from, m.body])).toEqual([['outbound-reply', r.number, 'Pronto']]);
  });

  it('an error answer or unreadable TwiML sends nothing and says which error', async () => {
    r.app.route('/sms', (q) => (q.params['Body'] === 'a' ? { status: 500, body: 'boom' } : '<Response><Say>x</Say></Response>'));
    expect(await r.emu.sendInboundMessage({ from: customer, to: r.number, body: 'a' })).toMatchObject({ status: 500, replies: [], error: 11200 });
    expect(await r.emu.sendInboundMessage({ from: customer, to: r.number, body: 'b' })).toMatchObject({ status: 200, replies: [], error: 12100 });
  });
});

describe('scenario messages', () => {
  it('sends the messages in order and checks replied / noReply / answered; a failing one says why', async () => {
    const app = await startApp(TOKEN);
    app.route('/sms', (q) => (/sair/i.test(q.params['Body'] ?? '') ? '<Response><Message>Pronto: retirado</Message></Response>' : '<Response/>'));
    try {
      const sc: Scenario = {
        name: 'messages',
        speed: 50,
        numbers: [{ phoneNumber: '+551130000001', smsUrl: '/sms' }],
        calls: [],
        messages: [
          { id: 'hello', at: 1, from: customer, to: '+551130000001', body: 'Olá' },
          { id: 'out', at: 0, from: `whatsapp:${customer}`, to: 'whatsapp:+551130000001', body: 'Sair' },
        ],
        expect: [
          { message: 'out', answered: 200, replied: 'retirado' },
          { message: 'hello', answered: 200, noReply: true, noErrors: true },
        ],
      };
      const ok = await runScenario(sc, { appUrl: app.url, accountSid: ACCOUNT, authToken: TOKEN, quiet: true });
      expect(ok.failures).toEqual([]);
      expect(app.to('/sms').map((q) => q.params['Body'])).toEqual(['Sair', 'Olá']);
      expect(ok.report).toContain('reply');

      const bad = await runScenario(
        { ...sc, expect: [{ message: 'hello', replied: 'retirado' }, { message: 'out', noReply: true }, { message: 'nope' }] },
        { appUrl: app.url, accountSid: ACCOUNT, authToken: TOKEN, quiet: true },
      );
      expect(bad.failures).toHaveLength(3);
      expect(bad.failures[0]).toMatch(/no reply containing "retirado"/);
      expect(bad.failures[1]).toMatch(/replied \["Pronto: retirado"\]/);
      expect(bad.failures[2]).toMatch(/no message with id nope/);
    } finally {
      await app.close();
    }
  });
});

describe('outbound WhatsApp with a Content Template', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(async () => r.close());

  const HX = 'HX' + 'a'.repeat(32);
  const code = async (p: Promise<unknown>) => p.then(() => 0, (e: { code?: number }) => e.code ?? -1);

  it('records ContentSid and ContentVariables; refuses a malformed SID, bad variables (21656), variables alone (21654)', async () => {
    const m = await r.client.messages.create({ from: `whatsapp:${r.number}`, to: `whatsapp:${customer}`, contentSid: HX, contentVariables: JSON.stringify({ 1: 'ALERTA', 2: 'Fila' }) });
    expect(r.emu.messages().find((x) => x.sid === m.sid)).toMatchObject({ content: { sid: HX, variables: { 1: 'ALERTA', 2: 'Fila' } }, json: { from: `whatsapp:${r.number}`, to: `whatsapp:${customer}` } });
    const base = { from: `whatsapp:${r.number}`, to: `whatsapp:${customer}` };
    // A SID not shaped HX + 32 hex breaks the OpenAPI pattern first (20001, a contract violation).
    expect(await code(r.client.messages.create({ ...base, contentSid: 'HX123' }))).toBe(20001);
    expect(await code(r.client.messages.create({ ...base, contentSid: HX, contentVariables: 'not json' }))).toBe(21656);
    expect(await code(r.client.messages.create({ ...base, contentSid: HX, contentVariables: JSON.stringify({ 1: '' }) }))).toBe(21656);
    expect(await code(r.client.messages.create({ ...base, body: 'x', contentVariables: JSON.stringify({ 1: 'a' }) }))).toBe(21654);
    expect(r.emu.messages().filter((x) => x.json['to'] === `whatsapp:${customer}`)).toHaveLength(1);
  });

  it('a WhatsApp Body outside the 24-hour window is accepted, then fails with 63016 (fetch shows it); a template, or a Body after the customer wrote, is delivered', async () => {
    const base = { from: `whatsapp:${r.number}`, to: `whatsapp:${customer}` };
    const body = await r.client.messages.create({ ...base, body: 'Alerta' });
    const template = await r.client.messages.create({ ...base, contentSid: HX, contentVariables: JSON.stringify({ 1: 'a' }) });
    expect(body.status).toBe('queued');
    await r.emu.waitUntilIdle();
    expect(await r.client.messages(body.sid).fetch()).toMatchObject({ status: 'failed', errorCode: 63016 });
    expect(await r.client.messages(template.sid).fetch()).toMatchObject({ status: 'delivered', errorCode: null });
    await r.emu.sendInboundMessage({ from: `whatsapp:${customer}`, to: `whatsapp:${r.number}`, body: 'oi' });
    const inside = await r.client.messages.create({ ...base, body: 'Alerta' });
    await r.emu.waitUntilIdle();
    expect(await r.client.messages(inside.sid).fetch()).toMatchObject({ status: 'delivered' });
    await expect(r.client.messages('SM' + '0'.repeat(32)).fetch()).rejects.toMatchObject({ status: 404 });
  });
});
