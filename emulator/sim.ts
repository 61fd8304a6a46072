/**
 * CLI: runs scenario files against a TwiML app on an in-process emulator and prints timelines.
 *   npm run sim -- emulator/scenarios/inbound-menu.json [more.json…]
 *     [--app-url http://127.0.0.1:3000] [--account-sid AC…] [--auth-token …] [--speed 100] [--port 0] [--quiet]
 * Account SID/token default to TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN; without them, to those
 * of the local stack `npm start` is running (its .data/stack.env, or DISCADOR_STACK_ENV), so
 * the functions accept the emulator's signatures; else to the emulator's defaults. A scenario
 * aimed at the default local functions URL is sent to that stack's functions.
 * Exit code 1 when an expectation fails.
 */
import { parseArgs } from 'node:util';
import { loadScenario, runScenario, type Scenario } from './scenario';
import { LOCAL } from '../stack/defaults';
import { displayPath, readStackEnv } from '../stack/env-file';

/** The functions URL of a default `npm start`, which shipped scenarios name as their appUrl. */
const DEFAULT_APP_URL = new URL(`http://127.0.0.1:${LOCAL.functionsPort}`).origin;

/** Account, token and app URL for one scenario: flags, then the environment, then the running local stack. */
export function simSettings(
  sc: Pick<Scenario, 'appUrl' | 'app'>,
  flags: { appUrl?: string; accountSid?: string; authToken?: string },
  env: Record<string, string | undefined>,
  say: (line: string) => void,
): { appUrl?: string; accountSid?: string; authToken?: string } {
  const out = { appUrl: flags.appUrl ?? env['APP_URL'], accountSid: flags.accountSid ?? env['TWILIO_ACCOUNT_SID'], authToken: flags.authToken ?? env['TWILIO_AUTH_TOKEN'] };
  if (out.authToken || (sc.app === 'demo' && !out.appUrl)) return out;
  const stack = readStackEnv(env);
  if (!stack) return out;
  const v = stack.values;
  out.accountSid ??= v['TWILIO_ACCOUNT_SID'];
  out.authToken = v['TWILIO_AUTH_TOKEN'];
  const local = (u: string | undefined) => {
    try {
      return u !== undefined && ['127.0.0.1:' + LOCAL.functionsPort, 'localhost:' + LOCAL.functionsPort].includes(new URL(u).host);
    } catch {
      return false;
    }
  };
  if (!out.appUrl && v['FUNCTIONS_BASE_URL'] && local(sc.appUrl) && new URL(v['FUNCTIONS_BASE_URL']).origin !== DEFAULT_APP_URL) {
    out.appUrl = v['FUNCTIONS_BASE_URL'];
  }
  say(`sim: using the local stack of ${displayPath(stack.file)}: account ${out.accountSid}, its auth token${out.appUrl ? `, functions at ${out.appUrl}` : ''}`);
  return out;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'app-url': { type: 'string' },
      'account-sid': { type: 'string' },
      'auth-token': { type: 'string' },
      speed: { type: 'string' },
      port: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!positionals.length) throw new Error('usage: npm run sim -- <scenario.json> [--app-url URL] [--speed N]');
  let failed = 0;
  for (const file of positionals) {
    const sc = loadScenario(file);
    const who = simSettings(sc, { appUrl: values['app-url'], accountSid: values['account-sid'], authToken: values['auth-token'] }, process.env, (l) => console.error(l));
    const res = await runScenario(sc, {
      appUrl: who.appUrl, accountSid: who.accountSid, authToken: who.authToken,
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
