/**
 * The pure parts of alerts: channels from configuration (WhatsApp keys and the older
 * ALERT_SMS_* ones), p_settings, the Slack Block Kit and WhatsApp renderings, the Debugger
 * webhook's parsing, the Slack stand-in, the database-outage memory and the sends' deadlines.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type twilio from 'twilio';
import { parseDebuggerEvent } from '../../src/lib/domain/alerts/debugger';
import { sendOn, sendSlack } from '../../src/lib/domain/alerts/deliver';
import { noteDbUnavailable, outageOpen, probeDb, resetOutageState } from '../../src/lib/domain/alerts/db-outage';
import { createDb } from '../../src/lib/runtime/db';
import { brasiliaTime, cut, escapeMrkdwn, messageBody, slackPayload, whatsappVariables, type AlertMessage } from '../../src/lib/domain/alerts/format';
import { openCampaigns, runAlerts } from '../../src/lib/domain/alerts/round';
import type { Db } from '../../src/lib/runtime/db';
import { alertChannels, alertSettings, deliverableChannels, type AlertConfig } from '../../src/lib/domain/alerts/settings';
import { ALERT_TITLES } from '../../src/lib/domain/alerts/texts';
import { loadConfig } from '../../src/lib/runtime/config';
import { startSlackStandin } from '../../stack/slack-standin';

const base = { SUPABASE_URL: 'http://127.0.0.1:1', SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40), PUBLIC_BASE_URL: 'https://example.test' };
const config = (env: Record<string, string> = {}) => loadConfig({ ...base, ...env });

const message = (over: Partial<AlertMessage> = {}): AlertMessage => ({
  alert_id: 7,
  rule: 'queue_wait',
  subject: 'queue:geral',
  subject_label: 'geral',
  severity: 'warning',
  title: 'Cliente esperando há 4 min na fila "geral" (limite 3 min; na fila: 2)',
  value: 4,
  threshold: 3,
  detail: {},
  kind: 'opened',
  at: '2026-11-26T13:05:00.000Z',
  opened_at: '2026-11-26T13:00:00.000Z',
  ...over,
});

describe('channels', () => {
  it('WhatsApp from its own keys, with the template; Slack; nothing else', () => {
    const ch = alertChannels(config({ ALERT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X', ALERT_WHATSAPP_TO: '+5511988887777', ALERT_WHATSAPP_FROM: '+551130009876', ALERT_WHATSAPP_CONTENT_SID: 'HX' + 'a'.repeat(32) }));
    expect(ch).toEqual([
      { name: 'slack', url: 'https://hooks.slack.com/services/T/B/X' },
      { name: 'whatsapp', to: 'whatsapp:+5511988887777', from: 'whatsapp:+551130009876', contentSid: 'HX' + 'a'.repeat(32) },
    ]);
    expect(deliverableChannels(ch)).toEqual(['slack', 'whatsapp']);
  });

  it('keeps the older keys working: ALERT_SMS_TO whatsapp: is the WhatsApp channel, a plain number SMS; no sender: not deliverable by the heartbeat', () => {
    expect(alertChannels(config({ ALERT_SMS_TO: 'whatsapp:+5511988887777', ALERT_SMS_FROM: '+551130009876' }))).toEqual([
      { name: 'whatsapp', to: 'whatsapp:+5511988887777', from: 'whatsapp:+551130009876', contentSid: null },
    ]);
    const sms = alertChannels(config({ ALERT_SMS_TO: '+5511988887777' }));
    expect(sms).toEqual([{ name: 'sms', to: '+5511988887777', from: null }]);
    expect(deliverableChannels(sms)).toEqual([]);
    expect(alertChannels(config())).toEqual([]);
  });

  it('refuses a malformed Content SID or address at start-up', () => {
    expect(() => config({ ALERT_WHATSAPP_CONTENT_SID: 'HX123' })).toThrow(/ALERT_WHATSAPP_CONTENT_SID/);
    expect(() => config({ ALERT_WHATSAPP_TO: '11988887777' })).toThrow(/ALERT_WHATSAPP_TO/);
  });

  it('p_settings carries the thresholds, the Anatel settings and every title template', () => {
    const s = alertSettings(config({ ALERT_QUEUE_WAIT_MINUTES: '7' }));
    expect(s).toMatchObject({ cooldown_minutes: 30, abandon_near_percent: 80, abandon_min_live: 20, queue_wait_minutes: 7, no_agent_grace_minutes: 5, transfer_failures: 3, debugger_quiet_minutes: 15, delivery_attempts: 5, retry_seconds: 10, voicemails: false, anatel: { short_call_seconds: 6 } });
    expect((s['texts'] as Record<string, unknown>)['abandon']).toBe(ALERT_TITLES['abandon']);
  });
});

describe('rendering', () => {
  it('Slack: header, section, context and the fallback text, exactly', () => {
    expect(slackPayload(message())).toEqual({
      text: '🟠 Alerta: Cliente esperando há 4 min na fila "geral" (limite 3 min; na fila: 2)',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '🟠 Alerta: Espera na fila', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: 'Cliente esperando há 4 min na fila "geral" (limite 3 min; na fila: 2)' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'discador · geral · aberto em 26/11/2026, 10:00 (Brasília)' }] },
      ],
    });
  });

  it('worse and resolved say so and when; mrkdwn control characters are escaped; long texts are cut to Slack limits', () => {
    const worse = slackPayload(message({ kind: 'worse', severity: 'critical' }));
    expect(worse.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '🔴 Alerta crítico (piorou): Espera na fila', emoji: true } });
    expect(worse.blocks[2]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'discador · geral · aberto em 26/11/2026, 10:00 · em 26/11/2026, 10:05 (Brasília)' }] });
    const resolved = slackPayload(message({ kind: 'resolved', title: 'a <b> & c' }));
    expect(resolved.text).toBe('✅ Resolvido: a &lt;b&gt; &amp; c');
    // The notification text is parsed as mrkdwn too: a name cannot mention the channel.
    expect(slackPayload(message({ title: 'Campanha <!channel>' })).text).toBe('🟠 Alerta: Campanha &lt;!channel&gt;');
    expect(resolved.blocks[1]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: 'a &lt;b&gt; &amp; c' } });
    expect(resolved.blocks[2]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'discador · geral · aberto em 26/11/2026, 10:00 · resolvido em 26/11/2026, 10:05 (Brasília)' }] });
    const long = slackPayload(message({ subject_label: 'x'.repeat(400), rule: 'y'.repeat(400) }));
    const header = long.blocks[0] as { text: { text: string } };
    expect([...header.text.text].length).toBe(150);
    expect(cut('abcdef', 4)).toBe('abc…');
    expect(escapeMrkdwn('<!channel>')).toBe('&lt;!channel&gt;');
    expect(brasiliaTime('2026-11-26T03:00:00Z')).toBe('26/11/2026, 00:00');
  });

  it('WhatsApp: three non-empty template variables, or the same three lines as a Body', () => {
    expect(whatsappVariables(message())).toEqual({
      1: '🟠 Alerta: Espera na fila',
      2: 'Cliente esperando há 4 min na fila "geral" (limite 3 min; na fila: 2)',
      3: 'discador · geral · aberto em 26/11/2026, 10:00 (Brasília)',
    });
    expect(messageBody(message())).toBe('🟠 Alerta: Espera na fila\nCliente esperando há 4 min na fila "geral" (limite 3 min; na fila: 2)\ndiscador · geral · aberto em 26/11/2026, 10:00 (Brasília)');
    expect(whatsappVariables(message({ title: '' }))['2']).toBe('-');
    // WhatsApp refuses a variable with a newline or more than four spaces in a row (63013).
    const v = whatsappVariables(message({ title: 'Fila\n"geral"\t\tcom      espaços ', subject_label: 'a\nb' }));
    expect(v['2']).toBe('Fila "geral" com espaços');
    expect(v['3']).toBe('discador · a b · aberto em 26/11/2026, 10:00 (Brasília)');
  });
});

describe('calling windows for the no-agent rule', () => {
  const custom = { window_profile: 'custom', weekday_start: '09:00', weekday_end: '18:00', saturday_start: null, saturday_end: null, allow_sunday: false, sunday_start: null, sunday_end: null, skip_holidays: false, holidays: [] };
  it('an active campaign is open when some DDD is inside its hours; a malformed profile counts as closed', () => {
    const thursday10 = Date.parse('2026-11-26T13:00:00Z'); // 10:00 in São Paulo
    const thursday20 = Date.parse('2026-11-26T23:00:00Z');
    expect(openCampaigns({ now_ms: thursday10, campaigns: [{ id: 1, ...custom }, { id: 2, ...custom, window_profile: 'nope' }] })).toEqual([1]);
    expect(openCampaigns({ now_ms: thursday20, campaigns: [{ id: 1, ...custom }] })).toEqual([]);
  });
});

describe('the Debugger webhook', () => {
  const ok = {
    Sid: 'NO' + 'a'.repeat(32),
    AccountSid: 'AC' + 'b'.repeat(32),
    Timestamp: '2026-11-26T13:00:00Z',
    Level: 'Error',
    PayloadType: 'application/json',
    Payload: JSON.stringify({ resource_sid: 'CA' + 'c'.repeat(32), error_code: 11200, more_info: {} }),
  };
  it('reads a well-formed event', () => {
    expect(parseDebuggerEvent(ok)).toEqual({
      ok: true,
      event: { sid: ok.Sid, accountSid: ok.AccountSid, level: 'Error', errorCode: '11200', resourceSid: 'CA' + 'c'.repeat(32), occurredAt: '2026-11-26T13:00:00.000Z', payload: JSON.parse(ok.Payload) },
    });
    expect(parseDebuggerEvent({ ...ok, Level: 'WARNING', Timestamp: 'garbage' })).toMatchObject({ ok: true, event: { level: 'Warning', occurredAt: null } });
  });
  it('ignores DEBUG/INFO levels and refuses what is malformed, saying what', () => {
    expect(parseDebuggerEvent({ ...ok, Level: 'INFO' })).toEqual({ ok: true, ignored: 'level INFO' });
    expect(parseDebuggerEvent({ ...ok, Sid: 'x', Payload: '[1]' })).toEqual({ ok: false, problems: ['Sid must be two capital letters and 32 hex characters', 'Payload must be a JSON object'] });
    expect(parseDebuggerEvent({ ...ok, Level: 'Fatal', Payload: '{"error_code":"1a"}' })).toEqual({ ok: false, problems: ['Level must be Error or Warning', 'Payload.error_code must be a Twilio error code (digits)'] });
    // A large Payload is trimmed, not refused: the event and its identifying fields are kept.
    const big = { error_code: 11200, resource_sid: 'CA' + 'c'.repeat(32), more_info: { msg: 'x' }, webhook: { response: { body: '<html>' + 'y'.repeat(50_000) } } };
    const trimmed = parseDebuggerEvent({ ...ok, Payload: JSON.stringify(big) });
    expect(trimmed).toMatchObject({ ok: true, event: { errorCode: '11200', resourceSid: big.resource_sid } });
    const kept = (trimmed as { event: { payload: Record<string, unknown> } }).event.payload;
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(20_000);
    expect(kept).toMatchObject({ error_code: 11200, resource_sid: big.resource_sid, more_info: { msg: 'x' }, truncated: true });
    expect((kept['webhook'] as { response: { body: string } }).response.body).toMatch(/^<html>y+… \[48006 characters cut\]$/);
    const many = { error_code: 12100, webhook: { parts: Array.from({ length: 100 }, () => 'z'.repeat(1000)) } };
    const cut2 = (parseDebuggerEvent({ ...ok, Payload: JSON.stringify(many) }) as { event: { payload: Record<string, unknown> } }).event.payload;
    expect(cut2).toMatchObject({ error_code: 12100, truncated: true });
    expect(JSON.stringify(cut2).length).toBeLessThanOrEqual(20_000);
  });
});

describe('sending', () => {
  let standin: Awaited<ReturnType<typeof startSlackStandin>>;
  beforeAll(async () => {
    standin = await startSlackStandin();
  });
  afterAll(async () => standin.stop());

  it('the stand-in records the exact body and headers, answers as told (500 then back to 200), and a hung one times the send out', async () => {
    expect(await sendSlack(standin.webhookUrl, message())).toEqual({ ok: true });
    const [post] = standin.posts();
    expect(JSON.parse(post!.body)).toEqual(slackPayload(message()));
    expect(post!.headers['content-type']).toBe('application/json');
    standin.setMode({ status: 500, times: 1 });
    expect(await sendSlack(standin.webhookUrl, message())).toEqual({ ok: false, error: 'slack: HTTP 500 internal_error' });
    expect(await sendSlack(standin.webhookUrl, message())).toEqual({ ok: true });
    standin.setMode({ status: 429, times: 1 });
    expect(await sendSlack(standin.webhookUrl, message())).toEqual({ ok: false, error: 'slack: HTTP 429 rate_limited', retryAfterS: 1 });
    standin.setMode({ hang: true });
    const t = Date.now();
    expect(await sendSlack(standin.webhookUrl, message(), 300)).toEqual({ ok: false, error: 'slack: no answer within 300 ms' });
    expect(Date.now() - t).toBeLessThan(1000);
    standin.setMode({ status: 200 });
    expect(standin.posts()).toHaveLength(5);
  });

  it('WhatsApp with the template sends ContentSid + ContentVariables, without it a Body; a hung Twilio is timed out', async () => {
    const calls: Record<string, unknown>[] = [];
    let hang = false;
    const client = (() => ({ messages: { create: (p: Record<string, unknown>) => (calls.push(p), hang ? new Promise(() => undefined) : Promise.resolve({ sid: 'SM1' })) } })) as unknown as () => twilio.Twilio;
    const wa = { name: 'whatsapp' as const, to: 'whatsapp:+5511988887777', from: 'whatsapp:+551130009876', contentSid: 'HX' + 'a'.repeat(32) };
    expect(await sendOn(wa, client, message())).toEqual({ ok: true, sid: 'SM1' });
    expect(await sendOn({ ...wa, contentSid: null }, client, message())).toEqual({ ok: true, sid: 'SM1' });
    expect(await sendOn({ name: 'sms', to: '+5511988887777', from: null }, client, message(), '+551130001000')).toEqual({ ok: true, sid: 'SM1' });
    expect(calls).toEqual([
      { to: wa.to, from: wa.from, contentSid: wa.contentSid, contentVariables: JSON.stringify(whatsappVariables(message())) },
      { to: wa.to, from: wa.from, body: messageBody(message()) },
      { to: '+5511988887777', from: '+551130001000', body: messageBody(message()) },
    ]);
    expect(await sendOn({ name: 'sms', to: '+5511988887777', from: null }, client, message())).toEqual({ ok: false, error: 'sms: no sender (set ALERT_WHATSAPP_FROM or ALERT_SMS_FROM)' });
    hang = true;
    expect(await sendOn(wa, client, message(), null, 200)).toEqual({ ok: false, error: 'whatsapp: whatsapp: no answer within 200 ms' });
  });
});

describe('the database-unreachable memory', () => {
  let server: Server;
  let posts = 0;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      posts++;
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/X`;
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => resetOutageState());

  it('alerts once per cool-down per process; nothing configured: off', async () => {
    const cfg: AlertConfig = config({ ALERT_SLACK_WEBHOOK_URL: url, ALERT_COOLDOWN_MINUTES: '10' });
    const client = (() => ({})) as unknown as () => twilio.Twilio;
    const down = async () => false;
    const t0 = Date.parse('2026-11-26T13:00:00Z');
    expect(await noteDbUnavailable({ config: cfg, twilio: client, probe: down }, t0)).toBe('sent');
    expect(await noteDbUnavailable({ config: cfg, twilio: client, probe: down }, t0 + 9 * 60_000)).toBe('cooldown');
    expect(await noteDbUnavailable({ config: cfg, twilio: client, probe: down }, t0 + 10 * 60_000)).toBe('sent');
    expect(posts).toBe(2);
    expect(outageOpen()).toBe(true);
    resetOutageState();
    expect(await noteDbUnavailable({ config: config(), twilio: client, probe: down }, t0)).toBe('off');
  });

  it('a failed request whose probe the database answers is not an outage: nothing sent, nothing remembered', async () => {
    const cfg: AlertConfig = config({ ALERT_SLACK_WEBHOOK_URL: url, ALERT_COOLDOWN_MINUTES: '10' });
    const client = (() => ({})) as unknown as () => twilio.Twilio;
    const before = posts;
    expect(await noteDbUnavailable({ config: cfg, twilio: client, probe: async () => true }, Date.now())).toBe('not_confirmed');
    expect(posts).toBe(before);
    expect(outageOpen()).toBe(false);
  });
});

describe('probeDb: only a connection-level failure counts as the database unreachable', () => {
  let server: Server;
  let base: string;
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end('[]');
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      answer(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const db = () => createDb({ url: base, serviceRoleKey: 'k', timeoutMs: 5000 });
  const json = (status: number, body: unknown) => (res: import('node:http').ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  it('answers: reachable; a deadlock or statement timeout (PostgREST 500): reachable', async () => {
    answer = json(200, []);
    expect(await probeDb(db())).toBe(true);
    answer = json(500, { code: '40P01', message: 'deadlock detected', details: null, hint: null });
    expect(await probeDb(db())).toBe(true);
    answer = json(500, { code: '57014', message: 'canceling statement due to statement timeout', details: null, hint: null });
    expect(await probeDb(db())).toBe(true);
  });

  it('PostgREST cannot connect (503 PGRST001), a gateway 502, no answer within the deadline, nobody listening: unreachable', async () => {
    answer = json(503, { code: 'PGRST001', message: 'Database client error. Retrying the connection.', details: null, hint: null });
    expect(await probeDb(db())).toBe(false);
    answer = (res) => {
      res.writeHead(502);
      res.end('bad gateway');
    };
    expect(await probeDb(db())).toBe(false);
    answer = () => undefined; // never answers
    const t = Date.now();
    expect(await probeDb(db(), 300)).toBe(false);
    expect(Date.now() - t).toBeLessThan(2000);
    expect(await probeDb(createDb({ url: 'http://127.0.0.1:1', serviceRoleKey: 'k' }))).toBe(false);
  });
});

describe('runAlerts records each send as it completes', () => {
  it('a fast Slack post is written while a WhatsApp send still hangs (a round cut short does not re-send it)', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const slackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/X`;
    const done: { at: number; ids: number[] }[] = [];
    const t0 = Date.now();
    const db = {
      client: null,
      async rpc(fn: string, args: Record<string, unknown>) {
        if (fn === 'alert_campaign_windows') return { data: { now_ms: Date.now(), campaigns: [] }, error: null };
        if (fn === 'alerts_evaluate')
          return {
            data: { opened: [], worse: [], resolved: [], open: 1, deliveries: [1, 2].map((id) => ({ id, alert_id: 9, kind: 'opened', channel: id === 1 ? 'slack' : 'whatsapp', message: message(), attempt: 1 })) },
            error: null,
          };
        done.push({ at: Date.now() - t0, ids: (args['p_results'] as { id: number }[]).map((r) => r.id) });
        return { data: {}, error: null };
      },
    } as unknown as Db;
    const hanging = (() => ({ messages: { create: () => new Promise(() => undefined) } })) as unknown as () => twilio.Twilio;
    const cfg = config({ ALERT_SLACK_WEBHOOK_URL: slackUrl, ALERT_WHATSAPP_TO: 'whatsapp:+5511988887777', ALERT_WHATSAPP_FROM: 'whatsapp:+551130009876' });
    try {
      const round = runAlerts({ db, config: cfg, twilio: hanging });
      await new Promise((r) => setTimeout(r, 1000));
      expect(done).toEqual([{ at: expect.any(Number), ids: [1] }]);
      await round;
      expect(done.map((d) => d.ids)).toEqual([[1], [2]]);
      expect(done[1]!.at).toBeGreaterThanOrEqual(2900);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
