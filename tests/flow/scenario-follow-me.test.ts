/**
 * The shipped follow-me scenarios (emulator/scenarios/discador/follow-me-key.json and
 * follow-me-no-key.json), run by the sim against a local stack of discador: each passes its
 * expectations, and what they leave in Postgres is the follow-me's story (hop outcomes as call
 * events, the screening's key, the voicemail as Ana's). One stack for both: each scenario's
 * customer is its own caller.
 */
import { join } from 'node:path';
import { LOCAL } from '../../stack/defaults';
import { loadScenario, runScenario } from '../../emulator/scenario';
import { sql } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';

jest.setTimeout(90000);
let stack: StackProcess;
beforeAll(async () => {
  stack = await startStackProcess(['--no-emulator']);
});
afterAll(async () => stack?.stop());

const run = async (file: string) => {
  const result = await runScenario(loadScenario(join(__dirname, '../../emulator/scenarios/discador', file)), {
    appUrl: stack.env.FUNCTIONS_BASE_URL, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, quiet: true,
  });
  expect(result.failures).toEqual([]);
  expect(result.ok).toBe(true);
  return result.callSids['customer']!;
};
const events = (sid: string) =>
  sql<{ key: string; outcome: string | null; accepted: boolean | null }>(
    `select dedupe_key as key, params->>'follow_me_outcome' as outcome, (params->>'screen_accepted')::boolean as accepted
       from call_events where call_sid = $1 and kind = 'dial' order by id`,
    [sid], stack.env.DATABASE_URL,
  );

it('follow-me-key.json: softphone unanswered, the mobile presses 1 and talks; the call is Ana\'s and completed', async () => {
  const sid = await run('follow-me-key.json');
  const [call] = await sql('select c.status, a.name as agent, c.answered_at is not null as answered from calls c join agents a on a.id = c.agent_id where c.call_sid = $1', [sid], stack.env.DATABASE_URL);
  expect(call).toEqual({ status: 'completed', agent: 'Ana Souza', answered: true });
  expect(await events(sid)).toEqual([
    { key: 'dial:follow-me:softphone', outcome: 'no-answer', accepted: null },
    { key: 'dial:follow-me:screen', outcome: null, accepted: true },
    { key: 'dial:follow-me:mobile', outcome: 'answered', accepted: null },
  ]);
});

it("follow-me-no-key.json: the mobile's voicemail presses nothing, the customer leaves Ana a voicemail", async () => {
  const sid = await run('follow-me-no-key.json');
  expect(await events(sid)).toEqual([
    { key: 'dial:follow-me:softphone', outcome: 'no-answer', accepted: null },
    { key: 'dial:follow-me:mobile', outcome: 'no-answer', accepted: null },
  ]);
  const rows = await sql('select r.kind, a.name as agent, r.duration > 0 as has_audio from recordings r join agents a on a.id = r.agent_id where r.call_sid = $1', [sid], stack.env.DATABASE_URL);
  expect(rows).toEqual([{ kind: 'voicemail', agent: 'Ana Souza', has_audio: true }]);
});
