/** A campaign's CPS share is whole calls per second: fractions are refused with a clear problem. */
import { checkSettings } from '../../src/lib/domain/campaigns';

it('calls_per_second: 1 to 100 whole calls; 0.5, 1.5 and 0 are refused naming the setting', () => {
  expect(checkSettings({ calls_per_second: 2 }, 'update')).toEqual({ ok: true, settings: { calls_per_second: 2 } });
  for (const cps of [0.5, 1.5, 0, 101]) {
    const r = checkSettings({ calls_per_second: cps }, 'update');
    expect(r).toMatchObject({ ok: false, code: 'invalid_settings' });
    expect((r as { problems: string[] }).problems.join(' ')).toMatch(/^calls_per_second: /);
  }
  expect((checkSettings({ calls_per_second: 1.5 }, 'update') as { problems: string[] }).problems).toEqual([
    'calls_per_second: must be a whole number of calls per second (1 to 100)',
  ]);
});
