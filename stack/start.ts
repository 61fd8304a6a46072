/**
 * `npm start`: the whole local stack on one machine, no Docker, no internet.
 *   --fresh       throw away the data of the previous run
 *   --ephemeral   free ports and a temporary data dir (tests, benchmarks)
 *   --json        print one line of JSON with the stack's env when ready (for a parent process)
 *   --control     read commands from stdin: `db:stop`, `db:start`, `db:freeze`, `db:thaw`
 *                 (outage tests: Postgres stopped, or alive but hung by SIGSTOP), `demo:stop`
 *                 (what Ctrl-C does to the demo, the stack left running), `stop`
 *   --functions-env KEY=VALUE   extra environment for the functions (repeatable; tests)
 *   --tick-interval <s>  seconds between the pacer heartbeat's POSTs to /api/tick (default
 *                 TICK_INTERVAL, else 5; 0: none; --ephemeral stacks have none unless given
 *                 or running the demo)
 *   --no-demo     no demo call center (docs/demo.md); --demo runs it in an --ephemeral stack too
 *   --demo-agents <n>  emulated agents of the demo (default 6, at most 12)
 * Ctrl-C (or SIGTERM) stops every process it started.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { buildAll } from '../scripts/build';
import { stackEnvPath } from './env-file';
import { startStack } from './stack';
import { bannerLines, DEMO_LOGINS, type BannerInput } from './banner';
import { closeDemoLeftovers, DEFAULT_DEMO_AGENTS, DEMO, DEMO_AGENTS, demoParties, startDemo, type Demo } from './demo';

/** Commander collector for repeated --functions-env KEY=VALUE options. */
function collectEnv(pair: string, acc: Record<string, string>): Record<string, string> {
  const m = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(pair);
  if (!m) throw new Error(`--functions-env takes KEY=VALUE with an upper-case KEY, got "${pair}"`);
  return { ...acc, [m[1]!]: m[2]! };
}

