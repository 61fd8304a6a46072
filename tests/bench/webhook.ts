/**
 * `npm run bench:webhook [-- --requests N --concurrency C]`: signed status callbacks through
 * the whole local stack (signature front → twilio-run → PostgREST → Postgres), printing
 * requests/s, latency percentiles and database round trips per request.
 */
import { Command } from 'commander';
import twilio from 'twilio';
import { randomBytes } from 'node:crypto';
import { startStackProcess } from '../helpers/stack';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--requests <n>', 'callbacks to send', '4000')
    .option('--concurrency <n>', 'requests in flight', '50')
    .parse(process.argv)
    .opts<{ requests: string; concurrency: string }>();
  const total = Number(o.requests);
  const concurrency = Number(o.concurrency);

  const stack = await startStackProcess(['--no-emulator']);
  const { FUNCTIONS_BASE_URL: base, TWILIO_AUTH_TOKEN: token, TWILIO_ACCOUNT_SID: account, SUPABASE_URL } = stack.env;
  const url = `${base}/webhooks/call-status`;
  const statuses = ['initiated', 'ringing', 'in-progress', 'completed'];
  const t0 = Date.parse('2026-11-24T13:00:00Z');
  const bodies: { body: string; signature: string }[] = [];
  let sid = '';
  for (let i = 0; i < total; i++) {
    const step = i % statuses.length;
    if (step === 0) sid = 'CA' + randomBytes(16).toString('hex');
    const params: Record<string, string> = {
      CallSid: sid, AccountSid: account, From: '+551130002000', To: `+55119${String(10_000_000 + (i >> 2)).slice(-8)}`,
      CallStatus: statuses[step]!, Direction: 'outbound-api', ApiVersion: '2010-04-01', SequenceNumber: String(step),
      Timestamp: new Date(t0 + i * 1000).toUTCString(), CallbackSource: 'call-progress-events',
      ...(statuses[step] === 'completed' ? { CallDuration: '42' } : {}),
    };
    bodies.push({ body: new URLSearchParams(params).toString(), signature: twilio.getExpectedTwilioSignature(token, url, params) });
  }
  const stats = async () => ((await (await fetch(`${SUPABASE_URL}/_local/stats`)).json()) as { restRequests: number }).restRequests;

  // Warm up (first requests load modules and open connections).
  for (const b of bodies.slice(0, 20)) await send(b);
  const before = await stats();
  const latencies: number[] = [];
  let next = 20;
  let failures = 0;
  async function send(b: { body: string; signature: string }): Promise<number> {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': b.signature }, body: b.body });
    await res.arrayBuffer();
    return res.status;
  }
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const b = bodies[next++]!;
        const t = performance.now();
        const status = await send(b);
        latencies.push(performance.now() - t);
        if (status !== 204) failures++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const roundTrips = (await stats()) - before;
  await stack.stop();

  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  console.log(`bench:webhook — ${n} signed status callbacks, concurrency ${concurrency}, Node ${process.version}, ${require('node:os').cpus().length} cores`);
  console.log(`  requests/s          ${(n / seconds).toFixed(0)}`);
  console.log(`  latency p50         ${percentile(latencies, 50).toFixed(1)} ms`);
  console.log(`  latency p99         ${percentile(latencies, 99).toFixed(1)} ms`);
  console.log(`  latency max         ${latencies[n - 1]!.toFixed(1)} ms`);
  console.log(`  db round trips/req  ${(roundTrips / n).toFixed(2)}`);
  console.log(`  non-204 answers     ${failures}`);
  if (failures > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
