/**
 * The demo call center `npm start` runs (docs/demo.md): emulated agents sign in and work a
 * predictive campaign and a service queue through the stack's real functions and database,
 * on the stack's own Twilio emulator, so the supervisor's board moves within seconds and a
 * person can sign in as Ana on the agent page and take a call.
 *
 * The clock stays real (speed 1): a person on the agent page and the database's history need
 * real time. What is compressed is the behaviour: customers answer within seconds, talks last
 * seconds instead of minutes, wrap-up is short and callers ring the service number every few
 * seconds (DEMO_SCENARIO).
 *
 * Pieces reused from the live campaign simulation (simlive/): EmulatedAgent (the agent page's
 * requests and the softphone's shift leg), FateBook and routeRoomEvents (who answers a dial,
 * and room events to the agent who hears them), generateLeads and the disposition list.
 *
 * Everything it writes is idempotent across restarts of a persistent stack: the campaign,
 * queue, numbers and agents are found by name / number / e-mail and brought to the demo's
 * settings; leads are topped up to a floor, never piled up.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Emulator, PartySpec } from '../emulator';
import { mixSeed, mulberry32, type Random } from '../simulator/prng';
import { draw, parseScenario } from '../simulator/scenario';
import { hashPassword } from '../src/lib/domain/auth/password';
import { smsUrl, statusCallbackUrl, voiceFallbackUrl } from '../src/lib/domain/callback-urls';
import { EmulatedAgent, type DispositionChoice } from '../simlive/agents';
import { generateLeads } from '../simlive/leads';
import { SIM_DISPOSITIONS } from '../simlive/setup';
import { FateBook, routeRoomEvents } from '../simlive/world';
import type { LocalPostgres } from './postgres';

/** The names the demo's rows go by (found again by these on every start). */
export const DEMO = {
  campaign: 'Demonstração preditiva',
  queue: 'demo',
  /** The service number callers ring: an emulator number (the stack's own emulator owns it). */
  serviceNumber: '+551130099000',
  /** The campaign's caller IDs: emulator numbers of six DDDs (local presence). */
  pool: ['+551130090001', '+552130090002', '+553130090003', '+554130090004', '+555130090005', '+556130090006'],
  /** The person's agent: never signed in by the demo; serves the demo queue and campaign. */
  freeAgent: { email: 'ana@discador.local', password: 'demo-ana' },
} as const;

/** The emulated agents' people (their own users: never the seed's Ana or Bruno). */
export const DEMO_AGENTS = [
  { name: 'Beatriz Rocha', email: 'beatriz.demo@discador.local' },
  { name: 'Caio Mendes', email: 'caio.demo@discador.local' },
  { name: 'Débora Nunes', email: 'debora.demo@discador.local' },
  { name: 'Everton Reis', email: 'everton.demo@discador.local' },
  { name: 'Fernanda Luz', email: 'fernanda.demo@discador.local' },
  { name: 'Gustavo Prado', email: 'gustavo.demo@discador.local' },
  { name: 'Helena Castro', email: 'helena.demo@discador.local' },
  { name: 'Igor Tavares', email: 'igor.demo@discador.local' },
  { name: 'Júlia Moraes', email: 'julia.demo@discador.local' },
  { name: 'Kleber Antunes', email: 'kleber.demo@discador.local' },
  { name: 'Lívia Campos', email: 'livia.demo@discador.local' },
  { name: 'Mateus Farias', email: 'mateus.demo@discador.local' },
] as const;
export const DEFAULT_DEMO_AGENTS = 6;

/**
 * Who the campaign's dials reach and how long everything takes, in the pacing simulator's
 * scenario format (simulator/README.md), compressed for a floor that moves within seconds:
 * half the dials reach a person after 2–6 s of ringing (a real list: about a quarter, after
 * 11 s), talks of 8–45 s (real: minutes), 2–5 s of wrap-up.
 */
