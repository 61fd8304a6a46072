/**
 * The people the campaign calls. Two parts:
 *   - the leads themselves (names, fields for the whisper, phone numbers spread over the DDDs
 *     and their three time zones, some already on the opt-out list, a few with no valid DDD);
 *   - the fate of each dial: who answers, after how long, what AMD will say, how patient a
 *     person is, how long the agent talks and wraps up. Dial i draws from the same PRNG stream
 *     the pacing simulator uses for its call i (simulator/simulate.ts `dial`), in the same
 *     order, so the live run and the simulator meet the same people in the same order.
 */
import { mixSeed, mulberry32, type Random } from '../simulator/prng';
import { draw, type Scenario } from '../simulator/scenario';
import type { PartySpec } from '../emulator';
import { DDD_REGIONS } from './contract';

/** What a dial reaches: shares that add up to 1. */
export interface LeadMix {
  human: number;
  machine: number;
  busy: number;
  noAnswer: number;
}

/** The lead mix at `tS` seconds into the shift: `leads`, or the last `leadsByHour` entry begun by then (answer rates through the day). */
export function leadMixAt(scenario: Scenario & { leadsByHour?: (LeadMix & { fromHour: number })[] }, tS: number): LeadMix {
  let mix: LeadMix = scenario.leads;
  for (const e of scenario.leadsByHour ?? []) if (e.fromHour * 3600 <= tS) mix = e;
  return mix;
}

/** What one dial reaches and what follows. Times in seconds. */
export interface DialFate {
  index: number;
  kind: 'human' | 'machine' | 'busy' | 'no-answer';
  /** Seconds of ringing before the answer (answered kinds) or the busy signal (busy). */
  answerAfterS: number;
  /** What AMD reports, and after how long. */
  amdSays: 'human' | 'machine_start';
  amdS: number;
  /** A person's patience after the disclaimer's end (machines: 120 s). */
  patienceS: number;
  /** How long the agent talks once connected (a machine put through: the scenario's machineTalk). */
  talkS: number;
  /** The agent's wrap-up after the call. */
  wrapS: number;
}

/**
 * The fate of dial `index` placed `tS` seconds into the shift, drawn exactly as the simulator
 * draws its call `index`: outcome (from the lead mix in force then), answer (or busy) time,
 * AMD delay, AMD right or wrong, patience, talk, wrap-up.
 */
export function dialFate(scenario: Scenario, seed: number, index: number, tS = 0): DialFate {
  const random: Random = mulberry32(mixSeed(seed, index));
  const u = random();
  const leads = leadMixAt(scenario, tS);
  const { ring } = scenario;
  let kind: DialFate['kind'] = 'no-answer';
  let answerIn = Infinity;
  let busyAfter = 0;
  if (u < leads.human) {
    kind = 'human';
    answerIn = draw(ring.humanAnswer, random);
  } else if (u < leads.human + leads.machine) {
    kind = 'machine';
    answerIn = draw(ring.machineAnswer, random);
  } else if (u < leads.human + leads.machine + leads.busy) {
    kind = 'busy';
    busyAfter = draw(ring.busy, random);
  }
  if ((kind === 'human' || kind === 'machine') && answerIn >= ring.noAnswerTimeoutS) kind = 'no-answer';
  const amdS = draw(scenario.amd.delay, random);
  const trueHuman = u < leads.human;
  const correct = random() < (trueHuman ? scenario.amd.humanAccuracy : scenario.amd.machineAccuracy);
  const classifiedMachine = trueHuman ? !correct : correct;
  const patienceS = trueHuman ? draw(scenario.patience, random) : 120;
  const talkS = draw(trueHuman ? scenario.talk : scenario.machineTalk, random);
  const wrapS = draw(scenario.wrapUp, random);
  return {
    index,
    kind,
    answerAfterS: kind === 'busy' ? busyAfter : Number.isFinite(answerIn) ? answerIn : 0,
    amdSays: classifiedMachine ? 'machine_start' : 'human',
    amdS,
    patienceS,
    talkS,
    wrapS,
  };
}

