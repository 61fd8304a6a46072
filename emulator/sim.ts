/**
 * CLI: runs scenario files against a TwiML app on an in-process emulator and prints timelines.
 *   npm run sim -- emulator/scenarios/inbound-menu.json [more.json…]
 *     [--app-url http://127.0.0.1:3000] [--account-sid AC…] [--auth-token …] [--speed 100] [--port 0] [--quiet]
 * Account SID/token default to TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN, then the emulator defaults.
 * Exit code 1 when an expectation fails.
 */
import { parseArgs } from 'node:util';
import { loadScenario, runScenario } from './scenario';

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'app-url': { type: 'string', default: process.env.APP_URL },
      'account-sid': { type: 'string', default: process.env.TWILIO_ACCOUNT_SID },
      'auth-token': { type: 'string', default: process.env.TWILIO_AUTH_TOKEN },
      speed: { type: 'string' },
      port: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!positionals.length) throw new Error('usage: npm run sim -- <scenario.json> [--app-url URL] [--speed N]');
  let failed = 0;
  for (const file of positionals) {
    const res = await runScenario(loadScenario(file), {
      appUrl: values['app-url'], accountSid: values['account-sid'], authToken: values['auth-token'],
      speed: values.speed ? Number(values.speed) : undefined, port: values.port ? Number(values.port) : undefined, quiet: values.quiet,
    });
    console.log(res.report);
    console.log(res.ok ? `PASS ${file}\n` : `FAIL ${file}\n`);
    if (!res.ok) failed++;
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(2);
});