export const DEMO_SCENARIO = parseScenario({
  name: 'demo',
  description: 'The demo call center of npm start: real-time clock, compressed behaviour.',
  seed: 1,
  agents: DEFAULT_DEMO_AGENTS,
  shiftHours: 24,
  leads: { human: 0.5, machine: 0.2, busy: 0.1, noAnswer: 0.2 },
  ring: {
    humanAnswer: { dist: 'uniform', min: 2, max: 6 },
    machineAnswer: { dist: 'uniform', min: 3, max: 7 },
    busy: { dist: 'uniform', min: 1, max: 3 },
    noAnswerTimeoutS: 15,
  },
  amd: { delay: { dist: 'uniform', min: 1.5, max: 3 }, humanAccuracy: 0.96, machineAccuracy: 0.85 },
  disclaimerS: 10,
  abandonGraceS: 2,
  patience: { dist: 'lognormal', mean: 8, sd: 4, min: 3 },
  talk: { dist: 'lognormal', mean: 18, sd: 8, min: 8, max: 45 },
  machineTalk: { dist: 'uniform', min: 3, max: 6 },
  wrapUp: { dist: 'uniform', min: 2, max: 5 },
  campaign: { cps: 3, maxLines: 12, abandonCap: 0.03 },
});

/** Mean seconds between two callers to the service number. */
export const DEMO_INBOUND_MEAN_S = 8;
/** No new caller while this many demo callers are still on the line (agents gone, queue full). */
export const DEMO_INBOUND_MAX_LIVE = 6;
/** A caller's patience in the queue (hangs up after it unless an agent answers). */
const INBOUND_PATIENCE = { dist: 'uniform', min: 30, max: 90 } as const;
/** Every customer hangs up after this long on the line, so a call a person leaves open ends. */
const CUSTOMER_MAX_SECONDS = 600;
/** Mean seconds between two agents' breaks, how long one lasts, and the reasons (in AGENT_PAUSE_REASONS' default list). */
const DEMO_PAUSE_MEAN_S = 45;
const DEMO_PAUSE_LENGTH = { dist: 'uniform', min: 10, max: 25 } as const;
const DEMO_PAUSE_REASONS = ['Intervalo', 'Banheiro', 'Feedback'];
/** Pending leads kept in the campaign: below LEADS_FLOOR, LEADS_BATCH more are added. */
export const LEADS_FLOOR = 150;
export const LEADS_BATCH = 300;
/** Seconds between the agents' polls of /api/agent/state (the page polls about as often). */
const POLL_S = 3;

/** What agents pick at wrap-up: the campaign's list without the callback (a caller who rang in has no lead to call back). */
export const DEMO_DISPOSITIONS: readonly DispositionChoice[] = SIM_DISPOSITIONS.filter((d) => d.callbackMinutes === undefined).map(({ code, weight }) => ({ code, weight }));

/** What the demo set up, for the banner and the tests. */
export interface DemoInfo {
  campaignId: number;
  campaign: string;
  queue: string;
  serviceNumber: string;
  agents: { id: number; email: string; name: string }[];
  freeAgentId: number | null;
  leadsAdded: number;
}

export interface Demo {
  info: DemoInfo;
  /** Calls the demo started (dials drawn, callers placed) and how many agents are working. */
  stats(): { dials: number; inbound: number; working: number; agentErrors: number };
  /**
   * Stops the demo: no new dials or callers (the campaign paused), agents cut their calls short,
   * dispose and sign out, every demo call still on the emulator is hung up and its status
   * delivered, within about 10 s.
   */
  stop(): Promise<{ hungUp: number; drained: boolean }>;
  /** Second Ctrl-C: drops everything without a word to the functions. */
  abort(): void;
}

export interface DemoOptions {
  db: LocalPostgres;
  emu: Emulator;
  functionsUrl: string;
  /** The emulated agents (1–12). */
  agents?: number;
  log?: (line: string) => void;
}

