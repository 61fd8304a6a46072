/** Dial fates drawn from the scenario's distributions (the simulator's own streams), their emulator parties, and the day's leads. */
import { join } from 'node:path';
import { simulate } from '../../simulator/simulate';
import { dialFate, generateLeads, leadMixAt, partyFor } from '../leads';
import { loadScenario, SIM_STRATEGY } from '../run';
import { DDD_REGIONS, dddOf } from '../contract';

const scenario = loadScenario(join(__dirname, '../../simulator/scenarios/medium-20.json'));

describe('dialFate', () => {
  const N = 20000;
  const fates = Array.from({ length: N }, (_, i) => dialFate(scenario, 1, i));
  const share = (pred: (f: (typeof fates)[number]) => boolean) => fates.filter(pred).length / N;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

  test('outcomes follow the scenario (human .25, machine .15, busy .08, the rest no answer) within sampling error', () => {
    // Humans/machines answering after the 28 s ring timeout become no-answers (rare: 11±4 s, 16±3 s).
    expect(share((f) => f.kind === 'human')).toBeCloseTo(0.25, 1);
    expect(Math.abs(share((f) => f.kind === 'human') - 0.25)).toBeLessThan(0.012);
    expect(Math.abs(share((f) => f.kind === 'machine') - 0.15)).toBeLessThan(0.012);
    expect(Math.abs(share((f) => f.kind === 'busy') - 0.08)).toBeLessThan(0.008);
    expect(Math.abs(share((f) => f.kind === 'no-answer') - 0.52)).toBeLessThan(0.015);
  });

  test('AMD is right for 96 % of humans and 85 % of machines; times follow their distributions', () => {
    const humans = fates.filter((f) => f.kind === 'human');
    const machines = fates.filter((f) => f.kind === 'machine');
    expect(Math.abs(humans.filter((f) => f.amdSays === 'human').length / humans.length - 0.96)).toBeLessThan(0.01);
    expect(Math.abs(machines.filter((f) => f.amdSays === 'machine_start').length / machines.length - 0.85)).toBeLessThan(0.02);
    expect(Math.abs(mean(humans.map((f) => f.answerAfterS)) - 11)).toBeLessThan(0.3);
    expect(Math.min(...humans.map((f) => f.answerAfterS))).toBeGreaterThanOrEqual(4);
    expect(Math.abs(mean(humans.map((f) => f.talkS)) - 240)).toBeLessThan(10);
    expect(Math.abs(mean(fates.map((f) => f.wrapS)) - 30)).toBeLessThan(1);
    expect(fates.every((f) => f.amdS >= 2 && f.amdS <= 4)).toBe(true);
    expect(fates.filter((f) => f.kind === 'busy').every((f) => f.answerAfterS >= 2 && f.answerAfterS <= 5)).toBe(true);
    expect(machines.every((f) => f.talkS >= 4 && f.talkS <= 10 && f.patienceS === 120)).toBe(true);
  });

  test('deterministic per (seed, index), different across indices and seeds', () => {
    expect(dialFate(scenario, 1, 42)).toEqual(dialFate(scenario, 1, 42));
    expect(dialFate(scenario, 1, 42)).not.toEqual(dialFate(scenario, 1, 43));
    expect(dialFate(scenario, 2, 42)).not.toEqual(dialFate(scenario, 1, 42));
  });

  test('dial i is the simulator\'s call i: the answered and AMD-dropped counts of its dials agree', () => {
    const short = loadScenario(join(__dirname, '../../simulator/scenarios/medium-20.json'), { hours: 1 });
    const r = simulate({ ...short, overflow: 'drop' }, SIM_STRATEGY, 1);
    const mine = Array.from({ length: r.totals.dials }, (_, i) => dialFate(short, 1, i));
    const answered = mine.filter((f) => f.kind === 'human' || f.kind === 'machine').length;
    const dropped = mine.filter((f) => f.kind === 'human' && f.amdSays === 'machine_start').length;
    // Only calls dialed in the last seconds of the shift may be answered after it ends.
    expect(answered - r.totals.answered).toBeGreaterThanOrEqual(0);
    expect(answered - r.totals.answered).toBeLessThanOrEqual(5);
    expect(Math.abs(dropped - r.totals.amdDroppedHumans)).toBeLessThanOrEqual(1);
  });
});

