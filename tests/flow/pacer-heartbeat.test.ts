/**
 * `npm start` drives the pacer by itself: the local stack makes a TICK_SECRET for the run and
 * POSTs /api/tick with its HMAC every --tick-interval seconds (TICK_INTERVAL, default 5), so a
 * running campaign gets rounds (trigger 'heartbeat') without anything else happening.
 */
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';

jest.setTimeout(60000);

let stack: StackProcess;
beforeAll(async () => {
  stack = await startStackProcess(['--no-emulator', '--tick-interval', '1']);
}, 120000);
afterAll(async () => stack?.stop());

it('rounds come every interval for a running campaign, and stop for a paused one', async () => {
  const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
  expect(stack.env.TICK_SECRET).toMatch(/^[0-9a-f]{64}$/);
  const [c] = await sql<{ id: string }>(`insert into campaigns (name, status, window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday, sunday_start, sunday_end, skip_holidays)
     values ('heartbeat', 'active', 'custom', '00:00', '24:00', '00:00', '24:00', true, '00:00', '24:00', false) returning id`);
  const count = async () => (await sql<{ n: number }>(`select count(*)::int as n from pacer_rounds where campaign_id = $1 and trigger = 'heartbeat'`, [c!.id]))[0]!.n;
  const deadline = Date.now() + 15000;
  while ((await count()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(await count()).toBeGreaterThanOrEqual(2);
  expect(await sql(`select reason from pacer_rounds where campaign_id = $1 limit 1`, [c!.id])).toEqual([{ reason: 'no_agents' }]);
  await sql(`update campaigns set status = 'paused' where id = $1`, [c!.id]);
  await new Promise((r) => setTimeout(r, 1500));
  const settled = await count();
  await new Promise((r) => setTimeout(r, 2500));
  expect(await count()).toBe(settled);
});