/** The stack's emulator asks this for every new leg's party; the running demo plugs its FateBook in. */
export const demoParties: { resolver: ((address: string) => PartySpec | undefined) | null } = { resolver: null };

/** Writes (or brings back to the demo's settings) the campaign, queue, numbers, agents and leads. */
export async function setUpDemo(db: LocalPostgres, o: { agents: number; password: string }): Promise<DemoInfo> {
  const people = DEMO_AGENTS.slice(0, o.agents);
  const dispositions = JSON.stringify(SIM_DISPOSITIONS.map(({ code, label, outcome }) => ({ code, label, outcome })));
  const settings = [
    DEMO_SCENARIO.campaign.maxLines, DEMO_SCENARIO.campaign.abandonCap, DEMO_SCENARIO.campaign.cps, dispositions,
    DEMO_SCENARIO.ring.noAnswerTimeoutS,
  ];
  // Always open (every hour, every day, holidays too): the demo dials only the emulator's
  // parties, and a newcomer at 23:00 or on a Sunday must see it move.
  const columns = `kind = 'collections', mode = 'predictive', dial_ratio = 2, max_lines = $2, abandon_cap = $3, calls_per_second = $4,
    pacing_behaviour = 'ADAPT_TAPERED', window_profile = 'custom', weekday_start = '00:00', weekday_end = '24:00',
    saturday_start = '00:00', saturday_end = '24:00', allow_sunday = true, sunday_start = '00:00', sunday_end = '24:00',
    skip_holidays = false, amd_machine = 'hangup', amd_unknown = 'connect', amd_human_accuracy = 0.96,
    whisper_template = 'Cliente {nome}, {dias_atraso} dias de atraso, valor R$ {valor}', dispositions = $5::jsonb,
    abandon_treatment = 'callback', company_name = 'Discador Demonstração', ring_timeout = $6, local_presence = true`;
  let [campaign] = await db.query<{ id: string }>(`update public.campaigns set ${columns}, status = 'active', started_at = coalesce(started_at, public.app_now()), updated_at = public.app_now() where name = $1 returning id`, [DEMO.campaign, ...settings]);
  if (!campaign) {
    [campaign] = await db.query<{ id: string }>(
      `insert into public.campaigns (name, status, started_at) values ($1, 'paused', public.app_now())
       on conflict (name) do nothing returning id`,
      [DEMO.campaign],
    );
    [campaign] = await db.query<{ id: string }>(`update public.campaigns set ${columns}, status = 'active' where name = $1 returning id`, [DEMO.campaign, ...settings]);
  }
  const campaignId = Number(campaign!.id);

  // The emulated agents: their own users (created once; a fresh password on every start, so
  // nobody needs to know one), working the demo campaign.
  const hash = await hashPassword(o.password);
  const agents: DemoInfo['agents'] = [];
  for (const [i, p] of people.entries()) {
    const [user] = await db.query<{ id: string }>('select id from public.users where lower(email) = lower($1)', [p.email]);
    if (user) await db.query('update public.users set password_hash = $2, password_changed_at = now(), disabled_at = null, is_active = true where id = $1', [user.id, hash]);
    else await db.query(`select public.auth_create_user($1, $2, 'agent', $3, $4, null)`, [p.email, p.name, hash, `demo_${i + 1}`]);
    const [a] = await db.query<{ id: string }>(
      `update public.agents a set campaign_id = $2, is_active = true from public.users u
        where u.agent_id = a.id and lower(u.email) = lower($1) returning a.id`,
      [p.email, campaignId],
    );
    agents.push({ id: Number(a!.id), email: p.email, name: p.name });
  }
  // The person's agent serves the demo too (campaign and queue), when she works no other campaign.
  const [free] = await db.query<{ id: string }>(
    `update public.agents a set campaign_id = coalesce(a.campaign_id, $2) from public.users u
      where u.agent_id = a.id and lower(u.email) = lower($1) returning a.id`,
    [DEMO.freeAgent.email, campaignId],
  );
  const freeAgentId = free ? Number(free.id) : null;

  // The service queue: only the demo's agents (and Ana) serve it.
  const servers = [...agents.map((a) => a.id), ...(freeAgentId === null ? [] : [freeAgentId])];
  await db.query(
    `insert into public.service_queues (name, announce_every_seconds, max_wait_seconds, on_max_wait, service_level_seconds, agent_ids)
     values ($1, 30, 120, 'voicemail', 20, $2::bigint[])
     on conflict (name) do update set announce_every_seconds = 30, max_wait_seconds = 120, on_max_wait = 'voicemail',
       service_level_seconds = 20, agent_ids = excluded.agent_ids, updated_at = public.app_now()`,
    [DEMO.queue, servers],
  );

  // Numbers: the caller-ID pool and the service number, emulator numbers only.
  await db.query(
    `insert into public.phone_numbers (phone_number, friendly_name, number_type, daily_cap)
     select n, 'Demonstração ' || n, 'local', 20000 from unnest($1::text[]) n
     on conflict (phone_number) do update set is_active = true`,
    [DEMO.pool],
  );
  await db.query(
    `insert into public.phone_numbers (phone_number, friendly_name, number_type, service_queue)
     values ($1, 'Central de demonstração', 'local', $2)
     on conflict (phone_number) do update set service_queue = excluded.service_queue, is_active = true`,
    [DEMO.serviceNumber, DEMO.queue],
  );

  const leadsAdded = await topUpLeads(db, campaignId);
  return { campaignId, campaign: DEMO.campaign, queue: DEMO.queue, serviceNumber: DEMO.serviceNumber, agents, freeAgentId, leadsAdded };
}

