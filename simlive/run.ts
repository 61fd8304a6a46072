/**
 * `npm run sim:campaign -- <scenario.json> [--speed N] [--hours H] [--agents N] [--json]`
 *
 * A campaign day through the real functions, database and Twilio emulator, at `speed` times
 * real time on one virtual clock (simlive/README.md): emulated agents sign in and work the
 * page's endpoints, emulated leads answer by the scenario's distributions, the heartbeat
 * drives /api/tick. At the end it prints the KPI table computed from database rows next to
 * the pacing simulator's figures for the same scenario, and the violations found; exit 1
 * when there is any.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { startEmulator, type Emulator, type PartySpec } from '../emulator';
import { LOCAL } from '../stack/defaults';
import { parseScenario, type Scenario } from '../simulator/scenario';
import type { LeadMix } from './leads';
import type { Strategy } from '../simulator/simulate';
import { startStackProcess, type StackProcess } from '../tests/helpers/stack';
import { EmulatedAgent } from './agents';
import { clockSkew, installDbClock, lastWorkdayAt, removeDbClock } from './clock';
import { sources, isOpenFor, COLLECTIONS_SP, simulatorModule } from './contract';
import { comparisonTable, liveKpis, percentile, type CallRow, type Kpis, type StatusRow } from './kpis';
import { generateLeads } from './leads';
import { customerSilenceMs, FateBook, liveDisclaimerS, routeRoomEvents } from './world';
import { seedDay, SIM_DISPOSITIONS, SIM_PASSWORD } from './setup';
import { collectFindings } from './collect';
import { countByRule, cpsBreaks, type Finding } from './violations';

/** The pacer strategy the campaign runs, as the simulator names it. */
export const SIM_STRATEGY: Strategy = { label: 'pred TAPERED', mode: 'predictive', ratio: 4, behaviour: 'ADAPT_TAPERED' };
/** Default clock speed (virtual ms per real ms): see simlive/README.md for the measurement. */
export const DEFAULT_SPEED = 10;

export interface RunOptions {
  scenarioPath: string;
  speed?: number;
  /** Shorter shift (hours); the schedule beyond it is dropped. */
  hours?: number;
  /** Agents logged in (overrides the scenario's count and drops its schedule). */
  agents?: number;
  /** Virtual seconds between /api/tick heartbeats (default: the scenario's heartbeatS, else 5). */
  heartbeatS?: number;
  /** Virtual seconds between each agent's polls (default 5). */
  pollS?: number;
  seed?: number;
  /** Virtual start of the day (ISO); default 09:00 São Paulo time on the last workday at least 12 h back (see lastWorkdayAt). */
  start?: string;
  log?: (line: string) => void;
  /** Per-agent and per-tick lines. */
  verbose?: boolean;
}

export interface RunResult {
  scenario: string;
  speed: number;
  shift: { start: string; end: string; hours: number };
  agents: number;
  leads: number;
  live: Kpis;
  simulator: Kpis | null;
  violations: Record<Finding['rule'], number>;
  findings: Finding[];
  /** Emulator-side bursts of Calls create within 1 virtual s (latency × speed included; not a violation). */
  emulatorCpsBursts: number;
  ticks: { sent: number; byStatus: Record<string, number> };
  agentRequests: { polls: number; pollErrors: number; apiErrors: number; calls: number; pollP50Ms: number; pollP95Ms: number; errors: string[] };
  clock: { skewMs: number; roundTripMs: number; skewAtEndMs: number };
  /** The live disclaimer (answer → connect step), virtual seconds. */
  disclaimer: { meanS: number; calls: number };
  sources: typeof sources;
  wallSeconds: number;
  notes: string[];
}

