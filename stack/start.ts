/**
 * `npm start`: the whole local stack on one machine, no Docker, no internet.
 *   --fresh       throw away the data of the previous run
 *   --ephemeral   free ports and a temporary data dir (tests, benchmarks)
 *   --json        print one line of JSON with the stack's env when ready (for a parent process)
 *   --control     read commands from stdin: `db:stop`, `db:start`, `db:freeze`, `db:thaw`
 *                 (outage tests: Postgres stopped, or alive but hung by SIGSTOP), `stop`
 *   --functions-env KEY=VALUE   extra environment for the functions (repeatable; tests)
 *   --tick-interval <s>  seconds between the pacer heartbeat's POSTs to /api/tick (default
 *                 TICK_INTERVAL, else 5; 0: none; --ephemeral stacks have none unless given)
 * Ctrl-C (or SIGTERM) stops every process it started.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { buildAll } from '../scripts/build';
import { stackEnvPath } from './env-file';
import { startStack } from './stack';
import { bannerLines, DEMO_LOGINS } from './banner';

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
    .option('--verbose', 'print service logs');
  const o = program.parse(process.argv).opts<{
    fresh?: boolean; ephemeral?: boolean; json?: boolean; control?: boolean; build: boolean; emulator: boolean; speed: string;
    twilioUrl?: string; verbose?: boolean; functionsEnv: Record<string, string>; tickInterval?: string;
  }>();
  const tickInterval = Number(o.tickInterval ?? (o.ephemeral ? '0' : (process.env['TICK_INTERVAL'] ?? '5')));
  if (!Number.isFinite(tickInterval) || tickInterval < 0 || tickInterval > 3600) throw new Error(`--tick-interval (or TICK_INTERVAL) must be 0-3600 seconds, got "${o.tickInterval ?? process.env['TICK_INTERVAL']}"`);
  const log = (line: string) => (o.verbose ? console.error(line) : undefined);
  if (o.build) await buildAll();
  const stack = await startStack({
    fresh: o.fresh, ephemeral: o.ephemeral, emulator: o.emulator, emulatorSpeed: Number(o.speed), twilioApiBaseUrl: o.twilioUrl,
    live: !o.ephemeral, log, functionsEnv: o.functionsEnv, tickIntervalSeconds: tickInterval,
  });
  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  if (o.json) {
    console.log(JSON.stringify({ ready: true, env: stack.env }));
  } else {
    const emails = DEMO_LOGINS.map((l) => l.email);
    const present = await stack.postgres
      .query<{ email: string }>('select email from public.users where email = any($1::text[])', [emails])
      .then((rows) => rows.map((r) => r.email));
    for (const line of bannerLines({ services: stack.services, env: stack.env, clientsLookAt: stackEnvPath(process.env), demoLoginsPresent: present, ownEmulator: stack.emulator !== null })) console.log(line);
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
      else if (cmd === 'stop') void stop();
    });
    rl.on('close', () => void stop());
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
