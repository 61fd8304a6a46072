/**
 * Alerts end to end (docs/alerts.md) on a stack of their own (so the rules see only this
 * file's data and its clock can be moved): the Twilio emulator in this process, the local
 * Slack stand-in the stack starts, the real /api/jobs heartbeat, /webhooks/debugger and
 * /api/board. Time moves through the database's app clock (app_now()), so cool-downs and
 * grace periods pass without waiting.
 *
 * Each rule opens once, is not repeated within the cool-down, is repeated when worse, and
 * resolves with a "resolved" message; the Slack payloads are asserted exactly; WhatsApp goes
 * through the emulator's Messages with the configured Content Template; Slack answering 500
 * is retried then reported on WhatsApp and on the board; a hung Slack bounds the heartbeat
 * and does not slow a voice flow; the database stopped gets its own alert and a resolved one.
 */
import { randomBytes } from 'node:crypto';
import { startEmulator, type Emulator } from '../../emulator';
import { LOCAL } from '../../stack/defaults';
import { tickHeader } from '../../src/lib/domain/dialer/tick-auth';
import { sql as sqlAt } from '../helpers/db';
import { slackStandin } from '../helpers/slack-standin';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';

jest.setTimeout(60000);

const WA_TO = 'whatsapp:+5511988887777';
const WA_FROM = '+551130009876';
const CONTENT_SID = 'HX' + 'c'.repeat(32);
const tag = randomBytes(3).toString('hex');

let emulator: Emulator;
let stack: StackProcess;
/** short_call_monitor as the migrations define it (some tests below replace it with stand-ins). */
let realMonitor = '';
const q = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => sqlAt<T>(text, params, stack.env.DATABASE_URL);

const slack = () => slackStandin(stack.env.SLACK_STANDIN_URL);
const slackPosts = (about?: string) => slack().posts(about);
const slackMode = (mode: { status?: number; hang?: boolean }) => slack().mode(mode);

async function jobs(): Promise<{ status: number; ms: number; body: { alerts: Record<string, unknown> } }> {
  const t = Date.now();
  const res = await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader(stack.env.TICK_SECRET) },
    body: '{}',
  });
  const text = await res.text();
  return { status: res.status, ms: Date.now() - t, body: JSON.parse(text) as { alerts: Record<string, unknown> } };
}

/** Moves the database's clock (app_now()) forward. */
async function advance(seconds: number): Promise<void> {
  await q(
    `insert into app_clock (id, virtual_at, real_at, speed) values (true, app_now() + make_interval(secs => $1), clock_timestamp(), 1)
     on conflict (id) do update set virtual_at = excluded.virtual_at, real_at = excluded.real_at`,
    [seconds],
  );
}

const brasilia = (iso: string | Date) =>
  new Intl.DateTimeFormat('pt-BR', { timeZone: 'America/Sao_Paulo', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));

interface AlertRow {
  id: string;
  status: string;
  severity: string;
  title: string;
  opened_at: Date | null;
  notifications: number;
}
const alertOf = async (rule: string, subject: string) =>
  q<AlertRow>(`select id, status, severity, title, opened_at, notifications from alerts where rule = $1 and subject = $2 order by id`, [rule, subject]);
const deliveriesOf = async (alertId: string) =>
  q<{ kind: string; channel: string; status: string; attempts: number; message: { at: string } }>(`select kind, channel, status, attempts, message from alert_deliveries where alert_id = $1 order by id`, [alertId]);
const waMessages = (about: string) => emulator.messages().filter((m) => m.json['to'] === WA_TO && JSON.stringify(m.content?.variables ?? {}).includes(about));

beforeAll(async () => {
  emulator = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  emulator.addNumber({ phoneNumber: WA_FROM });
  stack = await startStackProcess([
    '--twilio-url', emulator.url,
    '--functions-env', `ALERT_WHATSAPP_TO=${WA_TO}`,
    '--functions-env', `ALERT_WHATSAPP_FROM=whatsapp:${WA_FROM}`,
    '--functions-env', `ALERT_WHATSAPP_CONTENT_SID=${CONTENT_SID}`,
    '--functions-env', 'ALERT_COOLDOWN_MINUTES=10',
    '--functions-env', 'ALERT_ABANDON_MIN_LIVE=10',
    '--functions-env', 'ALERT_QUEUE_WAIT_MINUTES=2',
    '--functions-env', 'ALERT_NO_AGENT_GRACE_MINUTES=1',
    '--functions-env', 'ALERT_DELIVERY_ATTEMPTS=3',
    '--functions-env', 'ALERT_RETRY_SECONDS=1',
    '--functions-env', 'ALERT_VOICEMAILS=on',
  ]);
  realMonitor = (await q<{ def: string }>(`select pg_get_functiondef('public.short_call_monitor(timestamptz, jsonb)'::regprocedure) as def`))[0]!.def;
  // The seed's campaigns, numbers and queues are not this file's subjects: quiet them.
  await q(`update campaigns set status = 'finished' where status <> 'finished'`);
  await q(`update phone_numbers set spam_flagged_at = null, calls_today = 0`);
  await jobs();
  await slack().clear();
});

afterAll(async () => {
  await stack?.stop();
  await emulator?.stop();
});