/** Loads a scenario file with the run's overrides. */
export function loadScenario(path: string, o: { hours?: number; agents?: number } = {}): LiveScenario {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  // Fields a simulator without them would drop are kept from the file (the newer simulator parses them itself).
  const kept = Object.fromEntries(['leadsByHour', 'heartbeatS', 'connectLatencyS', 'cpsFollowUp', 'live'].filter((k) => k in raw).map((k) => [k, raw[k]]));
  const s = { ...kept, ...parseScenario(raw) } as LiveScenario;
  if (o.hours !== undefined) {
    if (!(o.hours > 0 && o.hours <= s.shiftHours)) throw new Error(`--hours must be above 0 and at most the scenario's ${s.shiftHours}`);
    s.shiftHours = o.hours;
    if (s.schedule) s.schedule = s.schedule.filter((e) => e.atHour < o.hours!);
  }
  if (o.agents !== undefined) {
    if (!(Number.isInteger(o.agents) && o.agents > 0)) throw new Error('--agents must be a positive whole number');
    s.agents = o.agents;
    delete s.schedule;
  }
  return s;
}

/** A scenario with the fields the live run reads beyond the simulator's base format. */
export type LiveScenario = Scenario & {
  leadsByHour?: (LeadMix & { fromHour: number })[];
  heartbeatS?: number;
  live?: { speed?: number; pollS?: number; heartbeatS?: number };
  campaign: Scenario['campaign'] & { amdHumanAccuracy?: number | null };
};

/** The AMD accuracy the campaign is configured with (the estimate of people AMD hung up on). */
export function campaignAmdAccuracy(s: LiveScenario): number {
  return s.campaign.amdHumanAccuracy ?? s.amd.humanAccuracy;
}

/** The pure simulator's figures for the scenario, in the live table's terms. */
export function simulatorKpis(scenario: LiveScenario, seed: number): { kpis: Kpis } {
  // The campaign's abandon treatment hangs up (with a message and a callback): no overflow queue.
  const input = { ...scenario, overflow: 'drop' as const };
  const k = simulatorModule.simulateScenario(input, SIM_STRATEGY, seed);
  return { kpis: { ...k, dialsPerAgentHour: k.agentHours > 0 ? k.dials / k.agentHours : 0 } };
}

/** The heartbeat's header: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>")>. */
export function tickHeader(secret: string, nowS = Math.floor(Date.now() / 1000)): string {
  return `t=${nowS},v1=${createHmac('sha256', secret).update(String(nowS)).digest('hex')}`;
}

const ms = (v: Date | string | null) => (v === null ? null : new Date(v).getTime());

/** The functions' configuration for a simulated day. */
export function simFunctionsEnv(o: { tickSecret: string; cps: number; abandonGraceS: number; pollS: number }): Record<string, string> {
  return {
    TICK_SECRET: o.tickSecret,
    ACCOUNT_CPS: String(o.cps),
    ABANDON_GRACE_SECONDS: String(o.abandonGraceS),
    // The agents end their own wrap-up (the scenario's wrap-up time), not the default timer.
    WRAP_UP_SECONDS: '3600',
    AGENT_PRESENCE_SECONDS: String(Math.max(20, o.pollS * 4)),
    DISPOSITION_CODES: SIM_DISPOSITIONS.map((d) => d.code).join(','),
  };
}

/** The emulator (fixed speed), a local stack using it, and a database connection on the emulator's clock. */
export interface SimStack {
  emu: Emulator;
  stack: StackProcess;
  db: Client;
  /** Removes the app_clock row (always), then stops the stack and the emulator; errors go to `onError`. */
  stop(onError?: (e: unknown) => void): Promise<void>;
}

