import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadScenario, runScenario } from '../scenario';

const dir = path.join(__dirname, '../scenarios');

test.each(readdirSync(dir).filter((f) => f.endsWith('.json')))('example scenario %s passes', async (file) => {
  const res = await runScenario(loadScenario(path.join(dir, file)), { quiet: true });
  expect(res.failures).toEqual([]);
  expect(res.report).toMatch(/expectations: (\d+)\/\1 passed/);
});

test('a failing expectation fails the scenario and says why', async () => {
  const sc = loadScenario(path.join(dir, 'inbound-menu.json'));
  sc.expect = [{ call: 'customer', heard: 'this is never said' }, { call: 'customer', status: 'busy' }, { call: 'customer', webhook: '/voice/inbound', answered: 500 }];
  const res = await runScenario(sc, { quiet: true });
  expect(res.ok).toBe(false);
  expect(res.failures).toHaveLength(3);
  expect(res.failures[0]).toMatch(/no Say containing "this is never said"/);
  expect(res.failures[1]).toMatch(/status is completed/);
  expect(res.failures[2]).toMatch(/answered 200/);
});

test('--app-url overrides the scenario app (an unreachable app gives 11205 errors and the application error)', async () => {
  const sc = loadScenario(path.join(dir, 'inbound-menu.json'));
  sc.expect = [{ call: 'customer', noErrors: true }];
  const res = await runScenario(sc, { quiet: true, appUrl: 'http://127.0.0.1:9' });
  expect(res.ok).toBe(false);
  expect(res.failures[0]).toMatch(/connection failure/);
});
