/**
 * `npm run bench:login [-- --hashes N --logins N --json]`: what a sign-in costs on this machine.
 *
 * - scrypt: hashPassword with the current cost (N=2^15, r=8, p=1), N times, in this process;
 * - /api/login through a fresh local stack (front → twilio-run → login function → two RPCs
 *   around one scrypt check), sequentially, for a known user with the right password, a known
 *   user with a wrong one and an unknown e-mail (the last two must take about as long);
 * - /api/me with the session (one RPC: the session check every /api call pays).
 * Each login comes from its own loopback source address and the lockout keys are cleared
 * between samples, so no answer is a quick 429. Figures: median and p95 in ms.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Command } from 'commander';
import { Client } from 'pg';
import { CURRENT_PARAMS, hashPassword } from '../../src/lib/domain/auth/password';
import { startStackProcess } from '../helpers/stack';

interface Stat {
  n: number;
  medianMs: number;
  p95Ms: number;
}

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, medianMs: Number(at(0.5).toFixed(1)), p95Ms: Number(at(0.95).toFixed(1)) };
}

function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const url = new URL(path, base);
  const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
  const b = randomBytes(3);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: payload ? 'POST' : 'GET',
        localAddress: `127.${16 + (b[0]! % 235)}.${b[1]!}.${1 + (b[2]! % 254)}`,
        headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

async function main(): Promise<void> {
  const opts = new Command('bench:login')
    .option('--hashes <n>', 'scrypt hashes to time', (v) => Number(v), 20)
    .option('--logins <n>', 'sign-ins of each kind to time', (v) => Number(v), 20)
    .option('--json', 'one JSON document on stdout')
    .parse(process.argv)
    .opts<{ hashes: number; logins: number; json?: boolean }>();

  const hashMs: number[] = [];
  for (let i = 0; i < opts.hashes; i++) {
    const t = performance.now();
    await hashPassword(`bench password ${i}`);
    hashMs.push(performance.now() - t);
  }

  const stack = await startStackProcess();
  const pg = new Client({ connectionString: stack.env.DATABASE_URL });
  await pg.connect();
  try {
    const base = stack.env.FUNCTIONS_BASE_URL;
    const email = `bench-${Date.now()}@example.test`;
    const password = 'bench password that is long';
    await pg.query('select auth_create_user($1, $2, $3, $4)', [email, 'Bench', 'agent', await hashPassword(password)]);
    const clear = () => pg.query(`delete from login_throttle`);
    const time = async (body: unknown, expect: number) => {
      await clear();
      const t = performance.now();
      const r = await post(base, '/api/login', body);
      const ms = performance.now() - t;
      if (r.status !== expect) throw new Error(`/api/login answered ${r.status} (expected ${expect}): ${r.text}`);
      return { ms, text: r.text };
    };
    // Warm the function container (first load, first connections).
    await time({ email, password }, 200);
    const ok: number[] = [];
    const wrong: number[] = [];
    const unknown: number[] = [];
    const me: number[] = [];
    let token = '';
    for (let i = 0; i < opts.logins; i++) {
      const r = await time({ email, password }, 200);
      ok.push(r.ms);
      token = (JSON.parse(r.text) as { token: string }).token;
      wrong.push((await time({ email, password: 'not the right one' }, 401)).ms);
      unknown.push((await time({ email: `nobody-${i}@example.test`, password }, 401)).ms);
      const t = performance.now();
      const m = await post(base, '/api/me', undefined, { authorization: `Bearer ${token}` });
      if (m.status !== 200) throw new Error(`/api/me answered ${m.status}: ${m.text}`);
      me.push(performance.now() - t);
    }
    const result = {
      scrypt: { params: CURRENT_PARAMS, ...stat(hashMs) },
      login_ok: stat(ok),
      login_wrong_password: stat(wrong),
      login_unknown_email: stat(unknown),
      unknown_over_wrong_median: Number((stat(unknown).medianMs / stat(wrong).medianMs).toFixed(2)),
      me_session_check: stat(me),
    };
    if (opts.json) console.log(JSON.stringify(result, null, 2));
    else {
      const line = (label: string, s: Stat) => `${label.padEnd(34)} median ${String(s.medianMs).padStart(7)} ms   p95 ${String(s.p95Ms).padStart(7)} ms   (n=${s.n})`;
      console.log(line(`scrypt N=2^${Math.log2(CURRENT_PARAMS.N)} r=${CURRENT_PARAMS.r} p=${CURRENT_PARAMS.p}`, result.scrypt));
      console.log(line('/api/login, right password', result.login_ok));
      console.log(line('/api/login, wrong password', result.login_wrong_password));
      console.log(line('/api/login, unknown e-mail', result.login_unknown_email));
      console.log(`unknown / wrong (median): ${result.unknown_over_wrong_median}`);
      console.log(line('/api/me (session check, 1 RPC)', result.me_session_check));
    }
  } finally {
    await pg.end();
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
