/**
 * Caller-ID picks under concurrency: many Postgres connections call public.caller_id_pick at
 * once on a scratch database (created on the server given, migrated, dropped afterwards), and
 * the picks are read back in the order they happened (last_used_at is strictly increasing in
 * pick order) to count duplicates within a round, the usage spread, refusals and cap breaks.
 *   npm run bench:caller-id            (on the running local stack: npm start)
 * tests/flow/caller-id-rotation.test.ts uses the same helpers on the test stack.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

const root = join(__dirname, '..', '..');

/** A database of its own on the server of `serverUrl`, with bootstrap.sql and every migration applied (no seed). */
export async function scratchDatabase(serverUrl: string, prefix = 'scratch'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(readFileSync(join(root, 'stack', 'bootstrap.sql'), 'utf8'));
    const dir = join(root, 'supabase', 'migrations');
    for (const file of readdirSync(dir).filter((f) => /^\d{14}_.+\.sql$/.test(f)).sort()) {
      await c.query('begin');
      try {
        await c.query(readFileSync(join(dir, file), 'utf8'));
        await c.query('commit');
      } catch (e) {
        await c.query('rollback');
        throw new Error(`migration ${file} failed on the scratch database: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    await c.end();
  }
  return {
    url,
    drop: async () => {
      const a = new Client({ connectionString: serverUrl });
      await a.connect();
      try {
        await a.query(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** One pick as the caller saw it: the number (null = refused) and the use it recorded. */
export interface Pick {
  phone: string | null;
  /** last_used_at in microseconds since the epoch (a JS Date would round to milliseconds). */
  usedAt: bigint | null;
  callsToday: number | null;
}

/** `clients` connections at once, each making `perClient` picks in a row (each its own transaction). */
export async function concurrentPicks(url: string, o: { clients: number; perClient: number; strategy: string; ddd?: number | null }): Promise<{ picks: Pick[]; seconds: number }> {
  const clients = await Promise.all(
    Array.from({ length: o.clients }, async () => {
      const c = new Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  try {
    const started = process.hrtime.bigint();
    const perClient = await Promise.all(
      clients.map(async (c) => {
        const mine: Pick[] = [];
        for (let i = 0; i < o.perClient; i++) {
          const r = await c.query<{ phone_number: string | null; used_us: string | null; calls_today: number | null }>(
            `select phone_number, (extract(epoch from last_used_at) * 1000000)::bigint::text as used_us, calls_today
               from public.caller_id_pick($1, $2::smallint)`,
            [o.strategy, o.ddd ?? null],
          );
          const row = r.rows[0]!;
          mine.push({ phone: row.phone_number, usedAt: row.used_us === null ? null : BigInt(row.used_us), callsToday: row.calls_today });
        }
        return mine;
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { picks: perClient.flat(), seconds };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** What a run of picks shows, rounds of `poolSize` picks taken in pick order. */
export function pickStats(picks: Pick[], poolSize: number): { picked: number; refused: number; roundsWithDuplicates: number; rounds: number; perNumber: Map<string, number>; spread: number } {
  const done = picks.filter((p) => p.phone !== null).sort((a, b) => (a.usedAt! < b.usedAt! ? -1 : a.usedAt! > b.usedAt! ? 1 : 0));
  let roundsWithDuplicates = 0;
  let rounds = 0;
  for (let i = 0; i < done.length; i += poolSize) {
    const round = done.slice(i, i + poolSize).map((p) => p.phone);
    rounds++;
    if (new Set(round).size !== round.length) roundsWithDuplicates++;
  }
  const perNumber = new Map<string, number>();
  for (const p of done) perNumber.set(p.phone!, (perNumber.get(p.phone!) ?? 0) + 1);
  const counts = [...perNumber.values()];
  return {
    picked: done.length,
    refused: picks.length - done.length,
    roundsWithDuplicates,
    rounds,
    perNumber,
    spread: counts.length ? Math.max(...counts) - Math.min(...counts) : 0,
  };
}

/** Replaces the scratch pool with `count` numbers (DDDs cycling through a few states), all eligible. */
export async function freshPool(url: string, count: number, o: { cap?: (i: number) => number; cooldown?: number } = {}): Promise<string[]> {
  const ddds = [11, 21, 31, 41, 51, 61, 71, 81, 92, 68];
  const numbers = Array.from({ length: count }, (_, i) => `+55${ddds[i % ddds.length]}3000${String(1000 + i).slice(-4)}`);
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('delete from public.calls');
    await c.query('delete from public.phone_numbers');
    for (const [i, n] of numbers.entries()) {
      await c.query('insert into public.phone_numbers (phone_number, daily_cap, cooldown_seconds) values ($1, $2, $3)', [n, o.cap?.(i) ?? 100_000, o.cooldown ?? 0]);
    }
  } finally {
    await c.end();
  }
  return numbers;
}

async function main(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readStackEnv } = require('../../stack/env-file') as typeof import('../../stack/env-file');
  const serverUrl = process.env['DATABASE_URL'] ?? readStackEnv()?.values['DATABASE_URL'];
  if (!serverUrl) throw new Error('no database: start the local stack (npm start) or set DATABASE_URL');
  const db = await scratchDatabase(serverUrl, 'bench_caller_id');
  try {
    const size = 30;
    console.log(`caller_id_pick, 20 connections x 50 picks, ${size} pool numbers, every number eligible:`);
    for (const strategy of ['round_robin', 'least_used', 'random']) {
      await freshPool(db.url, size);
      const { picks, seconds } = await concurrentPicks(db.url, { clients: 20, perClient: 50, strategy });
      const s = pickStats(picks, size);
      console.log(
        `  ${strategy.padEnd(11)} ${s.picked} picks in ${seconds.toFixed(2)} s = ${Math.round(s.picked / seconds)} picks/s; ` +
          `refused ${s.refused}; rounds with a duplicate ${s.roundsWithDuplicates}/${s.rounds}; usage spread ${s.spread}`,
      );
    }
  } finally {
    await db.drop();
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
