/**
 * One clock for the whole simulation. The emulator's VirtualClock runs at a fixed speed
 * (holdsRunRealTime: false), so its time is virtual = epoch + (real - realEpoch) × speed; the
 * database follows the same line through public.app_clock (app_now() = virtual_at +
 * (clock_timestamp() - real_at) × speed). Both sides read the same system clock, so the row is
 * written from one sample of each (no round trip in the error). The row must go at the end of
 * the run, whatever happened: `withDbClock` removes it in a finally.
 */
import type { Client } from 'pg';
import type { VirtualClock } from '../emulator/clock';

/** Writes the app_clock row that puts Postgres on the emulator's virtual clock. */
export async function installDbClock(db: Client, clock: VirtualClock): Promise<{ virtualAt: Date; realAt: Date; speed: number }> {
  if (clock.holdsRunRealTime) throw new Error('the emulator clock must keep its speed during holds (holdsRunRealTime: false) for the database to follow it');
  const realMs = Date.now();
  const virtualMs = clock.now();
  await db.query(
    `insert into public.app_clock (id, virtual_at, real_at, speed) values (true, to_timestamp($1::double precision / 1000), to_timestamp($2::double precision / 1000), $3)
     on conflict (id) do update set virtual_at = excluded.virtual_at, real_at = excluded.real_at, speed = excluded.speed`,
    [virtualMs, realMs, clock.speed],
  );
  return { virtualAt: new Date(virtualMs), realAt: new Date(realMs), speed: clock.speed };
}

/** Removes the app_clock row: app_now() is now() again. */
export async function removeDbClock(db: Client): Promise<void> {
  await db.query('delete from public.app_clock');
}

/**
 * The database's app_now() minus the emulator's now(), in virtual ms, sampled at the middle of
 * the query's round trip (the round trip itself bounds the error: reported as `roundTripMs`).
 */
export async function clockSkew(db: Client, clock: VirtualClock): Promise<{ skewMs: number; roundTripMs: number }> {
  const before = clock.now();
  const t0 = performance.now();
  const { rows } = await db.query<{ v: string }>('select (extract(epoch from public.app_now()) * 1000)::text as v');
  const rt = performance.now() - t0;
  const after = clock.now();
  return { skewMs: Number(rows[0]!.v) - (before + after) / 2, roundTripMs: rt };
}

/** Runs `body` with the database on the emulator's clock, and always takes the row away after. */
export async function withDbClock<T>(db: Client, clock: VirtualClock, body: () => Promise<T>): Promise<T> {
  await installDbClock(db, clock);
  try {
    return await body();
  } finally {
    await removeDbClock(db);
  }
}

/**
 * The latest weekday (Mon–Fri, `isHoliday` false) whose `hour`:`minute` São Paulo time (UTC-3)
 * is at least `hoursBefore` hours before `nowMs`. A simulated day is placed in the past: the
 * functions refuse callback timestamps more than 24 h ahead of the real clock
 * (MAX_TIMESTAMP_AHEAD_MS), and a past day stays behind real time for a whole shift at any speed
 * the machine can run.
 */
export function lastWorkdayAt(nowMs: number, hour: number, minute = 0, hoursBefore = 12, isHoliday: (ms: number) => boolean = () => false): number {
  const local = new Date(nowMs - 3 * 3600_000);
  for (let i = 0; i <= 14; i++) {
    const d = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() - i, hour + 3, minute);
    const wd = new Date(d - 3 * 3600_000).getUTCDay();
    if (d <= nowMs - hoursBefore * 3600_000 && wd >= 1 && wd <= 5 && !isHoliday(d)) return d;
  }
  throw new Error(`no workday found in the 14 days before ${new Date(nowMs).toISOString()}`);
}

/** The next weekday (Mon–Fri) after `fromMs` for which `isHoliday` is false, at `hour`:`minute` São Paulo time (UTC-3). */
export function nextWorkdayAt(fromMs: number, hour: number, minute = 0, isHoliday: (ms: number) => boolean = () => false): number {
  let day = new Date(fromMs - 3 * 3600_000);
  for (let i = 1; i <= 14; i++) {
    const d = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + i, hour + 3, minute));
    const local = new Date(d.getTime() - 3 * 3600_000);
    const wd = local.getUTCDay();
    if (wd >= 1 && wd <= 5 && !isHoliday(d.getTime())) return d.getTime();
  }
  day = new Date(fromMs);
  throw new Error(`no workday found in the 14 days after ${day.toISOString()}`);
}
