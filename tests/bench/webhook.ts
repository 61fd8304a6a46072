/**
 * `npm run bench:webhook [-- --requests N --concurrency C --json]`: the status-callback path
 * measured against its floor, in the same run and at the same concurrency.
 *
 * - function path: signed status callbacks through the whole local stack (signature front →
 *   twilio-run → /webhooks/call-status → the REST gateway → PostgREST → Postgres);
 * - floor: the same SQL call (`apply_call_event` with the payloads the function would send)
 *   made straight to the local REST API (/rest/v1 gateway, service key, no function between).
 *
 * Absolute figures depend on the machine; the function path as a multiple of the floor is what
 * the function layer (signature check, runtime, parsing, the PostgREST client) costs on any machine.
 * The two paths alternate in rounds so drift (table growth, a busy neighbour) hits both.
 */
import { Command } from 'commander';
import twilio from 'twilio';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { statusCallbackEvent } from '../../src/lib/domain/call-events';
import { parseParams, statusCallbackParams } from '../../src/lib/runtime/params';
import { startStackProcess } from '../helpers/stack';

interface Sample {
  latencies: number[];
  seconds: number;
  failures: number;
}

interface Figures {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  failures: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function figures(samples: Sample[]): Figures {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((t, s) => t + s.seconds, 0);
  return {
    requests: latencies.length,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    failures: samples.reduce((t, s) => t + s.failures, 0),
  };
}

/** Sends every request with `concurrency` in flight; returns latencies and wall time. */
async function run(requests: (() => Promise<boolean>)[], concurrency: number): Promise<Sample> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const send = requests[next++]!;
        const t = performance.now();
        const ok = await send();
        latencies.push(performance.now() - t);
        if (!ok) failures++;
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000, failures };
}

