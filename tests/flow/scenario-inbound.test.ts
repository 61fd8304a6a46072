/**
 * The shipped scenario emulator/scenarios/discador/inbound.json, run by the sim
 * against a local stack of discador: the call passes its expectations and lands in Postgres.
 * (The scenario's account is the local stack's, as with `npm start`.)
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

it('discador/inbound.json: disclaimer, Ana answers, the call is completed in the calls table', async () => {
  const scenario = loadScenario(join(__dirname, '../../emulator/scenarios/discador/inbound.json'));
  const result = await runScenario(scenario, {
    appUrl: stack.env.FUNCTIONS_BASE_URL, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, quiet: true,
  });
  expect(result.failures).toEqual([]);
  expect(result.ok).toBe(true);
  const sid = result.callSids['customer'];
  const rows = await sql('select c.direction, c.status, c.from_number, a.name as agent from calls c left join agents a on a.id = c.agent_id where c.call_sid = $1', [sid], stack.env.DATABASE_URL);
  expect(rows).toEqual([{ direction: 'inbound', status: 'completed', from_number: '+5521987654321', agent: 'Ana Souza' }]);
});