/** Adds LEADS_BATCH leads when fewer than LEADS_FLOOR are pending; answers how many were added. */
export async function topUpLeads(db: LocalPostgres, campaignId: number): Promise<number> {
  const [{ n } = { n: '0' }] = await db.query<{ n: string }>(`select count(*)::text as n from public.leads where campaign_id = $1 and status = 'pending'`, [campaignId]);
  if (Number(n) >= LEADS_FLOOR) return 0;
  const leads = generateLeads(LEADS_BATCH, randomInt(2 ** 31), { optOutShare: 0, badDddCount: 0 });
  const rows = await db.query(
    `insert into public.leads (campaign_id, phone_number, name, data)
     select $1, p, n, d from unnest($2::text[], $3::text[], $4::jsonb[]) as t(p, n, d)
     where not exists (select 1 from public.opt_outs o where o.phone_number = p)
     on conflict (campaign_id, phone_number) do nothing returning id`,
    [campaignId, leads.map((l) => l.phone), leads.map((l) => l.name), leads.map((l) => JSON.stringify(l.fields))],
  );
  return rows.length;
}

/**
 * Ends what a previous demo left behind when its stack went away without draining it (Ctrl-C
 * in a terminal stops Postgres and the functions at the same moment as the demo, kill -9): its
 * calls still live in the database, on an emulator that no longer exists, and its agents still
 * signed in. Each such call gets the final status Twilio would have sent (through
 * apply_call_status, what /webhooks/call-status runs: agent, lead and queue follow), then the
 * demo's agents go offline. Only for a stack with its own emulator (every call it knew died
 * with it) and only the demo's rows: its campaign, its service number, its agents.
 */