/** The emulator party that plays a fate (a person's patience runs from the disclaimer's end: the emulator's patienceSeconds). */
export function partyFor(number: string, fate: DialFate): PartySpec {
  switch (fate.kind) {
    case 'busy':
      return { number, outcome: 'busy', answerAfter: fate.answerAfterS };
    case 'no-answer':
      return { number, outcome: 'no-answer' };
    case 'human':
    case 'machine':
      return {
        number,
        outcome: 'answer',
        kind: fate.kind,
        answerAfter: fate.answerAfterS,
        answeredBy: fate.amdSays,
        amdMs: Math.round(fate.amdS * 1000),
        patienceSeconds: fate.patienceS,
      };
  }
}

/** One lead as the simulation inserts it. */
export interface LeadSpec {
  phone: string;
  name: string;
  fields: Record<string, string | number>;
  /** Already on the opt-out list before the day starts (must never be dialed). */
  optedOut: boolean;
}

const FIRST = ['Ana', 'Bruno', 'Carla', 'Daniel', 'Eduarda', 'Felipe', 'Gabriela', 'Heitor', 'Isabela', 'João', 'Larissa', 'Marcos', 'Natália', 'Otávio', 'Paula', 'Rafael', 'Sofia', 'Thiago', 'Vitória', 'Yuri'];
const LAST = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Lima', 'Pereira', 'Ferreira', 'Almeida', 'Costa', 'Rodrigues', 'Gomes', 'Martins', 'Araújo', 'Barbosa', 'Ribeiro'];

/**
 * Leads for the day: `count` numbers spread over every DDD the windows module knows, weighted so
 * most are in UTC-3 and some in UTC-4 and UTC-5 (their windows open one and two hours after São
 * Paulo's); `optOutShare` of them already opted out; `badDddCount` numbers with a DDD that does
 * not exist (never to be dialed). Deterministic for a seed; phone numbers are unique.
 */
export function generateLeads(count: number, seed: number, opts: { optOutShare?: number; badDddCount?: number } = {}): LeadSpec[] {
  const random = mulberry32(mixSeed(seed, 0x1ead));
  const ddds = Object.keys(DDD_REGIONS).map(Number).sort((a, b) => a - b);
  const weight = (d: number) => {
    const off = DDD_REGIONS[d]!.utcOffsetHours;
    if (d === 11) return 12; // the São Paulo metro area holds a large share of any Brazilian list
    if (d === 21 || d === 31) return 5;
    return off === -3 ? 1 : 2; // over-represent the other time zones so their windows are exercised
  };
  const total = ddds.reduce((s, d) => s + weight(d), 0);
  const pickDdd = () => {
    let x = random() * total;
    for (const d of ddds) {
      x -= weight(d);
      if (x < 0) return d;
    }
    return ddds[ddds.length - 1]!;
  };
  const seen = new Set<string>();
  const out: LeadSpec[] = [];
  const optOutShare = opts.optOutShare ?? 0.02;
  const badDdd = opts.badDddCount ?? 0;
  while (out.length < count) {
    const bad = out.length < badDdd;
    const ddd = bad ? 20 : pickDdd(); // 20: no such DDD in Brazil
    const subscriber = 900000000 + Math.floor(random() * 99_999_999);
    const phone = `+55${ddd}${subscriber}`;
    if (seen.has(phone)) continue;
    seen.add(phone);
    const i = out.length;
    const first = FIRST[Math.floor(random() * FIRST.length)]!;
    const last = LAST[Math.floor(random() * LAST.length)]!;
    const days = 5 + Math.floor(random() * 120);
    const cents = 5000 + Math.floor(random() * 500000);
    out.push({
      phone,
      name: `${first} ${last}`,
      fields: { nome: `${first} ${last}`, dias_atraso: days, valor: (cents / 100).toFixed(2).replace('.', ','), contrato: `C${String(100000 + i)}` },
      optedOut: !bad && random() < optOutShare,
    });
  }
  return out;
}
