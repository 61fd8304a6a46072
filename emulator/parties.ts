/**
 * Simulated parties: the people and machines on the far end of a call leg, keyed by address
 * (E.164 number, `client:identity` or `sip:user@host`).
 */

/** What a party does when it is asked for DTMF by one `<Gather>`. */
export type GatherResponse = string | null | { digits: string; afterSeconds?: number };

/** Behaviour of one simulated party. All times are virtual seconds. */
export interface PartySpec {
  /** E.164 number, `client:identity` or `sip:…` address this spec applies to. */
  number: string;
  /** What happens when this party is called: answer (default), never answer, busy, or fail. */
  outcome?: 'answer' | 'no-answer' | 'busy' | 'failed';
  /** Seconds of ringing before answering (default 1); with outcome busy, before the busy signal. */
  answerAfter?: number;
  /** Who answers: a person (default), an answering machine / voicemail box, or a fax. */
  kind?: 'human' | 'machine' | 'fax';
  /** Answering machine greeting length in seconds (default 6) and whether it ends with a beep (default true). */
  machine?: { greetingSeconds?: number; beep?: boolean };
  /** Overrides what AMD reports (e.g. `machine_end_other`, `unknown`). */
  answeredBy?: string;
  /** Milliseconds AMD needs to decide (default: 2400 for a human, 3200 for machine_start, greeting+beep for message end). */
  amdMs?: number;
  /** Hangs up this many seconds after the leg is answered. */
  hangupAfter?: number;
  /**
   * A person who gives up waiting: hangs up this many seconds after the call's first document
   * (the greeting or disclaimer it hears on answering) has run to its end, unless by then someone
   * is heard (bridged to another leg, or in a started conference with another voice).
   */
  patienceSeconds?: number;
  /** Hangs up this many seconds after being bridged to another party (talk time). */
  talkSeconds?: number;
  /** Digits pressed at given seconds after the leg is answered (heard by a `<Gather>` in progress, or `*` for hangupOnStar). */
  digits?: { at: number; digits: string }[];
  /** One response per `<Gather>` this party meets, in order; `null` presses nothing. After the list, nothing is pressed. */
  gather?: GatherResponse[];
  /** What the party does during a `<Record>`: talk for `speakSeconds` (default 4), then stay silent, hang up, or press `key`. */
  record?: { speakSeconds?: number; then?: 'silence' | 'hangup' | 'key'; key?: string };
}

/** The party used for addresses nobody registered: a person who answers after 1 s and never hangs up first. */
export const DEFAULT_PARTY: Omit<PartySpec, 'number'> = { outcome: 'answer', answerAfter: 1, kind: 'human' };

/** Decides a party per call leg (e.g. a fresh draw for every dial); undefined falls back to the registry. */
export type PartyResolver = (address: string) => PartySpec | undefined;

/** Registry of simulated parties by address. */
export class Parties {
  private readonly byNumber = new Map<string, PartySpec>();
  /** Asked first for every new leg's party (see PartyResolver). */
  resolver: PartyResolver | undefined;

  /** Adds or replaces the party for `spec.number`. */
  add(spec: PartySpec): void {
    this.byNumber.set(normaliseAddress(spec.number), { ...spec });
  }

  /** Removes a party; later calls to the address get the default behaviour. */
  remove(number: string): void {
    this.byNumber.delete(normaliseAddress(number));
  }

  /** The behaviour for an address: the resolver's, else the registered one, else the default party. */
  get(number: string): PartySpec {
    const resolved = this.resolver?.(normaliseAddress(number));
    if (resolved) return { ...resolved, number };
    return this.byNumber.get(normaliseAddress(number)) ?? { ...DEFAULT_PARTY, number };
  }
}

/** Normalises `sip:` addresses (drops parameters) and trims whitespace so lookups match. */
export function normaliseAddress(address: string): string {
  const a = address.trim();
  if (a.toLowerCase().startsWith('sip:')) return 'sip:' + a.slice(4).split(';')[0];
  return a;
}

/** A copy of a party's Gather responses that can be consumed one at a time per call leg. */
export class PartyRuntime {
  private gatherIndex = 0;
  constructor(readonly spec: PartySpec) {}

  /** The next scripted Gather response (undefined/null when the party presses nothing). */
  nextGather(): { digits: string; afterSeconds?: number } | undefined {
    const list = this.spec.gather ?? [];
    if (this.gatherIndex >= list.length) return undefined;
    const r = list[this.gatherIndex++];
    if (r === null || r === undefined || r === '') return undefined;
    return typeof r === 'string' ? { digits: r } : r;
  }
}