export async function closeDemoLeftovers(db: LocalPostgres): Promise<{ calls: number; agents: number }> {
  const emails = DEMO_AGENTS.map((a) => a.email);
  const demoAgents = `select a.id from public.agents a join public.users u on u.agent_id = a.id where lower(u.email) = any($3::text[])`;
  // The dead emulator's legs are out of the demo agents' rooms (else a shift leg ending would
  // hand the agent one of them as its new shift leg).
  await db.query(`update public.agent_room_legs set left_at = public.app_now() where left_at is null and agent_id in (${demoAgents.replace('$3', '$1')})`, [emails]);
  const calls = await db.query<{ call_sid: string; status: string }>(
    `select c.call_sid, c.status from public.calls c
      where c.call_sid is not null and c.ended_at is null and c.status in ('queued', 'initiated', 'ringing', 'in-progress')
        and (c.campaign_id in (select id from public.campaigns where name = $1) or c.to_number = $2
             or c.agent_id in (${demoAgents}) or c.call_sid in (select a.shift_call_sid from public.agents a where a.id in (${demoAgents})))`,
    [DEMO.campaign, DEMO.serviceNumber, emails],
  );
  for (const c of calls) {
    await db.query('select public.apply_call_status($1::jsonb)', [
      JSON.stringify({ call_sid: c.call_sid, call_status: c.status === 'in-progress' ? 'completed' : 'canceled', kind: 'status', event_at: new Date().toISOString(), wrap_up_seconds: 0 }),
    ]);
  }
  await db.query(`update public.agents set shift_call_sid = null, room_conference_sid = null where shift_call_sid is not null and id in (${demoAgents.replace('$3', '$1')})`, [emails]);
  const agents = await db.query(
    `select public.agent_transition(a.id, 'offline', null, 'system', null) from public.agents a where a.id in (${demoAgents.replace('$3', '$1')}) and a.status <> 'offline'`,
    [emails],
  );
  return { calls: calls.length, agents: agents.length };
}

/** Numbers of the campaign's leads that may still be dialed (the FateBook plays them). */
async function leadNumbers(db: LocalPostgres, campaignId: number): Promise<string[]> {
  const rows = await db.query<{ phone_number: string }>(`select phone_number from public.leads where campaign_id = $1 and status in ('pending', 'dialing')`, [campaignId]);
  return rows.map((r) => r.phone_number);
}

/** A Brazilian mobile number for a caller (never one of the account's). */
function callerNumber(random: Random): string {
  const ddds = [11, 11, 11, 21, 31, 41, 51, 61, 71, 81];
  return `+55${ddds[Math.floor(random() * ddds.length)]}9${String(Math.floor(random() * 1e8)).padStart(8, '0')}`;
}