/** Starts the simulation's emulator and stack and puts the database on the emulator's clock. */
export async function startSimStack(o: {
  speed: number; epochMs: number; cps: number; partyResolver?: (address: string) => PartySpec | undefined; functionsEnv: Record<string, string>;
}): Promise<SimStack> {
  const emu = await startEmulator({
    speed: o.speed, epochMs: o.epochMs, holdsRunRealTime: false, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken,
    cps: o.cps, partyResolver: o.partyResolver,
  });
  let stack: StackProcess | null = null;
  let db: Client | null = null;
  let clockInstalled = false;
  const stop = async (onError: (e: unknown) => void = () => undefined) => {
    if (db) {
      if (clockInstalled) await removeDbClock(db).catch(onError);
      await db.end().catch(onError);
    }
    await stack?.stop().catch(onError);
    await emu.stop().catch(onError);
  };
  try {
    stack = await startStackProcess(['--twilio-url', emu.url, ...Object.entries(o.functionsEnv).flatMap(([k, v]) => ['--functions-env', `${k}=${v}`])]);
    db = new Client({ connectionString: stack.env.DATABASE_URL });
    await db.connect();
    clockInstalled = true; // a failed insert leaves no row; the delete is harmless
    await installDbClock(db, emu.clock);
    return { emu, stack, db, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs a campaign day; never leaves the app_clock row, the stack or the emulator behind. */
export async function runCampaignDay(o: RunOptions): Promise<RunResult> {
  const wall0 = Date.now();
  const log = o.log ?? ((line: string) => console.error(line));
  const vlog = o.verbose ? log : () => undefined;
  const scenario = loadScenario(o.scenarioPath, { hours: o.hours, agents: o.agents });
  const speed = o.speed ?? scenario.live?.speed ?? DEFAULT_SPEED;
  if (!(speed > 0 && speed <= 200)) throw new Error('--speed must be above 0 and at most 200');
  const seed = o.seed ?? scenario.seed;
  const heartbeatS = o.heartbeatS ?? scenario.live?.heartbeatS ?? scenario.heartbeatS ?? 5;
  const pollS = o.pollS ?? scenario.live?.pollS ?? 5;
  const notes: string[] = [];

  const simulated = simulatorKpis(scenario, seed);
  const agentCount = Math.max(scenario.agents, ...(scenario.schedule ?? []).map((e) => e.agents));
  const leadCount = Math.ceil(simulated.kpis.dials * 1.3) + 50;
  const dailyCap = 150;
  const poolSize = Math.max(14, Math.ceil((simulated.kpis.dials * 1.5) / dailyCap));
  const leads = generateLeads(leadCount, seed, { optOutShare: 0.02, badDddCount: 5 });
  const leadNumbers = new Set(leads.map((l) => l.phone));
  log(`sim:campaign ${scenario.name}: ${agentCount} agents, ${scenario.shiftHours} h, ${leads.length} leads, pool ${poolSize}, speed x${speed}, heartbeat ${heartbeatS} s, poll ${pollS} s`);

  // A day São Paulo's collections window opens (no national or São Paulo holiday, where the windows module knows them).
  const desiredStart = o.start ? Date.parse(o.start) : lastWorkdayAt(Date.now(), 9, 0, 12, (t) => !isOpenFor(11, COLLECTIONS_SP, t + 3 * 3600_000, []));
  if (!Number.isFinite(desiredStart)) throw new Error(`--start ${o.start} is not a date`);
  // The functions refuse callbacks stamped more than 24 h ahead of the real clock: the whole day must stay behind that.
  const lastVirtualMs = desiredStart + (scenario.shiftHours + 1) * 3600_000;
  if (lastVirtualMs > Date.now() + 23 * 3600_000) {
    throw new Error(`--start ${o.start}: the day would run more than 23 h ahead of the real clock (Twilio callbacks with such timestamps are refused); start earlier`);
  }

  const fates = new FateBook(scenario, seed, leadNumbers);

  const tickSecret = randomBytes(24).toString('hex');
  let sim: SimStack | null = null;
  const agents: EmulatedAgent[] = [];
  let running = true;
  try {
    sim = await startSimStack({
      speed, epochMs: desiredStart, cps: scenario.campaign.cps, partyResolver: fates.resolver,
      functionsEnv: simFunctionsEnv({ tickSecret, cps: scenario.campaign.cps, abandonGraceS: scenario.abandonGraceS, pollS }),
    });
    const { emu: e, db: sql } = sim;
    const fb = sim.stack.env.FUNCTIONS_BASE_URL;
    const skew = await clockSkew(sql, e.clock);
    log(`database on the emulator's clock: skew ${skew.skewMs.toFixed(1)} virtual ms (round trip ${skew.roundTripMs.toFixed(1)} ms)`);

    const tag = randomBytes(3).toString('hex');
    const seeded = await seedDay(sql, e, { scenario, agents: agentCount, leads, poolSize, dailyCap, functionsUrl: fb, tag, amdHumanAccuracy: campaignAmdAccuracy(scenario) });
    log(`seeded campaign ${seeded.campaignId}: ${seeded.agents.length} agents, ${seeded.pool.length} pool numbers, ${seeded.leadCount} leads (${seeded.optedOut.length} opted out)`);

    fates.attach(e);
    const byId = new Map<number, EmulatedAgent>();
    const { joins } = routeRoomEvents(e, byId, fates, log);

    const agentEnv = { functionsUrl: fb, softphoneUrl: e.softphone.socketUrl, clock: e.clock, pollS, dispositions: SIM_DISPOSITIONS, log: vlog };
    for (const a of seeded.agents) {
      const agent = new EmulatedAgent(agentEnv, a.id, a.email, SIM_PASSWORD, seed);
      agents.push(agent);
      byId.set(a.id, agent);
    }

    // The initial agents sign in first; the shift (and the campaign) starts once they are in.
    const initial = scenario.schedule?.find((x) => x.atHour === 0)?.agents ?? scenario.agents;
    const setWorking = async (n: number) => {
      const working = agents.filter((a) => a.working && !a.leaving);
      if (working.length < n) {
        const idle = agents.filter((a) => !a.working).slice(0, n - working.length);
        for (let i = 0; i < idle.length; i += 4) await Promise.all(idle.slice(i, i + 4).map((a) => a.startShift()));
      } else if (working.length > n) {
        const order = [...working].sort((a, b) => Number(a.current !== null) - Number(b.current !== null));
        await Promise.all(order.slice(0, working.length - n).map((a) => a.leave()));
      }
    };
    await setWorking(initial);
    const startMs = Math.ceil(e.clock.now() / 1000) * 1000;
    const endMs = startMs + scenario.shiftHours * 3600_000;
    fates.shift = { startMs, now: () => e.clock.now() };
    await sql.query(`update public.campaigns set status = 'active', started_at = public.app_now() where id = $1`, [seeded.campaignId]);
    log(`shift ${new Date(startMs).toISOString()} → ${new Date(endMs).toISOString()} (virtual); ${initial} agents signed in`);

    // The heartbeat: /api/tick every heartbeatS virtual seconds.
    const ticks = { sent: 0, byStatus: {} as Record<string, number> };
    const heartbeat = (async () => {
      while (running && e.clock.now() < endMs) {
        ticks.sent++;
        const sent = fetch(`${fb}/api/tick`, { method: 'POST', headers: { 'x-discador-tick': tickHeader(tickSecret) } })
          .then(async (r) => {
            const k = String(r.status);
            ticks.byStatus[k] = (ticks.byStatus[k] ?? 0) + 1;
            if (r.status !== 200) vlog(`tick -> ${r.status} ${(await r.text()).slice(0, 200)}`);
            else await r.arrayBuffer();
          })
          .catch((err: unknown) => {
            ticks.byStatus.error = (ticks.byStatus.error ?? 0) + 1;
            vlog(`tick: ${String(err)}`);
          });
        await Promise.all([sent, e.clock.sleep(heartbeatS * 1000)]);
      }
    })();
    const schedule = (async () => {
      for (const entry of (scenario.schedule ?? []).filter((x) => x.atHour > 0).sort((a, b) => a.atHour - b.atHour)) {
        await e.clock.sleep(startMs + entry.atHour * 3600_000 - e.clock.now());
        if (!running) return;
        log(`hour ${entry.atHour}: ${entry.agents} agents`);
        await setWorking(entry.agents);
      }
    })();
    const progress = setInterval(() => {
      const done = (e.clock.now() - startMs) / (endMs - startMs);
      log(`  ${(100 * Math.min(1, done)).toFixed(0).padStart(3)} %  virtual ${new Date(e.clock.now()).toISOString().slice(11, 19)}Z  dials ${fates.dials}  working ${agents.filter((a) => a.working).length}`);
    }, 30_000);
    try {
      await e.clock.sleep(endMs - e.clock.now());
    } finally {
      clearInterval(progress);
    }

    // The day is over: no new dials; agents finish their calls and leave; lines drain.
    running = false;
    await sql.query(`update public.campaigns set status = 'paused' where id = $1`, [seeded.campaignId]);
    await Promise.all([heartbeat, schedule.catch(() => undefined)]);
    // Calls already placed still ring, detect and wait for the disclaimer: their agents stay until they are through.
    await e.clock.sleep((scenario.ring.noAnswerTimeoutS + 5 + scenario.disclaimerS + scenario.abandonGraceS + 5) * 1000);
    await Promise.all(agents.map((a) => a.leave().catch((err: unknown) => log(`agent ${a.id} leaving: ${String(err)}`))));
    const drainUntil = Date.now() + 60_000;
    while (Date.now() < drainUntil && (agents.some((a) => a.working) || e.calls().some((c) => c.direction === 'outbound-api' && !c.ended))) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (agents.some((a) => a.working)) notes.push('some agents were still on a call 60 s (real) after the shift ended');
    await e.waitUntilIdle({ timeoutMs: 30_000 }).catch(() => notes.push('the emulator was not idle 30 s after the drain'));
    const skewEnd = await clockSkew(sql, e.clock);

    // ---------------------------------------------------------------- rows → figures
    const { rows: hist } = await sql.query<{ agent_id: string; status: string; call_sid: string | null; started_at: Date; ended_at: Date | null }>(
      `select agent_id, status, call_sid, started_at, ended_at from public.agent_status_history where agent_id = any($1::bigint[])`,
      [seeded.agents.map((a) => a.id)],
    );
    const history: StatusRow[] = hist.map((r) => ({ agent_id: Number(r.agent_id), status: r.status, call_sid: r.call_sid, started_at: ms(r.started_at)!, ended_at: ms(r.ended_at) }));
    const { rows: callRows } = await sql.query<{
      id: string; call_sid: string | null; to_number: string; created_at: Date; ended_at: Date | null; status: string;
      live_at: Date | null; connected_at: Date | null; abandoned_at: Date | null; updated_at: Date;
    }>(`select id, call_sid, to_number, created_at, ended_at, status, live_at, connected_at, abandoned_at, updated_at from public.calls where campaign_id = $1`, [seeded.campaignId]);
    // A call over without an end time (e.g. an attempt that failed before Twilio) ended when it was last written.
    const over = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
    const calls: CallRow[] = callRows.map((r) => ({
      call_sid: r.call_sid, created_at: ms(r.created_at)!, ended_at: ms(r.ended_at) ?? (over.has(r.status) ? ms(r.updated_at) : null), status: r.status,
      live_at: ms(r.live_at), connected_at: ms(r.connected_at), abandoned_at: ms(r.abandoned_at),
    }));

    const silenceMs = customerSilenceMs(e, joins);
    const disclaimer = liveDisclaimerS(e);
    if (disclaimer.calls > 0 && Math.abs(disclaimer.meanS - scenario.disclaimerS) > 1) {
      notes.push(`the live disclaimer lasts ${disclaimer.meanS.toFixed(1)} s (answer → connect step, ${disclaimer.calls} calls); the scenario's disclaimerS is ${scenario.disclaimerS}: agents stay reserved longer live`);
    }
    const live = liveKpis({ history, calls, startMs, endMs, amdHumanAccuracy: campaignAmdAccuracy(scenario), silenceMs });

    // ---------------------------------------------------------------- violations
    const { findings, placed } = await collectFindings(sql, e, { campaignId: seeded.campaignId, cps: scenario.campaign.cps });
    const emulatorCpsBursts = cpsBreaks(placed.map((p) => p.createdMs), scenario.campaign.cps).length;

    const pollMs = agents.flatMap((a) => a.counters.pollMs);
    const agentRequests = { polls: 0, pollErrors: 0, apiErrors: 0, calls: 0, pollP50Ms: percentile(pollMs, 0.5), pollP95Ms: percentile(pollMs, 0.95), errors: [] as string[] };
    for (const a of agents) {
      agentRequests.polls += a.counters.polls;
      agentRequests.pollErrors += a.counters.pollErrors;
      agentRequests.apiErrors += a.counters.apiErrors;
      agentRequests.calls += a.counters.calls;
      for (const err of a.counters.errors) if (agentRequests.errors.length < 10) agentRequests.errors.push(`agent ${a.id}: ${err}`);
    }
    if (!ticks.byStatus['200']) notes.push(`/api/tick never answered 200 (${JSON.stringify(ticks.byStatus)}): the pacer is not there yet`);
    return {
      scenario: scenario.name,
      speed,
      shift: { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), hours: scenario.shiftHours },
      agents: agentCount,
      leads: leads.length,
      live,
      simulator: simulated.kpis,
      violations: countByRule(findings),
      findings,
      emulatorCpsBursts,
      ticks,
      agentRequests,
      clock: { skewMs: skew.skewMs, roundTripMs: skew.roundTripMs, skewAtEndMs: skewEnd.skewMs },
      disclaimer,
      sources,
      wallSeconds: (Date.now() - wall0) / 1000,
      notes,
    };
  } finally {
    running = false;
    for (const a of agents) a.abort();
    await sim?.stop((err) => log(String(err)));
  }
}

/** The human report: the table, the violations, the run's own health. */
export function formatReport(r: RunResult): string {
  const v = Object.entries(r.violations).map(([k, n]) => `${k} ${n}`).join(', ');
  const total = Object.values(r.violations).reduce((s, n) => s + n, 0);
  return [
    `discador campaign day: ${r.scenario}, ${r.agents} agents, ${r.shift.hours} h (${r.shift.start} → ${r.shift.end} virtual), x${r.speed}, ${r.wallSeconds.toFixed(0)} s wall`,
    '',
    comparisonTable(r.live, r.simulator),
    '',
    `dials ${r.live.dials}, live ${r.live.live}, abandoned ${r.live.abandoned}, connects ${r.live.connects} (simulator: ${r.simulator?.dials ?? '-'}, ${r.simulator?.live ?? '-'}, ${r.simulator?.abandoned ?? '-'}, ${r.simulator?.connects ?? '-'})`,
    `abandon % = abandoned / live answers; "AMD est." adds the humans AMD hung up on, estimated (${r.sources.abandon}); silence = disclaimer's end → the agent's room, real ms.`,
    `violations: ${total === 0 ? 'none' : v}`,
    ...r.findings.slice(0, 20).map((f) => `  ${f.rule}: ${f.detail}`),
    `emulator Calls-create bursts over CPS within 1 virtual s (latency × speed, not a violation): ${r.emulatorCpsBursts}`,
    `heartbeat: ${r.ticks.sent} ticks ${JSON.stringify(r.ticks.byStatus)}; agents: ${r.agentRequests.polls} polls (${r.agentRequests.pollErrors} failed; p50 ${r.agentRequests.pollP50Ms.toFixed(0)} ms, p95 ${r.agentRequests.pollP95Ms.toFixed(0)} ms real), ${r.agentRequests.apiErrors} other API errors`,
    `clock: database − emulator ${r.clock.skewMs.toFixed(1)} virtual ms at start, ${r.clock.skewAtEndMs.toFixed(1)} at the end`,
    ...r.notes.map((n) => `note: ${n}`),
    ...r.agentRequests.errors.map((e) => `  ${e}`),
  ].join('\n');
}

/** Parses the command line. */
export function parseArgs(argv: readonly string[]): RunOptions & { json: boolean } {
  const out: RunOptions & { json: boolean } = { scenarioPath: '', json: false };
  const num = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--speed') out.speed = num(a, argv[++i]);
    else if (a === '--hours') out.hours = num(a, argv[++i]);
    else if (a === '--agents') out.agents = num(a, argv[++i]);
    else if (a === '--heartbeat') out.heartbeatS = num(a, argv[++i]);
    else if (a === '--poll') out.pollS = num(a, argv[++i]);
    else if (a === '--seed') out.seed = num(a, argv[++i]);
    else if (a === '--start') out.start = argv[++i];
    else if (a === '--json') out.json = true;
    else if (a === '--verbose') out.verbose = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (!out.scenarioPath) out.scenarioPath = a;
    else throw new Error(`one scenario file, got ${out.scenarioPath} and ${a}`);
  }
  if (!out.scenarioPath) throw new Error('usage: npm run sim:campaign -- <scenario.json> [--speed N] [--hours H] [--agents N] [--heartbeat S] [--poll S] [--seed N] [--start ISO] [--json] [--verbose]');
  return out;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
  const r = await runCampaignDay(args);
  console.log(args.json ? JSON.stringify(r, null, 2) : formatReport(r));
  process.exit(Object.values(r.violations).some((n) => n > 0) ? 1 : 0);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(2);
  });
}
