/**
 * Cold-start cost of each built function: the time Node takes to load its module, measured
 * in a fresh process each run with `twilio` already loaded (the Functions runtime has it
 * before it loads ours), next to the cost of loading `twilio` itself. Median of --runs runs
 * (default 9). For comparison it also measures the libraries the functions used to load
 * (zod, all of supabase-js with ws, libphonenumber-js/max), the same way.
 *
 *   npm run bench:cold [-- --runs 15]
 *
 * Prints figures only; the suite asserts structurally what a function loads
 * (tests/unit/function-loads.test.ts), never a timing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..');
const dist = join(root, 'dist', 'functions');

/** Every built function file under dir. */
function builtFunctions(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? builtFunctions(p) : p.endsWith('.js') ? [p] : [];
  });
}

/**
 * Runs one fresh Node process that loads twilio, then `targets` in order, and reports the
 * milliseconds each took. Module resolution starts from the project root, as the runtime's does.
 */
function measureOnce(targets: string[]): { twilio: number; extra: number } {
  const script = `
    const { performance } = require('node:perf_hooks');
    const t0 = performance.now();
    require('twilio');
    const t1 = performance.now();
    for (const t of JSON.parse(process.argv[1])) require(t);
    const t2 = performance.now();
    process.stdout.write(JSON.stringify({ twilio: t1 - t0, extra: t2 - t1 }));
  `;
  const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(targets)], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measuring ${targets.join(', ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { twilio: number; extra: number };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function measure(targets: string[], runs: number): { twilio: number; extra: number } {
  measureOnce(targets); // warms the file cache; not counted
  const samples = Array.from({ length: runs }, () => measureOnce(targets));
  return { twilio: median(samples.map((s) => s.twilio)), extra: median(samples.map((s) => s.extra)) };
}

function main(): void {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 9;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive whole number');
  if (!existsSync(dist)) throw new Error('dist/functions is missing: run `npm run build` first');

  console.log(`Module load per function, median of ${runs} fresh Node ${process.version} processes (ms)\n`);
  const rows: [string, string, string][] = [];
  let worst = 0;
  for (const file of builtFunctions(dist).sort()) {
    const m = measure([file], runs);
    worst = Math.max(worst, m.extra);
    rows.push([relative(dist, file), m.twilio.toFixed(1), m.extra.toFixed(1)]);
  }
  // What the functions used to load; supabase-js and ws are no longer installed at all.
  const installed = (m: string) => {
    try {
      require.resolve(m);
      return true;
    } catch {
      return false;
    }
  };
  const formerly = ['zod', '@supabase/supabase-js', 'ws', 'libphonenumber-js/max'];
  const previous = formerly.filter(installed);
  const missing = formerly.filter((m) => !installed(m));
  if (missing.length) console.log(`(not installed any more, left out of the "before" row: ${missing.join(', ')})\n`);
  const before = measure(previous, runs);
  rows.push([`(before: ${previous.join(' + ')})`, before.twilio.toFixed(1), before.extra.toFixed(1)]);

  const w = Math.max(...rows.map((r) => r[0].length), 'function'.length);
  console.log(`${'function'.padEnd(w)}  ${'twilio alone'.padStart(12)}  ${'beyond twilio'.padStart(13)}`);
  for (const [name, tw, extra] of rows) console.log(`${name.padEnd(w)}  ${tw.padStart(12)}  ${extra.padStart(13)}`);
  console.log(`\nworst function: ${worst.toFixed(1)} ms beyond twilio (target 60 ms); the libraries loaded before add ${before.extra.toFixed(1)} ms by themselves`);
}

main();
