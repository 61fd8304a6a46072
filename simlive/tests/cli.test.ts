/** The run's small pure parts: the day it starts, the heartbeat's header, the command line. */
import { createHmac } from 'node:crypto';
import { lastWorkdayAt, nextWorkdayAt } from '../clock';
import { parseArgs, tickHeader } from '../run';

describe('nextWorkdayAt', () => {
  // Friday 2026-11-27 22:00 in São Paulo.
  const friday = Date.UTC(2026, 10, 28, 1, 0);
  test('skips the weekend: Monday 09:00 São Paulo time', () => {
    expect(new Date(nextWorkdayAt(friday, 9)).toISOString()).toBe('2026-11-30T12:00:00.000Z');
  });
  test('skips what the predicate calls a holiday', () => {
    const monday = Date.UTC(2026, 10, 30, 12);
    expect(new Date(nextWorkdayAt(friday, 9, 30, (t) => t === monday + 30 * 60_000)).toISOString()).toBe('2026-12-01T12:30:00.000Z');
  });
});

describe('lastWorkdayAt', () => {
  test('the latest weekday 09:00 São Paulo time at least 12 h back: Thursday 22:00 gives Thursday 09:00', () => {
    expect(new Date(lastWorkdayAt(Date.UTC(2026, 10, 27, 1), 9)).toISOString()).toBe('2026-11-26T12:00:00.000Z');
  });
  test('before 21:00 it is the day before; over a weekend and a holiday it goes back to Friday or before', () => {
    expect(new Date(lastWorkdayAt(Date.UTC(2026, 10, 26, 20), 9)).toISOString()).toBe('2026-11-25T12:00:00.000Z');
    const monday = Date.UTC(2026, 10, 30, 15); // Monday 12:00
    expect(new Date(lastWorkdayAt(monday, 9)).toISOString()).toBe('2026-11-27T12:00:00.000Z');
    expect(new Date(lastWorkdayAt(monday, 9, 0, 12, (t) => t === Date.UTC(2026, 10, 27, 12))).toISOString()).toBe('2026-11-26T12:00:00.000Z');
  });
});

test('tickHeader: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>")>', () => {
  const secret = 'x'.repeat(48);
  const h = tickHeader(secret, 1_800_000_000);
  expect(h).toBe(`t=1800000000,v1=${createHmac('sha256', secret).update('1800000000').digest('hex')}`);
  expect(h).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
});

describe('parseArgs', () => {
  test('the scenario and every option', () => {
    expect(parseArgs(['s.json', '--speed', '8', '--hours', '1.5', '--agents', '5', '--heartbeat', '10', '--poll', '3', '--seed', '4', '--start', '2026-12-01T09:00:00-03:00', '--json'])).toEqual({
      scenarioPath: 's.json', speed: 8, hours: 1.5, agents: 5, heartbeatS: 10, pollS: 3, seed: 4, start: '2026-12-01T09:00:00-03:00', json: true,
    });
  });
  test('bad input is a clear error', () => {
    expect(() => parseArgs([])).toThrow(/usage: npm run sim:campaign/);
    expect(() => parseArgs(['s.json', '--speed'])).toThrow('--speed needs a number');
    expect(() => parseArgs(['s.json', '--speed', 'fast'])).toThrow('--speed needs a number');
    expect(() => parseArgs(['s.json', '--fast'])).toThrow('unknown option --fast');
    expect(() => parseArgs(['a.json', 'b.json'])).toThrow(/one scenario file/);
  });
});
