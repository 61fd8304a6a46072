/**
 * `npm run call -- <number>`: a customer calls one of the local stack's numbers on its Twilio
 * emulator (the one the agent page's softphone is connected to), then the call's progress is
 * printed until it ends.
 *   npm run call -- +551130001000                       # Ana's number, from a demo lead
 *   npm run call -- +551130001000 --from +5511987650002 --talk 30 --no-follow
 * Reads the running stack's .data/stack.env (or DISCADOR_STACK_ENV).
 */
import { Command, InvalidArgumentError } from 'commander';
import { INBOUND_CALLS_PATH } from '../emulator/control';
import { displayPath, readStackEnv, stackEnvPath } from './env-file';

/** The demo lead "Cliente Um" of supabase/seed.sql, so the screen pop has something to show. */
const DEMO_CUSTOMER = '+5511987650001';

function wholeSeconds(v: string): string {
  if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 14400) throw new InvalidArgumentError('expected whole seconds from 1 to 14400.');
  return v;
}

/** The account's numbers on the emulator, for a refusal that names a number it does not have. */
async function accountNumbers(base: string, sid: string, auth: string): Promise<string[]> {
  try {
    const r = await fetch(`${base}/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers.json?PageSize=50`, { headers: { Authorization: auth } });
    const list = (await r.json()) as { incoming_phone_numbers?: { phone_number: string }[] };
    return (list.incoming_phone_numbers ?? []).map((n) => n.phone_number);
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const o = new Command()
    .name('npm run call --')
    .description("a customer calls one of the local stack's numbers on its Twilio emulator")
    .argument('<to>', 'the number called, e.g. +551130001000 (Ana)')
    .option('--from <number>', 'the customer calling (E.164)', DEMO_CUSTOMER)
    .option('--talk <seconds>', 'the customer hangs up this long after being connected', wholeSeconds)
    .option('--hangup-after <seconds>', 'the customer hangs up this long after the call is answered', wholeSeconds)
    .option('--no-follow', 'print the CallSid and return at once')
    .parse(process.argv);
  const opts = o.opts<{ from: string; talk?: string; hangupAfter?: string; follow: boolean }>();
  const to = o.args[0]!;
  const stack = readStackEnv();
  if (!stack) {
    const named = process.env['DISCADOR_STACK_ENV']?.trim();
    throw new Error(
      named
        ? `DISCADOR_STACK_ENV names ${named}, which does not exist (is that stack running?)`
        : `no local stack is running: ${displayPath(stackEnvPath())} does not exist (start one with \`npm start\` in another terminal)`,
    );
  }
  const env = stack.values;
  const base = env['TWILIO_API_BASE_URL'];
  const sid = env['TWILIO_ACCOUNT_SID'];
  const token = env['TWILIO_AUTH_TOKEN'];
  if (!base || !sid || !token) throw new Error(`${displayPath(stack.file)} names no Twilio emulator`);
  const auth = 'Basic ' + Buffer.from(`${sid}:${token}`).toString('base64');
  const form = new URLSearchParams({ From: opts.from, To: to });
  if (opts.talk) form.set('TalkSeconds', opts.talk);
  if (opts.hangupAfter) form.set('HangupAfter', opts.hangupAfter);
  const res = await fetch(base + INBOUND_CALLS_PATH, {
    method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' }, body: form,
  }).catch((e: unknown) => {
    // A stack killed without stopping leaves its env file behind: say so rather than "fetch failed".
    const why = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
    throw new Error(`the stack of ${displayPath(stack.file)} does not answer at ${base} (${why}); is it still running? Start it again with \`npm start\``);
  });
  const body = (await res.json().catch(() => ({}))) as { sid?: string; message?: string };
  if (res.status === 401) throw new Error(`the emulator at ${base} refused the account and token of ${displayPath(stack.file)}: is that file another stack's?`);
  if (!res.ok || !body.sid) {
    let why = `the emulator refused the call: ${body.message ?? `HTTP ${res.status}`}`;
    if (/^To /.test(body.message ?? '')) {
      const numbers = await accountNumbers(base, sid, auth);
      if (numbers.length) why += `\nthe stack's numbers: ${numbers.join(', ')}`;
    }
    throw new Error(why);
  }
  console.log(`${opts.from} is calling ${to}: ${body.sid}`);
  if (!opts.follow) return;
  let last = '';
  for (;;) {
    const r = await fetch(`${base}/2010-04-01/Accounts/${sid}/Calls/${body.sid}.json`, { headers: { Authorization: auth } }).catch(() => {
      throw new Error(`the stack stopped answering at ${base}; the call's last status was ${last || 'unknown'}`);
    });
    const call = (await r.json()) as { status?: string; duration?: string | null };
    if (call.status && call.status !== last) {
      last = call.status;
      console.log(`  ${new Date().toISOString().slice(11, 19)} ${call.status}${call.duration ? ` (${call.duration} s)` : ''}`);
    }
    if (['completed', 'busy', 'failed', 'no-answer', 'canceled'].includes(last)) return;
    await new Promise((r2) => setTimeout(r2, 1000));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
