/** Each detector, given a clean day and the same day with one planted violation. */
import { callerIdCapBreaks, callsWithoutRows, countByRule, cpsBreaks, optedOutDialed, outOfWindow, saoPauloDay } from '../violations';
import { COLLECTIONS_SP, isOpenFor, dddOf } from '../contract';

// Tuesday 2026-12-01, 09:00 in São Paulo (12:00 UTC).
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const at = (sec: number) => T0 + sec * 1000;
const placed = (sid: string, to: string, sec: number, from = '+551137000000') => ({ sid, to, from, createdMs: at(sec) });

describe('opted-out numbers dialed', () => {
  const optOuts = [{ phone: '+5511999990001', createdMs: at(-3600) }, { phone: '+5511999990002', createdMs: at(600) }];
  test('clean: a number opted out after its call is not a violation', () => {
    expect(optedOutDialed([placed('CA1', '+5511999990002', 10), placed('CA2', '+5511999990003', 20)], optOuts)).toEqual([]);
  });
  test('planted: a call to a number already on the list', () => {
    const f = optedOutDialed([placed('CA1', '+5511999990002', 10), placed('CA3', '+5511999990001', 30), placed('CA4', '+5511999990002', 700)], optOuts);
    expect(f.map((x) => x.detail.split(' ')[0])).toEqual(['CA3', 'CA4']);
    expect(f.every((x) => x.rule === 'opted_out_dialed')).toBe(true);
  });
});

describe('out-of-window dials', () => {
  const isOpen = (ddd: number, ms: number) => isOpenFor(ddd, COLLECTIONS_SP, ms, []);
  const attempt = (id: string, to: string, sec: number) => ({ id, to, ddd: dddOf(to), createdMs: at(sec) });
  test('the windows the detector relies on: Acre opens two hours after São Paulo, Amazonas one', () => {
    expect(isOpen(11, at(0))).toBe(true); // 09:00 in São Paulo
    expect(isOpen(92, at(0))).toBe(true); // 08:00 in Manaus
    expect(isOpen(68, at(0))).toBe(false); // 07:00 in Rio Branco
    expect(isOpen(68, at(3600))).toBe(true);
    expect(isOpen(11, at(11 * 3600))).toBe(false); // 20:00 in São Paulo: closed (end exclusive)
  });
  test('clean: every attempt inside its window', () => {
    expect(outOfWindow([attempt('1', '+5511999990001', 0), attempt('2', '+5592999990001', 60), attempt('3', '+5568999990001', 3700)], isOpen)).toEqual([]);
  });
  test('planted: Acre dialed at 07:00 local, a number without a DDD, São Paulo at 20:00', () => {
    const f = outOfWindow(
      [attempt('1', '+5511999990001', 0), attempt('2', '+5568999990001', 60), attempt('3', '+351912345678', 60), attempt('4', '+5511999990001', 11 * 3600)],
      isOpen,
    );
    expect(f.map((x) => x.detail.split(' ')[1])).toEqual(['2', '3', '4']);
  });
});

describe('caller-ID cap breaks', () => {
  const caps = new Map([['+551137000000', 2], ['+552137000001', 1]]);
  test('clean: at the cap, and the cap counted per São Paulo day', () => {
    // 23:30 and 00:30 São Paulo time are two days.
    const late = T0 + 14.5 * 3600_000;
    const early = T0 + 15.5 * 3600_000;
    expect(saoPauloDay(late)).toBe('2026-12-01');
    expect(saoPauloDay(early)).toBe('2026-12-02');
    expect(callerIdCapBreaks([
      { from: '+551137000000', createdMs: at(0) }, { from: '+551137000000', createdMs: at(10) },
      { from: '+552137000001', createdMs: late }, { from: '+552137000001', createdMs: early },
    ], caps)).toEqual([]);
  });
  test('planted: one call over the cap, and a caller ID outside the pool', () => {
    const f = callerIdCapBreaks([
      { from: '+551137000000', createdMs: at(0) }, { from: '+551137000000', createdMs: at(10) }, { from: '+551137000000', createdMs: at(20) },
      { from: '+551199999999', createdMs: at(30) },
    ], caps);
    expect(f.map((x) => x.detail)).toEqual(['+551137000000: 3 calls on 2026-12-01, cap 2', '+551199999999 is not a pool number with a cap (1 calls on 2026-12-01)']);
  });
});

describe('CPS breaks', () => {
  test('clean: one per second at CPS 1, three per second at CPS 3', () => {
    expect(cpsBreaks([0, 1000, 2000, 3000].map(at), 1)).toEqual([]);
    expect(cpsBreaks([0, 0.3, 0.6, 1.0, 1.3, 1.6].map((x) => at(x)), 3)).toEqual([]);
  });
  test('planted: two attempts 400 ms apart at CPS 1; a burst is reported once', () => {
    const f = cpsBreaks([at(0), at(1), at(1.4), at(3), at(5), at(5.1), at(5.2)], 1);
    expect(f).toHaveLength(2);
    expect(f[0]!.detail).toMatch(/^2 attempts within 1000 ms/);
    expect(f[1]!.detail).toMatch(/^3 attempts within 1000 ms/);
  });
});

describe('calls without rows', () => {
  test('clean: the same CallSids on both sides (rows not yet placed have none)', () => {
    expect(callsWithoutRows(['CA1', 'CA2'], ['CA2', 'CA1', null])).toEqual([]);
  });
  test('planted: a call with no row and a row with no call', () => {
    const f = callsWithoutRows(['CA1', 'CA2', 'CA3'], ['CA1', 'CA2', 'CA9']);
    expect(f).toEqual([
      { rule: 'call_without_row', detail: 'CA3 placed with no calls row' },
      { rule: 'row_without_call', detail: 'calls row CA9 never placed on the emulator' },
    ]);
    expect(countByRule(f)).toEqual({ opted_out_dialed: 0, out_of_window: 0, caller_id_cap: 0, cps: 0, call_without_row: 1, row_without_call: 1 });
  });
});