describe('answer rates through the day (leadsByHour)', () => {
  const day = {
    ...scenario,
    leads: { human: 0, machine: 0, busy: 0, noAnswer: 1 },
    leadsByHour: [{ fromHour: 2, human: 1, machine: 0, busy: 0, noAnswer: 0 }, { fromHour: 4, human: 0, machine: 0, busy: 1, noAnswer: 0 }],
  };
  test('the mix in force at a dial\'s time into the shift', () => {
    expect(leadMixAt(day, 0)).toBe(day.leads);
    expect(leadMixAt(day, 2 * 3600 - 1).noAnswer).toBe(1);
    expect(leadMixAt(day, 2 * 3600).human).toBe(1);
    expect(leadMixAt(day, 5 * 3600).busy).toBe(1);
  });
  test('dialFate draws from it: the same dial index is a no-answer at 1 h, a person at 3 h, busy at 5 h', () => {
    expect(dialFate(day, 1, 7, 3600).kind).toBe('no-answer');
    expect(dialFate(day, 1, 7, 3 * 3600).kind).toBe('human');
    expect(dialFate(day, 1, 7, 5 * 3600).kind).toBe('busy');
  });
});

describe('partyFor', () => {
  const base = { index: 0, answerAfterS: 9.5, amdSays: 'human' as const, amdS: 2.5, patienceS: 7, talkS: 100, wrapS: 20 };
  test('a person answers after the drawn time, AMD answers as drawn, patience (from the disclaimer\'s end) as drawn', () => {
    expect(partyFor('+5511999990001', { ...base, kind: 'human' })).toEqual({
      number: '+5511999990001', outcome: 'answer', kind: 'human', answerAfter: 9.5, answeredBy: 'human', amdMs: 2500, patienceSeconds: 7,
    });
    expect(partyFor('+5511999990001', { ...base, kind: 'machine', amdSays: 'machine_start' })).toMatchObject({ kind: 'machine', answeredBy: 'machine_start' });
  });
  test('busy and no-answer', () => {
    expect(partyFor('+5511999990001', { ...base, kind: 'busy' })).toEqual({ number: '+5511999990001', outcome: 'busy', answerAfter: 9.5 });
    expect(partyFor('+5511999990001', { ...base, kind: 'no-answer' })).toEqual({ number: '+5511999990001', outcome: 'no-answer' });
  });
});

describe('generateLeads', () => {
  const leads = generateLeads(5000, 7, { optOutShare: 0.02, badDddCount: 5 });
  test('unique E.164 numbers, every one with a known DDD but the planted bad ones', () => {
    expect(new Set(leads.map((l) => l.phone)).size).toBe(5000);
    expect(leads.every((l) => /^\+55[1-9][0-9]9[0-9]{8}$/.test(l.phone))).toBe(true);
    const unknown = leads.filter((l) => !DDD_REGIONS[dddOf(l.phone)!]);
    expect(unknown).toHaveLength(5);
    expect(unknown.every((l) => !l.optedOut)).toBe(true);
  });
  test('all three time zones, São Paulo the largest share, about 2 % opted out, fields for the whisper', () => {
    const offsets = new Map<number, number>();
    for (const l of leads) {
      const r = DDD_REGIONS[dddOf(l.phone)!];
      if (r) offsets.set(r.utcOffsetHours, (offsets.get(r.utcOffsetHours) ?? 0) + 1);
    }
    expect(offsets.get(-4)! / 5000).toBeGreaterThan(0.05);
    expect(offsets.get(-5)! / 5000).toBeGreaterThan(0.01);
    expect(leads.filter((l) => l.phone.startsWith('+5511')).length / 5000).toBeGreaterThan(0.1);
    expect(Math.abs(leads.filter((l) => l.optedOut).length / 5000 - 0.02)).toBeLessThan(0.01);
    expect(leads[0]!.fields).toEqual({ nome: leads[0]!.name, dias_atraso: expect.any(Number), valor: expect.stringMatching(/^\d+,\d{2}$/), contrato: 'C100000' });
    expect(generateLeads(50, 7)).toEqual(generateLeads(50, 7));
  });
});