/** Sets up and starts the demo on a running stack with its own emulator (speed 1). */
export async function startDemo(o: DemoOptions): Promise<Demo> {
  const log = o.log ?? (() => undefined);
  const count = o.agents ?? DEFAULT_DEMO_AGENTS;
  if (!(Number.isInteger(count) && count >= 1 && count <= DEMO_AGENTS.length)) throw new Error(`--demo-agents must be a whole number from 1 to ${DEMO_AGENTS.length}`);
  const { db, emu, functionsUrl } = o;
  const password = randomBytes(18).toString('base64url');
  // The stack registered the numbers that were already in the pool when it started.
  const registered = new Set(
    (await db.query<{ phone_number: string }>('select phone_number from public.phone_numbers where is_active and phone_number = any($1::text[])', [[...DEMO.pool, DEMO.serviceNumber]])).map((r) => r.phone_number),
  );
  const info = await setUpDemo(db, { agents: count, password });
  log(`demo: campaign ${info.campaignId}, ${info.agents.length} agents, ${info.leadsAdded} leads added, queue ${info.queue} on ${info.serviceNumber}`);

  // The numbers the demo added since the stack registered the pool: the emulator owns them too.
  const at = { baseUrl: functionsUrl };
  for (const n of [...DEMO.pool, DEMO.serviceNumber].filter((x) => !registered.has(x))) {
    emu.addNumber({
      phoneNumber: n,
      voiceUrl: n === DEMO.serviceNumber ? `${functionsUrl}/voice/service` : `${functionsUrl}/voice/inbound`,
      voiceFallbackUrl: voiceFallbackUrl(at), statusCallback: statusCallbackUrl(at), smsUrl: smsUrl(at),
    });
  }

  const seed = randomInt(2 ** 31);
  const random = mulberry32(mixSeed(seed, 0xde40));
  const numbers = new Set(await leadNumbers(db, info.campaignId));
  const fates = new FateBook(DEMO_SCENARIO, seed, numbers);
  // Every customer hangs up after CUSTOMER_MAX_SECONDS at the latest (a person may leave Ana's call open).
  demoParties.resolver = (address) => {
    const p = fates.resolver(address);
    return p && p.outcome === 'answer' ? { ...p, hangupAfter: CUSTOMER_MAX_SECONDS } : p;
  };
  const offFates = fates.attach(emu);

  const agentEnv = { functionsUrl, softphoneUrl: emu.softphone.socketUrl, clock: emu.clock, pollS: POLL_S, dispositions: DEMO_DISPOSITIONS, log };
  const agents = info.agents.map((a) => new EmulatedAgent(agentEnv, a.id, a.email, password, seed));
  const byId = new Map(agents.map((a) => [a.id, a]));
  const inboundTiming = () => ({ talkS: draw(DEMO_SCENARIO.talk, random), wrapS: draw(DEMO_SCENARIO.wrapUp, random) });
  const { off: offRooms } = routeRoomEvents(emu, byId, fates, log, inboundTiming);

  let running = true;
  const stopped = new AbortController();
  const sleep = (ms: number) => emu.clock.sleep(ms, stopped.signal).catch(() => undefined);
  const tasks: Promise<unknown>[] = [];

  // Sign-in: two at a time (each is a scrypt check on the functions' side), then a watchdog
  // brings back an agent whose shift leg dropped.
  const startAgent = async (a: EmulatedAgent) => {
    try {
      await a.startShift();
    } catch (e) {
      log(`demo: ${a.email} could not start: ${e instanceof Error ? e.message : String(e)}`);
      a.abort();
    }
  };
  tasks.push(
    (async () => {
      for (let i = 0; i < agents.length && running; i += 2) await Promise.all(agents.slice(i, i + 2).map(startAgent));
      while (running) {
        await sleep(15_000);
        for (const a of agents) {
          if (!running) break;
          if (a.working && a.shiftSid === null && a.current === null) {
            await a.endShift().catch(() => undefined);
            await startAgent(a);
          }
        }
      }
    })(),
  );

  // Callers to the service number, one every DEMO_INBOUND_MEAN_S on average.
  const liveInbound = new Set<string>();
  let inbound = 0;
  const offInbound = emu.onEvent((ev, call) => {
    if (ev.type === 'status' && liveInbound.has(call.sid) && call.ended) liveInbound.delete(call.sid);
  });
  tasks.push(
    (async () => {
      await sleep(2_000);
      while (running) {
        if (liveInbound.size < DEMO_INBOUND_MAX_LIVE) {
          const sid = await emu
            .placeInboundCall({
              from: callerNumber(random), to: DEMO.serviceNumber,
              party: { patienceSeconds: draw(INBOUND_PATIENCE, random), hangupAfter: CUSTOMER_MAX_SECONDS },
            })
            .catch((e: unknown) => (log(`demo: caller not placed: ${String(e)}`), null));
          if (sid) {
            liveInbound.add(sid);
            inbound++;
          }
        }
        await sleep(-Math.log(1 - random()) * DEMO_INBOUND_MEAN_S * 1000);
      }
    })(),
  );

  // Now and then an idle agent takes a short break (a pause reason on the board), as people do.
  tasks.push(
    (async () => {
      while (running) {
        await sleep(-Math.log(1 - random()) * DEMO_PAUSE_MEAN_S * 1000);
        const idle = agents.filter((a) => a.working && !a.leaving && a.current === null && (a.lastState?.['agent'] as { status?: string } | undefined)?.status === 'available');
        const a = idle[Math.floor(random() * idle.length)];
        if (!running || !a) continue;
        const reason = DEMO_PAUSE_REASONS[Math.floor(random() * DEMO_PAUSE_REASONS.length)]!;
        // 409 when the pacer or the queue reserved them meanwhile: no break then.
        const r = await a.request('POST', '/api/agent/status', { status: 'paused', reason }).catch(() => null);
        if (r?.status !== 200) continue;
        await sleep(draw(DEMO_PAUSE_LENGTH, random) * 1000);
        if (a.working && !a.leaving) await a.request('POST', '/api/agent/status', { status: 'available' }).catch(() => null);
      }
    })(),
  );

  // Leads: topped up as the campaign uses them; new numbers join the FateBook.
  tasks.push(
    (async () => {
      while (running) {
        await sleep(20_000);
        if (!running) break;
        try {
          if ((await topUpLeads(db, info.campaignId)) > 0) for (const n of await leadNumbers(db, info.campaignId)) numbers.add(n);
        } catch (e) {
          log(`demo: leads not topped up: ${String(e)}`);
        }
      }
    })(),
  );

  const abort = () => {
    running = false;
    stopped.abort();
    for (const a of agents) a.abort();
    offRooms();
    offFates();
    offInbound();
    demoParties.resolver = null;
  };

  const stop = async (): Promise<{ hungUp: number; drained: boolean }> => {
    if (!running) return { hungUp: 0, drained: false };
    running = false;
    stopped.abort();
    try {
      await db.query(`update public.campaigns set status = 'paused', updated_at = public.app_now() where id = $1 and status = 'active'`, [info.campaignId]);
    } catch (e) {
      // The database is already going (a terminal's Ctrl-C reaches every process of the stack):
      // nothing can be ended cleanly now; the next start closes what is left (closeDemoLeftovers).
      log(`demo: campaign not paused: ${String(e)}`);
      abort();
      return { hungUp: 0, drained: false };
    }
    // Idle agents sign out now; the others once their call is over and disposed of.
    await Promise.all(agents.map((a) => a.leave().catch(() => undefined)));
    // Whatever is still on the line (dials, callers in the queue, customers with an agent):
    // hung up through the REST API, as a person would end them on Twilio. An agent whose
    // customer leaves stops talking, wraps up (seconds), disposes and signs out.
    const mine = (c: { from: string; to: string }) => numbers.has(c.to) || c.to === DEMO.serviceNumber || (DEMO.pool as readonly string[]).includes(c.from);
    const auth = `Basic ${Buffer.from(`${emu.accountSid}:${emu.authToken}`).toString('base64')}`;
    const onTheLine = emu.calls().filter((c) => !c.ended && mine(c));
    await Promise.all(
      onTheLine.map((c) =>
        fetch(`${emu.url}/2010-04-01/Accounts/${emu.accountSid}/Calls/${c.sid}.json`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: `Status=${c.status === 'in-progress' ? 'completed' : 'canceled'}`,
        }).then((r) => r.arrayBuffer(), () => undefined),
      ),
    );
    const until = Date.now() + 8_000;
    while (Date.now() < until && (agents.some((a) => a.working) || emu.calls().some((c) => mine(c) && (!c.ended || c.busy)))) await new Promise((r) => setTimeout(r, 100));
    // An agent the pacer had reserved for a dial when it was told to leave kept that status: offline now.
    const stuck = await db.query<{ id: string }>(`select id from public.agents where id = any($1::bigint[]) and status <> 'offline'`, [info.agents.map((a) => a.id)]).catch(() => []);
    for (const a of stuck) await db.query(`select public.agent_transition($1, 'offline', null, 'system', null)`, [a.id]).catch((e: unknown) => log(`demo: agent ${a.id} not signed out: ${String(e)}`));
    abort();
    await Promise.race([Promise.all(tasks), new Promise((r) => setTimeout(r, 1_000))]);
    return { hungUp: onTheLine.length, drained: true };
  };

  return {
    info,
    stats: () => ({
      dials: fates.dials,
      inbound,
      working: agents.filter((a) => a.working).length,
      agentErrors: agents.reduce((s, a) => s + a.counters.apiErrors, 0),
    }),
    stop,
    abort,
  };
}