describe('abandon near and over the cap', () => {
  const name = `Alerta Abandono ${tag}`;
  let campaignId: string;
  const addCalls = (n: number, abandoned: boolean) =>
    q(
      `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, created_at, live_at, abandoned_at)
       select 'CA' || md5(random()::text || g), 'outbound-api', '+551130002000', '+5511970000000', 'completed', $1, app_now(), app_now(), case when $3 then app_now() end
         from generate_series(1, $2) g`,
      [campaignId, n, abandoned],
    );

  it('opens once (warning), with the exact Slack Block Kit payload and a WhatsApp template message', async () => {
    const [c] = await q<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'paused', 0.03, 1) returning id`, [name]);
    campaignId = c!.id;
    await addCalls(39, false);
    await addCalls(1, true); // 1 / 40 = 2.5 %: at least 80 % of the 3 % cap
    const run = await jobs();
    expect(run.status).toBe(200);
    const [a] = await alertOf('abandon', `campaign:${campaignId}`);
    expect(a).toMatchObject({ status: 'open', severity: 'warning', notifications: 1 });
    const title = `Abandono perto do limite: campanha "${name}" em 2,5% hoje (limite 3,0%)`;
    expect(a!.title).toBe(title);

    const posts = await slackPosts(name);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.headers['content-type']).toBe('application/json');
    expect(posts[0]!.path).toBe('/services/T00000000/B00000000/local-standin');
    expect(JSON.parse(posts[0]!.body)).toEqual({
      text: `🟠 Alerta: ${title}`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '🟠 Alerta: Abandono', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: title } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `discador · ${name} · aberto em ${brasilia(a!.opened_at!)} (Brasília)` }] },
      ],
    });
    const wa = waMessages(name);
    expect(wa.map((m) => ({ from: m.json['from'], to: m.json['to'], content: m.content }))).toEqual([
      {
        from: `whatsapp:${WA_FROM}`,
        to: WA_TO,
        content: { sid: CONTENT_SID, variables: { 1: '🟠 Alerta: Abandono', 2: title, 3: `discador · ${name} · aberto em ${brasilia(a!.opened_at!)} (Brasília)` } },
      },
    ]);
    expect(await deliveriesOf(a!.id)).toEqual([
      expect.objectContaining({ kind: 'opened', channel: 'slack', status: 'sent', attempts: 1 }),
      expect.objectContaining({ kind: 'opened', channel: 'whatsapp', status: 'sent', attempts: 1 }),
    ]);

    // Again, nothing changed: no second message.
    await jobs();
    expect(await slackPosts(name)).toHaveLength(1);
  });

  it('worse (over the cap): sent at once, cool-down or not; a further value step waits for the cool-down', async () => {
    await addCalls(2, true); // 3 / 42 = 7.1 %: over the cap
    await jobs();
    const [a] = await alertOf('abandon', `campaign:${campaignId}`);
    expect(a).toMatchObject({ status: 'open', severity: 'critical', notifications: 2 });
    let posts = await slackPosts(name);
    expect(posts).toHaveLength(2);
    let body = JSON.parse(posts[1]!.body) as { text: string; blocks: { text?: { text: string } }[] };
    expect(body.text).toBe(`🔴 Alerta crítico (piorou): Abandono acima do limite: campanha "${name}" em 7,1% hoje (limite 3,0%)`);
    expect(body.blocks[0]!.text!.text).toBe('🔴 Alerta crítico (piorou): Abandono');

    await addCalls(1, true); // 4 / 43 = 9.3 %: a point higher, same severity: held by the cool-down
    await jobs();
    expect(await slackPosts(name)).toHaveLength(2);
    await advance(11 * 60);
    await jobs();
    posts = await slackPosts(name);
    expect(posts).toHaveLength(3);
    body = JSON.parse(posts[2]!.body) as { text: string; blocks: { text?: { text: string } }[] };
    expect(body.text).toBe(`🔴 Alerta crítico (piorou): Abandono acima do limite: campanha "${name}" em 9,3% hoje (limite 3,0%)`);
    await jobs();
    expect(await slackPosts(name)).toHaveLength(3);
  });

  it('resolves with a resolved message once the rate is back under the warning line', async () => {
    await q(`update calls set abandoned_at = null where campaign_id = $1`, [campaignId]);
    await jobs();
    const [a] = await alertOf('abandon', `campaign:${campaignId}`);
    expect(a!.status).toBe('resolved');
    const posts = await slackPosts(name);
    expect(posts).toHaveLength(4);
    const resolved = await deliveriesOf(a!.id);
    const at = resolved.find((d) => d.kind === 'resolved' && d.channel === 'slack')!.message.at;
    expect(JSON.parse(posts[3]!.body)).toEqual({
      text: `✅ Resolvido: Abandono acima do limite: campanha "${name}" em 9,3% hoje (limite 3,0%)`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '✅ Resolvido: Abandono', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: `Abandono acima do limite: campanha "${name}" em 9,3% hoje (limite 3,0%)` } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `discador · ${name} · aberto em ${brasilia(a!.opened_at!)} · resolvido em ${brasilia(at)} (Brasília)` }] },
      ],
    });
    expect(waMessages(name).map((m) => m.content!.variables!['1'])).toEqual(['🟠 Alerta: Abandono', '🔴 Alerta crítico (piorou): Abandono', '🔴 Alerta crítico (piorou): Abandono', '✅ Resolvido: Abandono']);
    await jobs();
    expect(await slackPosts(name)).toHaveLength(4);
  });

  it('with AMD at 0.96 (the default), no real abandon opens nothing; the severity follows the campaign\'s own abandons, the AMD figure is in the title', async () => {
    const amdName = `Alerta AMD ${tag}`;
    const [k] = await q<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap) values ($1, 'predictive', 'paused', 0.03) returning id`, [amdName]);
    const add = (n: number, abandoned: boolean) =>
      q(
        `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, created_at, live_at, abandoned_at)
         select 'CA' || md5(random()::text || g), 'outbound-api', '+551130002000', '+5511970000000', 'completed', $1, app_now(), app_now(), case when $3 then app_now() end
           from generate_series(1, $2) g`,
        [k!.id, n, abandoned],
      );
    await add(40, false); // with the estimate: 4,0 %, over the 3 % cap with nothing abandoned
    await jobs();
    expect(await alertOf('abandon', `campaign:${k!.id}`)).toEqual([]);
    expect(await slackPosts(amdName)).toHaveLength(0);

    await add(1, true); // own: 1 / 41 = 2,4 % (warning); with the estimate 6,3 %
    await jobs();
    const [a] = await alertOf('abandon', `campaign:${k!.id}`);
    expect(a).toMatchObject({ status: 'open', severity: 'warning' });
    expect(a!.title).toBe(`Abandono perto do limite: campanha "${amdName}" em 2,4% hoje (limite 3,0%; com a estimativa do AMD: 6,3%)`);
    const [d] = await q<{ detail: Record<string, unknown> }>(`select detail from alerts where id = $1`, [a!.id]);
    expect(d!.detail).toMatchObject({ live_today: 41, abandoned_today: 1, abandon_rate_with_amd_today: 0.0634, amd_floor: 0.04 });
    await q(`update campaigns set status = 'finished' where id = $1`, [k!.id]);
    await jobs();
  });
});