/** Status callbacks of whole call lifecycles (initiated, ringing, in-progress, completed), one new CallSid per 4. */
function callbacks(n: number, account: string, firstLead: number): Record<string, string>[] {
  const statuses = ['initiated', 'ringing', 'in-progress', 'completed'];
  const t0 = Date.parse('2026-11-24T13:00:00Z');
  const out: Record<string, string>[] = [];
  let sid = '';
  for (let i = 0; i < n; i++) {
    const step = i % statuses.length;
    if (step === 0) sid = 'CA' + randomBytes(16).toString('hex');
    out.push({
      CallSid: sid, AccountSid: account, From: '+551130002000', To: `+55119${String(10_000_000 + firstLead + (i >> 2)).slice(-8)}`,
      CallStatus: statuses[step]!, Direction: 'outbound-api', ApiVersion: '2010-04-01', SequenceNumber: String(step),
      Timestamp: new Date(t0 + i * 1000).toUTCString(), CallbackSource: 'call-progress-events',
      ...(statuses[step] === 'completed' ? { CallDuration: '42' } : {}),
    });
  }
  return out;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--requests <n>', 'callbacks per path (function path and floor each)', '4000')
    .option('--concurrency <n>', 'requests in flight', '50')
    .option('--rounds <n>', 'alternating rounds per path', '2')
    .option('--json', 'print the figures as one JSON document')
    .parse(process.argv)
    .opts<{ requests: string; concurrency: string; rounds: string; json?: boolean }>();
  const total = Number(o.requests);
  const concurrency = Number(o.concurrency);
  const rounds = Number(o.rounds);
  if (![total, concurrency, rounds].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--requests, --concurrency and --rounds must be positive integers');

  const stack = await startStackProcess(['--no-emulator']);
  try {
    const { FUNCTIONS_BASE_URL: base, TWILIO_AUTH_TOKEN: token, TWILIO_ACCOUNT_SID: account, SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: key } = stack.env;
    const url = `${base}/webhooks/call-status`;
    const rpcUrl = `${SUPABASE_URL}/rest/v1/rpc/apply_call_event`;
    const stats = async () => ((await (await fetch(`${SUPABASE_URL}/_local/stats`)).json()) as { restRequests: number }).restRequests;

    // The function path: form bodies signed as Twilio signs them.
    const viaFunction = (params: Record<string, string>) => {
      const body = new URLSearchParams(params).toString();
      const signature = twilio.getExpectedTwilioSignature(token, url, params);
      return async () => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body });
        await res.arrayBuffer();
        return res.status === 204;
      };
    };
    // The floor: the JSON the function sends for the same callback, straight to the REST API.
    const viaRest = (params: Record<string, string>) => {
      const body = JSON.stringify({ p_event: statusCallbackEvent(parseParams(statusCallbackParams, params), params) });
      return async () => {
        const res = await fetch(rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', apikey: key, authorization: `Bearer ${key}` },
          body,
        });
        await res.arrayBuffer();
        return res.ok;
      };
    };

    // Distinct calls per path (same shapes, same number of new rows and updates); leads numbered apart.
    const warm = 40;
    const fnRequests = callbacks(total + warm, account, 0).map(viaFunction);
    const restRequests = callbacks(total + warm, account, 1_000_000).map(viaRest);

    // Warm up both (module loads, connection pools, the first rows).
    await run(fnRequests.slice(0, warm), Math.min(concurrency, 4));
    await run(restRequests.slice(0, warm), Math.min(concurrency, 4));

    const fnSamples: Sample[] = [];
    const restSamples: Sample[] = [];
    let fnRoundTrips = 0;
    const per = Math.ceil(total / rounds);
    for (let r = 0; r < rounds; r++) {
      const from = warm + r * per;
      const to = Math.min(warm + total, from + per);
      restSamples.push(await run(restRequests.slice(from, to), concurrency));
      const before = await stats();
      fnSamples.push(await run(fnRequests.slice(from, to), concurrency));
      fnRoundTrips += (await stats()) - before;
    }

    const fn = figures(fnSamples);
    const floor = figures(restSamples);
    const ratio = {
      p50: fn.p50Ms / floor.p50Ms,
      p99: fn.p99Ms / floor.p99Ms,
      throughput: fn.requestsPerSecond / floor.requestsPerSecond,
    };
    const roundTripsPerRequest = fnRoundTrips / fn.requests;
    const env = { node: process.version, cores: cpus().length, concurrency, requestsPerPath: total, rounds };

    if (o.json) {
      console.log(JSON.stringify({ ...env, function: fn, floor, ratio, roundTripsPerRequest }));
    } else {
      const row = (label: string, a: string, b: string, c: string) => console.log(`  ${label.padEnd(20)}${a.padStart(14)}${b.padStart(14)}${c.padStart(18)}`);
      console.log(
        `bench:webhook — ${total} status callbacks per path, concurrency ${concurrency}, ${rounds} alternating rounds, Node ${process.version}, ${env.cores} cores`,
      );
      row('', 'function', 'floor', 'function/floor');
      row('requests/s', fn.requestsPerSecond.toFixed(0), floor.requestsPerSecond.toFixed(0), `${ratio.throughput.toFixed(2)}×`);
      row('latency p50', `${fn.p50Ms.toFixed(1)} ms`, `${floor.p50Ms.toFixed(1)} ms`, `${ratio.p50.toFixed(2)}×`);
      row('latency p99', `${fn.p99Ms.toFixed(1)} ms`, `${floor.p99Ms.toFixed(1)} ms`, `${ratio.p99.toFixed(2)}×`);
      row('latency max', `${fn.maxMs.toFixed(1)} ms`, `${floor.maxMs.toFixed(1)} ms`, '');
      row('failed answers', String(fn.failures), String(floor.failures), '');
      console.log(`  db round trips per callback (function path): ${roundTripsPerRequest.toFixed(2)}`);
      console.log('  function: signed POST → signature front → twilio-run → /webhooks/call-status → REST gateway → PostgREST → Postgres');
      console.log('  floor:    POST /rest/v1/rpc/apply_call_event with the same JSON, service key, no function in between');
    }
    if (fn.failures > 0 || floor.failures > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