async function main(): Promise<void> {
  const program = new Command()
    .name('npm start --')
    .option('--fresh', 'start from an empty database (re-applies migrations and seed)')
    .option('--ephemeral', 'use free ports and a temporary data dir, removed on exit')
    .option('--json', 'print the stack env as one JSON line when ready')
    .option('--control', 'accept db:stop / db:start / db:freeze / db:thaw / stop on stdin')
    .option('--functions-env <KEY=VALUE>', 'extra environment for the functions (repeatable)', collectEnv, {})
    .option('--no-build', 'serve dist/ as it is')
    .option('--no-emulator', 'do not start the Twilio emulator')
    .option('--speed <n>', 'Twilio emulator clock speed', '1')
    .option('--twilio-url <url>', 'use the Twilio emulator already running at this URL (tests)')
    .option('--tick-interval <seconds>', 'pacer heartbeat: seconds between POSTs to /api/tick (0: off)')
    .option('--demo', 'run the demo call center (the default, except with --ephemeral)')
    .option('--no-demo', 'do not run the demo call center')
    .option('--demo-agents <n>', 'emulated agents in the demo (1-12)', String(DEFAULT_DEMO_AGENTS))
    .option('--verbose', 'print service logs');
  const o = program.parse(process.argv).opts<{
    fresh?: boolean; ephemeral?: boolean; json?: boolean; control?: boolean; build: boolean; emulator: boolean; speed: string;
    twilioUrl?: string; verbose?: boolean; functionsEnv: Record<string, string>; tickInterval?: string; demo?: boolean; demoAgents: string;
  }>();
  // The demo runs by default in a developer's stack, never in a test's (--ephemeral) unless asked.
  const demoWanted = o.demo ?? !o.ephemeral;
  // It needs the stack's own emulator at real-time speed: its customers are that emulator's parties.
  const demoImpossible = !demoWanted ? null
    : !o.emulator || o.twilioUrl ? 'it needs the stack\'s own Twilio emulator (not with --no-emulator or --twilio-url)'
      : Number(o.speed) !== 1 ? 'it runs on the real clock (not with --speed)' : null;
  const demoAgents = Number(o.demoAgents);
  if (demoWanted && !(Number.isInteger(demoAgents) && demoAgents >= 1 && demoAgents <= DEMO_AGENTS.length)) throw new Error(`--demo-agents must be a whole number from 1 to ${DEMO_AGENTS.length}, got "${o.demoAgents}"`);
  const demoOn = demoWanted && demoImpossible === null;
  const tickInterval = Number(o.tickInterval ?? (o.ephemeral && !demoOn ? '0' : (process.env['TICK_INTERVAL'] ?? '5')));
  if (!Number.isFinite(tickInterval) || tickInterval < 0 || tickInterval > 3600) throw new Error(`--tick-interval (or TICK_INTERVAL) must be 0-3600 seconds, got "${o.tickInterval ?? process.env['TICK_INTERVAL']}"`);
  const log = (line: string) => (o.verbose ? console.error(line) : undefined);
  if (o.build) await buildAll();
  const stack = await startStack({
    fresh: o.fresh, ephemeral: o.ephemeral, emulator: o.emulator, emulatorSpeed: Number(o.speed), twilioApiBaseUrl: o.twilioUrl,
    live: !o.ephemeral, log, functionsEnv: o.functionsEnv, tickIntervalSeconds: tickInterval,
    partyResolver: (address) => demoParties.resolver?.(address),
  });
  let demo: Demo | null = null;
  let stopping = 0;
  const stop = async (code = 0) => {
    if (stopping) {
      // A second Ctrl-C: no waiting for the demo's calls to end. (One Ctrl-C reaches this
      // process more than once, from the terminal and relayed by npm and tsx: those come
      // within a moment of each other.)
      if (Date.now() - stopping > 1500) demo?.abort();
      return;
    }
    stopping = Date.now();
    if (demo) {
      if (!o.json) console.log('Stopping the demo…');
      const t0 = Date.now();
      await (demo as Demo).stop().then(
        (r) => {
          if (o.json) return;
          if (r.drained) console.log(`Demo stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.hungUp} calls hung up, its agents signed out.`);
          else console.log('Demo stopped with the stack; the next `npm start` ends the calls it left and signs its agents out.');
        },
        (e: unknown) => console.error(`demo: ${String(e)}`),
      );
    }
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  // What a previous demo left when its stack went away at once (Ctrl-C in a terminal reaches
  // Postgres and the functions too): its calls ended, its agents offline; and its campaign
  // runs only while a demo does.
  if (stack.emulator) {
    await closeDemoLeftovers(stack.postgres).then(
      (r) => (r.calls || r.agents ? log(`demo: closed ${r.calls} calls and signed out ${r.agents} agents a previous run left`) : undefined),
      (e: unknown) => console.error(`demo: leftovers of a previous run not closed: ${String(e)}`),
    );
  }
  if (!demoOn) await stack.postgres.query(`update public.campaigns set status = 'paused' where name = $1 and status = 'active'`, [DEMO.campaign]).catch(() => undefined);
  const startTheDemo = async (): Promise<BannerInput['demo']> => {
    if (!demoWanted) return { off: true };
    if (demoImpossible) return { failed: demoImpossible };
    try {
      demo = await startDemo({ db: stack.postgres, emu: stack.emulator!, functionsUrl: stack.env.FUNCTIONS_BASE_URL, agents: demoAgents, log: (l) => (o.verbose || o.json ? console.error(l) : undefined) });
    } catch (e) {
      return { failed: e instanceof Error ? e.message : String(e) };
    }
    return { running: { agents: demo.info.agents.length, campaign: demo.info.campaign, queue: demo.info.queue, serviceNumber: demo.info.serviceNumber, freeAgent: null, supervisor: null } };
  };

  if (o.json) {
    // A parent process reads one line; the demo (if any) starts right after it.
    console.log(JSON.stringify({ ready: true, env: stack.env }));
    const d = await startTheDemo();
    if (d && 'failed' in d) console.error(`demo: not started: ${d.failed}`);
  } else {
    const demoState = await startTheDemo();
    const emails = DEMO_LOGINS.map((l) => l.email);
    const present = await stack.postgres
      .query<{ email: string }>('select email from public.users where email = any($1::text[])', [emails])
      .then((rows) => rows.map((r) => r.email));
    if (demoState && 'running' in demoState) {
      const login = (email: string) => (present.includes(email) ? DEMO_LOGINS.find((l) => l.email === email) ?? null : null);
      demoState.running.freeAgent = (demo as Demo | null)?.info.freeAgentId != null ? login(DEMO.freeAgent.email) : null;
      demoState.running.supervisor = login('supervisor@discador.local');
    }
    const banner = bannerLines({
      services: stack.services, env: stack.env, clientsLookAt: stackEnvPath(process.env), demoLoginsPresent: present, ownEmulator: stack.emulator !== null, demo: demoState,
    });
    for (const line of banner) console.log(line);
  }
  if (o.control) {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const cmd = line.trim();
      const reply = (p: Promise<unknown>) =>
        p.then(() => console.log(JSON.stringify({ ok: cmd })), (e: unknown) => console.log(JSON.stringify({ error: String(e) })));
      if (cmd === 'db:stop') reply(stack.postgres.stop());
      else if (cmd === 'db:start') reply(stack.postgres.restart());
      else if (cmd === 'db:freeze') reply(stack.postgres.freeze());
      else if (cmd === 'db:thaw') reply(stack.postgres.thaw());
      else if (cmd === 'demo:stop') reply(demo ? (demo as Demo).stop() : Promise.reject(new Error('no demo is running')));
      else if (cmd === 'stop') void stop();
    });
    rl.on('close', () => void stop());
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