describe('other rules: queue wait, no agent in an open window, caller ID cap and spam, recording transfers, voicemails, short calls', () => {
  it('a customer waiting past N minutes opens once; twice as long is worse; leaving resolves', async () => {
    const queue = `alertas-${tag}`;
    await q(`insert into service_queues (name, service_level_seconds) values ($1, 20)`, [queue]);
    const sid = newCallSid();
    await q(`insert into queue_entries (call_sid, queue_name, entered_at) values ($1, $2, app_now() - interval '150 seconds')`, [sid, queue]);
    await jobs();
    let [a] = await alertOf('queue_wait', `queue:${queue}`);
    expect(a).toMatchObject({ status: 'open', severity: 'warning', title: `Cliente esperando há 2 min na fila "${queue}" (limite 2 min; na fila: 1)` });
    expect(await slackPosts(queue)).toHaveLength(1);
    await advance(11 * 60); // 13.5 min waiting: critical, and past the cool-down
    await jobs();
    [a] = await alertOf('queue_wait', `queue:${queue}`);
    expect(a!.severity).toBe('critical');
    expect(await slackPosts(queue)).toHaveLength(2);
    await q(`update queue_entries set left_at = app_now(), result = 'abandoned' where call_sid = $1`, [sid]);
    await jobs();
    [a] = await alertOf('queue_wait', `queue:${queue}`);
    expect(a!.status).toBe('resolved');
    expect(JSON.parse((await slackPosts(queue))[2]!.body).blocks[0].text.text).toBe('✅ Resolvido: Espera na fila');
  });

  it('no agent working on a running campaign in an open window: pending for the grace minutes, then open; an agent resolves it', async () => {
    const name = `Alerta Sem Agente ${tag}`;
    const [c] = await q<{ id: string }>(
      `insert into campaigns (name, mode, status, window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday, sunday_start, sunday_end, skip_holidays)
       values ($1, 'power', 'active', 'custom', '00:00', '24:00', '00:00', '24:00', true, '00:00', '24:00', false) returning id`,
      [name],
    );
    await q(`insert into agents (name, status, campaign_id) values ($1, 'paused', $2)`, [`Pausado ${tag}`, c!.id]);
    await jobs();
    let [a] = await alertOf('no_agent', `campaign:${c!.id}`);
    expect(a!.status).toBe('pending');
    expect(await slackPosts(name)).toHaveLength(0);
    await advance(70);
    await jobs();
    [a] = await alertOf('no_agent', `campaign:${c!.id}`);
    expect(a).toMatchObject({ status: 'open', severity: 'critical', title: `Nenhum agente trabalhando na campanha "${name}" com a janela de discagem aberta (em pausa: 1)` });
    expect(await slackPosts(name)).toHaveLength(1);
    await q(`update agents set status = 'available', pause_reason = null where campaign_id = $1`, [c!.id]);
    await jobs();
    [a] = await alertOf('no_agent', `campaign:${c!.id}`);
    expect(a!.status).toBe('resolved');
    expect(await slackPosts(name)).toHaveLength(2);
  });

  it('a caller ID at its daily cap (warning) and flagged as spam (critical), each once; cleared: resolved', async () => {
    const number = newMobile('11');
    await q(`insert into phone_numbers (phone_number, daily_cap, calls_today, calls_today_date) values ($1, 5, 5, (app_now() at time zone 'America/Sao_Paulo')::date)`, [number]);
    await jobs();
    const [cap] = await alertOf('caller_id_cap', `caller_id:${number}`);
    expect(cap).toMatchObject({ status: 'open', severity: 'warning', title: `Número ${number} atingiu o limite diário: 5 de 5 ligações hoje` });
    await q(`update phone_numbers set spam_flagged_at = app_now() where phone_number = $1`, [number]);
    await jobs();
    await jobs();
    const [spam] = await alertOf('caller_id_spam', `caller_id:${number}`);
    expect(spam).toMatchObject({ status: 'open', severity: 'critical', title: `Número ${number} marcado como spam`, notifications: 1 });
    expect(await slackPosts(number)).toHaveLength(2);
    await q(`update phone_numbers set spam_flagged_at = null, daily_cap = 50 where phone_number = $1`, [number]);
    await jobs();
    expect((await alertOf('caller_id_spam', `caller_id:${number}`))[0]!.status).toBe('resolved');
    expect((await alertOf('caller_id_cap', `caller_id:${number}`))[0]!.status).toBe('resolved');
    expect((await slackPosts(number)).map((p) => (JSON.parse(p.body) as { blocks: { text: { text: string } }[] }).blocks[0]!.text.text).sort()).toEqual(
      ['✅ Resolvido: Limite diário do número', '✅ Resolvido: Número marcado como spam', '🔴 Alerta crítico: Número marcado como spam', '🟠 Alerta: Limite diário do número'].sort(),
    );
  });

  it('recording transfers failing open one alert for the account; transfers done resolve it', async () => {
    const callSid = newCallSid();
    await q(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', '+5511970000001', '+551130001000', 'completed')`, [callSid]);
    const rec = 'RE' + randomBytes(16).toString('hex');
    const [r] = await q<{ id: string }>(`insert into recordings (recording_sid, call_sid, status) values ($1, $2, 'completed') returning id`, [rec, callSid]);
    await q(`insert into recording_transfers (recording_id, recording_sid, state, attempts, last_error, last_error_at) values ($1, $2, 'failed', 6, 'S3 PutObject: 503 SlowDown', app_now())`, [r!.id, rec]);
    await jobs();
    const [a] = await alertOf('recording_transfers', 'recordings');
    expect(a).toMatchObject({ status: 'open', severity: 'critical', title: 'Transferências de gravação para o S3 falhando: 1 (sem novas tentativas: 1)' });
    await q(`update recording_transfers set state = 'done' where recording_id = $1`, [r!.id]);
    await jobs();
    expect((await alertOf('recording_transfers', 'recordings'))[0]!.status).toBe('resolved');
  });

  it('a voicemail left for an agent is announced once; listened to: resolved', async () => {
    const agent = `Ana Recado ${tag}`;
    const [ag] = await q<{ id: string }>(`insert into agents (name, status) values ($1, 'offline') returning id`, [agent]);
    const callSid = newCallSid();
    const caller = newMobile('11');
    await q(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', $2, '+551130001000', 'completed')`, [callSid, caller]);
    const [r] = await q<{ id: string }>(
      `insert into recordings (recording_sid, call_sid, status, kind, agent_id, duration, created_at) values ($1, $2, 'completed', 'voicemail', $3, 42, app_now()) returning id`,
      ['RE' + randomBytes(16).toString('hex'), callSid, ag!.id],
    );
    await jobs();
    await jobs();
    const [a] = await q<AlertRow>(`select id, status, severity, title, opened_at, notifications from alerts where rule = 'voicemail' and detail->>'agent_id' = $1`, [ag!.id]);
    expect(a).toMatchObject({ status: 'open', severity: 'warning', notifications: 1, title: `Novo recado de voz para ${agent}: 42 s de ${caller}, ainda não ouvido` });
    expect(await slackPosts(agent)).toHaveLength(1);
    await q(`insert into recording_access_log (recording_id, purpose, outcome, actor) values ($1, 'listen', 'granted', 'test')`, [r!.id]);
    await jobs();
    expect((await q<{ status: string }>(`select status from alerts where id = $1`, [a!.id]))[0]!.status).toBe('resolved');
    expect(JSON.parse((await slackPosts(agent))[1]!.body).blocks[0].text.text).toBe('✅ Resolvido: Recado de voz');
  });

  it('an agent whose name is longer than a label may be does not stop the evaluation: the label is cut, other alerts still open', async () => {
    const agent = 'Nome Muito Longo ' + 'x'.repeat(250);
    const [ag] = await q<{ id: string }>(`insert into agents (name, status) values ($1, 'offline') returning id`, [agent]);
    const callSid = newCallSid();
    await q(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', $2, '+551130001000', 'completed')`, [callSid, newMobile('11')]);
    const [r] = await q<{ id: string }>(
      `insert into recordings (recording_sid, call_sid, status, kind, agent_id, duration, created_at) values ($1, $2, 'completed', 'voicemail', $3, 5, app_now()) returning id`,
      ['RE' + randomBytes(16).toString('hex'), callSid, ag!.id],
    );
    const number = newMobile('61');
    await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
    await jobs();
    const [v] = await q<{ subject_label: string; status: string }>(`select subject_label, status from alerts where rule = 'voicemail' and detail->>'agent_id' = $1`, [ag!.id]);
    expect(v).toEqual({ subject_label: agent.slice(0, 200), status: 'open' });
    expect(await alertOf('caller_id_spam', `caller_id:${number}`)).toEqual([expect.objectContaining({ status: 'open' })]);
    await q(`insert into recording_access_log (recording_id, purpose, outcome, actor) values ($1, 'listen', 'granted', 'test')`, [r!.id]);
    await q(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [number]);
    await jobs();
  });

  it('LGPD: the caller quoted by a voicemail alert, its messages and a Debugger event is exported, and erased on request', async () => {
    const agent = `Bia Recado ${tag}`;
    const [ag] = await q<{ id: string }>(`insert into agents (name, status) values ($1, 'offline') returning id`, [agent]);
    const callSid = newCallSid();
    const caller = newMobile('11');
    await q(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', $2, '+551130001000', 'completed')`, [callSid, caller]);
    const [r] = await q<{ id: string }>(
      `insert into recordings (recording_sid, call_sid, status, kind, agent_id, duration, created_at) values ($1, $2, 'completed', 'voicemail', $3, 12, app_now()) returning id`,
      ['RE' + randomBytes(16).toString('hex'), callSid, ag!.id],
    );
    await jobs();
    const sid = 'NO' + randomBytes(16).toString('hex');
    const payload = { error_code: '11200', resource_sid: callSid, webhook: { request: { url: 'https://x/voice', parameters: { From: caller, To: '+551130001000' } } } };
    await q(`select alert_debugger_event($1, $2, 'Warning', '11200', $3, app_now(), $4::jsonb)`, [sid, 'AC' + 'a'.repeat(32), callSid, JSON.stringify(payload)]);
    const digits = caller.slice(3);
    const mentions = async () =>
      (await q<{ n: number }>(
        `select (select count(*) from alerts where (title || subject_label || detail::text) like '%' || $1 || '%')
              + (select count(*) from alert_deliveries where message::text like '%' || $1 || '%')
              + (select count(*) from alert_debugger_events where payload::text like '%' || $1 || '%') as n`,
        [digits],
      ))[0]!.n;
    expect(Number(await mentions())).toBe(1 + 2 + 1); // the alert, its Slack and WhatsApp messages, the event

    const [exp] = await q<{ doc: { counts: Record<string, number>; alerts: { title: string }[] } }>(`select lgpd_export($1, 'test') as doc`, [caller]);
    expect(exp!.doc.counts).toMatchObject({ alerts: 1, alert_deliveries: 2, alert_debugger_events: 1 });
    expect(exp!.doc.alerts[0]!.title).toBe(`Novo recado de voz para ${agent}: 12 s de ${caller}, ainda não ouvido`);

    await q(`select lgpd_erase($1, 'test', $2)`, [caller, [r!.id]]);
    expect(Number(await mentions())).toBe(0);
    const [a] = await q<{ title: string }>(`select title from alerts where rule = 'voicemail' and detail->>'agent_id' = $1`, [ag!.id]);
    expect(a!.title).toBe(`Novo recado de voz para ${agent}: 12 s de erased, ainda não ouvido`);
    const [ev] = await q<{ payload: { webhook: { request: { parameters: { From: string } } } } }>(`select payload from alert_debugger_events where sid = $1`, [sid]);
    expect(ev!.payload.webhook.request.parameters.From).toBe('erased');
    await q(`delete from alert_debugger_events where sid = $1`, [sid]);
    await q(`insert into recording_access_log (recording_id, purpose, outcome, actor) values ($1, 'listen', 'granted', 'test')`, [r!.id]);
    await jobs();
  });

  it("short calls: the Anatel monitor's projection near (warning) then over (critical, past the cool-down); a null monitor changes nothing", async () => {
    const number = newMobile('21');
    const monitor = (near: boolean, over: boolean) =>
      q(`create or replace function public.short_call_monitor(p_now timestamptz, p_settings jsonb) returns jsonb language sql stable set search_path = '' as $$
           select jsonb_build_object('short_call_seconds', 6, 'daily_calls_threshold', 100000, 'short_percent_threshold', 85, 'near_percent', 90,
             'account', jsonb_build_object('near', false, 'over', false, 'projected_ratio', 0.1, 'projected_calls', 1000),
             'caller_ids', jsonb_build_array(jsonb_build_object('caller_id', '${number}', 'near', ${near}, 'over', ${over},
               'projected_ratio', ${over ? 0.9 : 0.8}, 'projected_calls', 120000)))
         $$`);
    await monitor(true, false);
    await jobs();
    let [a] = await alertOf('short_calls', `caller_id:${number}`);
    expect(a).toMatchObject({
      status: 'open',
      severity: 'warning',
      title: `Chamadas curtas perto do limite da Anatel (${number}): projeção de 80,0% de chamadas curtas em 120000 chamadas hoje (limites 85,0% e 100000 chamadas)`,
    });
    await q(`create or replace function public.short_call_monitor(p_now timestamptz, p_settings jsonb) returns jsonb language sql stable set search_path = '' as $$ select 'null'::jsonb $$`);
    await jobs();
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('open'); // unknown: left as it is
    await monitor(true, true);
    await advance(11 * 60);
    await jobs();
    [a] = await alertOf('short_calls', `caller_id:${number}`);
    expect(a).toMatchObject({ severity: 'critical', notifications: 2 });
    await monitor(false, false);
    await jobs();
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('resolved');
    expect(await slackPosts(number)).toHaveLength(3);
  });

  it('a rule that fails alone: the others still open, its own open alerts stay open, and the failure is an alert until the rule runs again', async () => {
    const number = newMobile('31');
    const spammed = newMobile('41');
    const healthy = `create or replace function public.short_call_monitor(p_now timestamptz, p_settings jsonb) returns jsonb language sql stable set search_path = '' as $$
           select jsonb_build_object('short_call_seconds', 6, 'daily_calls_threshold', 100000, 'short_percent_threshold', 85, 'near_percent', 90,
             'account', jsonb_build_object('near', false, 'over', false, 'projected_ratio', 0.1, 'projected_calls', 1000),
             'caller_ids', jsonb_build_array(jsonb_build_object('caller_id', '${number}', 'near', true, 'over', false, 'projected_ratio', 0.8, 'projected_calls', 120000)))
         $$`;
    await q(healthy);
    await jobs();
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('open');

    // The monitor breaks (a bug, a row it did not expect); meanwhile a number is flagged as spam.
    await q(`create or replace function public.short_call_monitor(p_now timestamptz, p_settings jsonb) returns jsonb language plpgsql stable set search_path = '' as $$
               begin raise exception 'monitor broke' using errcode = '22012'; end $$`);
    await q(`insert into phone_numbers (phone_number, daily_cap, spam_flagged_at) values ($1, 50, app_now())`, [spammed]);
    const round = await jobs();
    expect(round.status).toBe(200);
    expect((await alertOf('caller_id_spam', `caller_id:${spammed}`))[0]).toMatchObject({ status: 'open', severity: 'critical' });
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('open'); // unknown while failing: not resolved
    const [failed] = await alertOf('rule_failed', 'rule:short_calls');
    expect(failed).toMatchObject({
      status: 'open',
      severity: 'critical',
      title: 'A regra de alerta "Chamadas curtas (Anatel)" falhou e não está sendo avaliada: monitor broke',
      notifications: 1,
    });
    const [detail] = await q<{ detail: unknown }>(`select detail from alerts where id = $1`, [failed!.id]);
    expect(detail!.detail).toEqual({ rules: ['short_calls'], error: 'monitor broke', sqlstate: '22012' });
    expect((await slackPosts('monitor broke')).map((p) => (JSON.parse(p.body) as { blocks: { text: { text: string } }[] }).blocks[0]!.text.text)).toEqual([
      '🔴 Alerta crítico: Regra de alerta com falha',
    ]);
    await jobs(); // still failing: announced once
    expect(await slackPosts('monitor broke')).toHaveLength(1);

    await q(healthy);
    await jobs();
    expect((await alertOf('rule_failed', 'rule:short_calls'))[0]!.status).toBe('resolved');
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('open');
    await q(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [spammed]);
    await q(healthy.replace("'near', true", "'near', false"));
    await jobs();
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('resolved');
  });
});

describe('/webhooks/debugger', () => {
  const url = () => `${stack.env.FUNCTIONS_BASE_URL}/webhooks/debugger`;
  const event = (over: Record<string, string> = {}) => ({
    Sid: 'NO' + randomBytes(16).toString('hex'),
    AccountSid: stack.env.TWILIO_ACCOUNT_SID,
    Timestamp: new Date().toISOString(),
    Level: 'Error',
    PayloadType: 'application/json',
    Payload: JSON.stringify({ resource_sid: newCallSid(), service_sid: null, error_code: '11200', more_info: { Msg: 'HTTP retrieval failure' }, webhook: { request: { url: 'https://x/voice' } } }),
    ...over,
  });

  it('unsigned: 401 (as Twilio answers a protected function), nothing stored; malformed: 400, nothing stored; signed: stored once per Sid, alerted by the heartbeat, resolved after the quiet minutes', async () => {
    const unsigned = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(event()).toString() });
    expect(unsigned.status).toBe(401);
    const bad = await signedPost(url(), event({ Payload: '{"error_code": "abc"}' }), stack.env.TWILIO_AUTH_TOKEN);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_parameters');
    expect(await q(`select 1 from alert_debugger_events`)).toEqual([]);

    const e = event();
    expect((await signedPost(url(), e, stack.env.TWILIO_AUTH_TOKEN)).status).toBe(204);
    expect((await signedPost(url(), e, stack.env.TWILIO_AUTH_TOKEN)).status).toBe(204); // Twilio's retry: the same Sid
    expect((await signedPost(url(), event({ Level: 'INFO' }), stack.env.TWILIO_AUTH_TOKEN)).status).toBe(204); // not an alert
    expect(await q(`select sid, level, error_code from alert_debugger_events`)).toEqual([{ sid: e.Sid, level: 'Error', error_code: '11200' }]);
    await jobs();
    const [a] = await alertOf('twilio_debugger', 'debugger:11200');
    const resource = (JSON.parse(e.Payload) as { resource_sid: string }).resource_sid;
    expect(a).toMatchObject({ status: 'open', severity: 'critical', title: `Twilio: erro 11200, eventos nos últimos 15 min: 1 (recurso ${resource})` });
    expect(await slackPosts('Twilio: erro 11200')).toHaveLength(1);
    // Quiet for ALERT_DEBUGGER_QUIET_MINUTES (15): resolved.
    await advance(16 * 60);
    await jobs();
    expect((await alertOf('twilio_debugger', 'debugger:11200'))[0]!.status).toBe('resolved');
    const posts = await slackPosts('Twilio: erro 11200');
    expect(posts).toHaveLength(2);
    expect(JSON.parse(posts[1]!.body).blocks[0].text.text).toBe('✅ Resolvido: Erros da Twilio');
  });
});

describe('delivery failures', () => {
  it('Slack answering 500 is retried with backoff, then given up and reported on WhatsApp and the board; Slack back: the report resolves', async () => {
    await slackMode({ status: 500 });
    const number = newMobile('31');
    await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
    const before = (await slackPosts()).length;
    await jobs();
    const [a] = await alertOf('caller_id_spam', `caller_id:${number}`);
    let ds = await deliveriesOf(a!.id);
    expect(ds.map((d) => [d.channel, d.status, d.attempts])).toEqual([['slack', 'pending', 1], ['whatsapp', 'sent', 1]]);
    await jobs(); // the retry is not due yet (1 s backoff on the app clock)
    await advance(2);
    await jobs();
    await advance(3);
    await jobs();
    ds = await deliveriesOf(a!.id);
    expect(ds.map((d) => [d.channel, d.status, d.attempts])).toEqual([['slack', 'failed', 3], ['whatsapp', 'sent', 1]]);
    expect((await slackPosts()).length - before).toBe(3);

    const [failing] = await alertOf('channel_failing', 'channel:slack');
    expect(failing).toMatchObject({ status: 'open', severity: 'critical', title: 'Canal de alertas Slack falhando: mensagens não entregues: 1 (slack: HTTP 500 internal_error)' });
    await jobs(); // the report was queued when the last try failed: the next heartbeat sends it
    expect(waMessages('Canal de alertas Slack falhando')).toHaveLength(1);
    expect(await deliveriesOf(failing!.id)).toEqual([expect.objectContaining({ channel: 'whatsapp', kind: 'opened', status: 'sent' })]);

    // On the board (supervisor session).
    const login = await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'supervisor@discador.local', password: 'demo-supervisor' }),
    });
    const { token } = (await login.json()) as { token: string };
    const board = (await (await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/board`, { headers: { authorization: `Bearer ${token}` } })).json()) as { alerts: Record<string, unknown>[] };
    expect(board.alerts.find((x) => x['rule'] === 'channel_failing')).toEqual({
      id: Number(failing!.id),
      rule: 'channel_failing',
      subject: 'channel:slack',
      subject_label: 'Slack',
      severity: 'critical',
      title: failing!.title,
      value: 1,
      threshold: null,
      opened_at: expect.any(String),
      last_sent_at: expect.any(String),
      notifications: 1,
      seconds_open: expect.any(Number),
      detail: { last_error: 'slack: HTTP 500 internal_error' },
    });
    expect(board.alerts.some((x) => x['subject'] === `caller_id:${number}`)).toBe(true);

    await slackMode({ status: 200 });
    await q(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [number]);
    await jobs(); // the resolved message of the spam alert gets through: the channel works again
    await jobs();
    expect((await alertOf('channel_failing', 'channel:slack'))[0]!.status).toBe('resolved');
    const resolvedPost = (await slackPosts('Canal de alertas Slack')).at(-1)!;
    expect(JSON.parse(resolvedPost.body).blocks[0].text.text).toBe('✅ Resolvido: Canal de alertas');
  });

  it('an alert resolved while its opened message is still retrying on Slack: the opened one is dropped, only the resolved one goes out', async () => {
    await slackMode({ status: 500 });
    const number = newMobile('41');
    await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
    await jobs();
    const [a] = await alertOf('caller_id_spam', `caller_id:${number}`);
    expect((await deliveriesOf(a!.id)).map((d) => [d.kind, d.channel, d.status])).toEqual([['opened', 'slack', 'pending'], ['opened', 'whatsapp', 'sent']]);
    await q(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [number]);
    await jobs(); // resolved: the pending opened message on Slack is superseded
    await slackMode({ status: 200 });
    const before = (await slackPosts(number)).length;
    await advance(60);
    await jobs();
    await advance(60);
    await jobs();
    const after = (await slackPosts(number)).slice(before).map((p) => (JSON.parse(p.body) as { blocks: { text: { text: string } }[] }).blocks[0]!.text.text);
    expect(after).toEqual(['✅ Resolvido: Número marcado como spam']);
    const ds = await q<{ kind: string; channel: string; status: string; last_error: string | null }>(
      `select kind, channel, status, last_error from alert_deliveries where alert_id = $1 order by id`,
      [a!.id],
    );
    expect(ds.map((d) => [d.kind, d.channel, d.status, d.last_error])).toEqual([
      ['opened', 'slack', 'failed', 'superseded'],
      ['opened', 'whatsapp', 'sent', null],
      ['resolved', 'slack', 'sent', null],
      ['resolved', 'whatsapp', 'sent', null],
    ]);
  });

  it('a channel no longer configured: its pending messages are dropped without a report, its failure report closes silently', async () => {
    const number = newMobile('51');
    await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
    await jobs();
    const [a] = await alertOf('caller_id_spam', `caller_id:${number}`);
    // As if SMS had been configured when these were queued.
    await q(`select alert_enqueue($1, 'worse', array['sms'], app_now())`, [a!.id]);
    await q(
      `insert into alerts (rule, subject, subject_label, status, severity, title, value, first_seen_at, opened_at, updated_at)
       values ('channel_failing', 'channel:sms', 'SMS', 'open', 'critical', 'Canal de alertas SMS falhando', 5, app_now(), app_now(), app_now())`,
    );
    const slackBefore = (await slackPosts('SMS')).length;
    await jobs();
    expect(await q(`select status, last_error from alert_deliveries where alert_id = $1 and channel = 'sms'`, [a!.id])).toEqual([{ status: 'failed', last_error: 'channel_removed' }]);
    expect(await q(`select status, notifications from alerts where rule = 'channel_failing' and subject = 'channel:sms'`)).toEqual([{ status: 'resolved', notifications: 0 }]);
    await jobs();
    expect(await slackPosts('SMS')).toHaveLength(slackBefore);
    await q(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [number]);
    await jobs();
  });

  it('a Slack that never answers: the heartbeat answers within its budget and a voice flow meanwhile is not slowed', async () => {
    await slackMode({ hang: true });
    const number = newMobile('41');
    await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
    const heartbeat = jobs();
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    const voice = await signedPost(
      `${stack.env.FUNCTIONS_BASE_URL}/voice/inbound`,
      voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: '+551130001000' }, stack.env.TWILIO_ACCOUNT_SID),
      stack.env.TWILIO_AUTH_TOKEN,
    );
    const voiceMs = Date.now() - t;
    expect(voice.status).toBe(200);
    expect(voiceMs).toBeLessThan(1500);
    const run = await heartbeat;
    expect(run.status).toBe(200);
    expect(run.ms).toBeLessThan(6000);
    const [a] = await alertOf('caller_id_spam', `caller_id:${number}`);
    const ds = await deliveriesOf(a!.id);
    expect(ds.find((d) => d.channel === 'slack')).toMatchObject({ status: 'pending', attempts: 1 });
    expect((run.body.alerts['deliveries'] as { channel: string; ok: boolean; error?: string }[]).find((d) => d.channel === 'slack')).toEqual(
      expect.objectContaining({ ok: false, error: 'slack: no answer within 3000 ms' }),
    );
    await slackMode({ status: 200 });
  });
});

describe('the database unreachable from the functions', () => {
  it('alerts from the functions themselves once per cool-down (a poll or the heartbeat, whichever notices), and records the outage with a resolved message when the database is back', async () => {
    await slack().clear();
    await stack.control('db:stop');
    try {
      // A page's poll notices first (any /api function): it alerts on its own.
      const poll = await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/board`, { headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` } });
      expect(poll.status).toBe(503);
      expect(await slackPosts('Banco de dados inacessível')).toHaveLength(1);
      // The heartbeat, twice, in the same process and within the cool-down: nothing more.
      const first = await jobs();
      expect(first.status).toBe(503);
      expect(first.body.alerts).toBeUndefined();
      const again = await jobs();
      expect(again.status).toBe(503);
      const posts = await slackPosts('Banco de dados inacessível');
      expect(posts).toHaveLength(1);
      const body = JSON.parse(posts[0]!.body) as { text: string; blocks: { text?: { text: string } }[] };
      expect(body.blocks[0]!.text!.text).toBe('🔴 Alerta crítico: Banco de dados');
      expect(body.text).toMatch(/^🔴 Alerta crítico: Banco de dados inacessível pelas funções desde \d\d\/\d\d\/\d{4}, \d\d:\d\d: chamadas seguem pelo caminho de contingência$/);
      expect(waMessages('Banco de dados inacessível')).toHaveLength(1);
    } finally {
      await stack.control('db:start');
    }
    // PostgREST reconnects within a few seconds.
    let back = await jobs();
    for (let i = 0; i < 20 && back.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      back = await jobs();
    }
    expect(back.status).toBe(200);
    const [a] = await q<{ status: string; title: string }>(`select status, title from alerts where rule = 'db_unreachable'`);
    expect(a).toEqual({ status: 'resolved', title: 'Banco de dados inacessível pelas funções por 1 min' });
    const posts = await slackPosts('Banco de dados inacessível');
    expect(posts).toHaveLength(2);
    expect(JSON.parse(posts[1]!.body).blocks[0].text.text).toBe('✅ Resolvido: Banco de dados');
  });

  it('an outage recorded first by a process that could not announce it still gets its resolved message from the one that did', async () => {
    const settings = { texts: { labels: { database: 'Banco de dados' }, db_unreachable: { critical: 'Banco de dados inacessível pelas funções por {minutes} min' } } };
    const since = new Date(Date.now() + 86_400_000 * 3);
    const until = new Date(since.getTime() + 120_000);
    const [first] = await q<{ r: Record<string, unknown> }>(`select alert_db_outage($1, $2, array['slack'], $3, false) as r`, [since, until, settings]);
    expect(first!.r).toMatchObject({ recorded: true });
    const id = String(first!.r['alert_id']);
    expect(await q(`select kind from alert_deliveries where alert_id = $1`, [id])).toEqual([]);
    const [second] = await q<{ r: Record<string, unknown> }>(`select alert_db_outage($1, $2, array['slack'], $3, true) as r`, [since, until, settings]);
    expect(second!.r).toEqual({ recorded: false, alert_id: Number(id), resolved_message: true });
    expect(await q(`select kind, channel from alert_deliveries where alert_id = $1`, [id])).toEqual([{ kind: 'resolved', channel: 'slack' }]);
    const [third] = await q<{ r: Record<string, unknown> }>(`select alert_db_outage($1, $2, array['slack'], $3, true) as r`, [since, until, settings]);
    expect(third!.r).toEqual({ recorded: false });
  });
});

describe('the short-call rule from real call rows', () => {
  it("through the real monitor: a caller ID near Anatel's thresholds opens a warning, over them a critical one, and its calls gone resolve it", async () => {
    await q(realMonitor);
    // No calling window open: the projection is today's own count (docs/anatel.md).
    await q(`update campaigns set status = 'finished' where status <> 'finished'`);
    const number = newMobile('51');
    /** n unanswered attempts from `number` today (São Paulo), 10 minutes ago on the database's clock. */
    const place = (n: number, batch: string) =>
      q(
        `insert into calls (call_sid, direction, caller_id, from_number, to_number, status, duration, created_at)
         select 'CA' || md5($1 || $3 || g::text), 'outbound-api', $1, $1, '+5511' || (900000000 + g)::text, 'no-answer', 0, x.t
           from generate_series(1, $2::int) g,
                (select greatest(app_now() - interval '10 minutes',
                                 (date_trunc('day', app_now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo') + interval '1 second') as t) x`,
        [number, n, batch],
      );
    // 85,000 of the default 100,000 calls a day, every one short: past 80 % of both thresholds.
    await place(85_000, 'a');
    await jobs();
    let [a] = await alertOf('short_calls', `caller_id:${number}`);
    expect(a).toMatchObject({
      status: 'open',
      severity: 'warning',
      title: `Chamadas curtas perto do limite da Anatel (${number}): projeção de 100,0% de chamadas curtas em 85000 chamadas hoje (limites 85,0% e 100000 chamadas)`,
    });
    await place(20_000, 'b');
    await jobs();
    [a] = await alertOf('short_calls', `caller_id:${number}`);
    expect(a).toMatchObject({ status: 'open', severity: 'critical', notifications: 2 });
    expect(a!.title).toContain('acima do limite da Anatel');
    await q(`delete from calls where caller_id = $1`, [number]);
    await jobs();
    expect((await alertOf('short_calls', `caller_id:${number}`))[0]!.status).toBe('resolved');
    expect((await slackPosts(number)).map((p) => (JSON.parse(p.body) as { blocks: { text: { text: string } }[] }).blocks[0]!.text.text)).toEqual([
      '🟠 Alerta: Chamadas curtas (Anatel)',
      '🔴 Alerta crítico (piorou): Chamadas curtas (Anatel)',
      '✅ Resolvido: Chamadas curtas (Anatel)',
    ]);
  }, 120_000);
});
