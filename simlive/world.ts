/**
 * What ties the emulated world together during a run:
 *   - FateBook: every dial to a lead gets the next dial fate (leads.ts) as its emulator party,
 *     and the fate is bound to the call's CallSid (the `queued` entry the emulator writes as
 *     it creates the leg, right after asking the resolver);
 *   - routeRoomEvents: a customer joining `agent-<id>` is heard by that agent at once (the
 *     emulated agent starts talking), and leaving ends the talk;
 *   - customerSilenceMs: the silence between the disclaimer's end (the connect step's request)
 *     and the agent's room, in real milliseconds.
 */
import type { Emulator, PartySpec } from '../emulator';
import type { Scenario } from '../simulator/scenario';
import { agentIdOfRoom } from '../src/lib/domain/rooms';
import type { EmulatedAgent } from './agents';
import { dialFate, partyFor, type DialFate } from './leads';

/** A webhook to the step where the customer, the disclaimer over, is put in the agent's room. */
export const CONNECT_STEP = /[?&]step=connect(&|$)/;

/** Dial fates handed out in dial order and found again by CallSid. */
export class FateBook {
  private pending: DialFate | null = null;
  private next = 0;
  private readonly bySid = new Map<string, DialFate>();
  /** Virtual epoch ms the shift started at, and the clock: a dial's time into the shift picks the lead mix. */
  shift: { startMs: number; now: () => number } | null = null;

  constructor(
    private readonly scenario: Scenario,
    private readonly seed: number,
    /** The lead numbers: only dials to them get a fate (anything else is the emulator's default party). */
    private readonly numbers: ReadonlySet<string>,
  ) {}

  /** The emulator's partyResolver. */
  readonly resolver = (address: string): PartySpec | undefined => {
    if (!this.numbers.has(address)) return undefined;
    const tS = this.shift ? Math.max(0, (this.shift.now() - this.shift.startMs) / 1000) : 0;
    const f = dialFate(this.scenario, this.seed, this.next++, tS);
    this.pending = f;
    return partyFor(address, f);
  };

  /** Binds each new outbound leg to the fate its resolver call just drew; returns the unsubscribe. */
  attach(emu: Emulator): () => void {
    return emu.onEvent((ev, call) => {
      if (call.direction === 'outbound-api' && ev.type === 'status' && ev.status === 'queued' && this.pending) {
        this.bySid.set(call.sid, this.pending);
        this.pending = null;
      }
    });
  }

  /** Dials that drew a fate so far. */
  get dials(): number {
    return this.next;
  }

  fateOf(callSid: string): DialFate | undefined {
    return this.bySid.get(callSid);
  }
}

/** When each customer (outbound CallSid) first joined an agent's room: virtual ms since the clock started, and the agent. */
export type Joins = Map<string, { t: number; agentId: number }>;

/** Talk and wrap-up of a customer who called in (the dialer drew no fate for them). */
export type InboundTiming = (callSid: string) => { talkS: number; wrapS: number };

/**
 * Sends room events to the agents: joined → the agent talks for the dial's talk time and wraps
 * up for its wrap-up time (60 s / 30 s for a call without a fate); left → the talk ends. With
 * `inbound`, callers who called in (a service queue's) are routed too, with its timing.
 */
export function routeRoomEvents(
  emu: Emulator, agents: ReadonlyMap<number, EmulatedAgent>, fates: FateBook, log: (line: string) => void, inbound?: InboundTiming,
): { joins: Joins; off: () => void } {
  const joins: Joins = new Map();
  const off = emu.onEvent((ev, call) => {
    if (ev.type !== 'conference') return;
    if (call.direction !== 'outbound-api' && !(inbound && call.direction === 'inbound')) return;
    const m = /^(joined|left) conference (\S+) /.exec(ev.text);
    const agentId = m ? agentIdOfRoom(m[2]) : null;
    const agent = agentId === null ? undefined : agents.get(agentId);
    if (!m || agentId === null || !agent) return;
    if (m[1] === 'joined') {
      if (!joins.has(call.sid)) joins.set(call.sid, { t: ev.t, agentId });
      const f = call.direction === 'inbound' && inbound ? inbound(call.sid) : fates.fateOf(call.sid);
      void agent.customerJoined(call.sid, f?.talkS ?? 60, f?.wrapS ?? 30).catch((err: unknown) => log(`agent ${agent.id}: ${String(err)}`));
    } else {
      agent.customerLeft(call.sid);
    }
  });
  return { joins, off };
}

/**
 * How long the live disclaimer lasts, in virtual seconds: from the answer to the first
 * connect-step request of each outbound call that got there (mean, and how many calls). The
 * simulator's `disclaimerS` should match it for the two to be compared.
 */
export function liveDisclaimerS(emu: Emulator): { meanS: number; calls: number } {
  const firstConnect = new Map<string, number>();
  for (const w of emu.webhooks()) if (w.callSid && CONNECT_STEP.test(w.url) && !firstConnect.has(w.callSid)) firstConnect.set(w.callSid, w.sentAt);
  let sum = 0;
  let n = 0;
  for (const [sid, sent] of firstConnect) {
    const answered = emu.timeline(sid).find((e) => e.type === 'status' && e.status === 'in-progress');
    if (!answered) continue;
    sum += (sent - answered.t) / 1000;
    n++;
  }
  return { meanS: n ? sum / n : NaN, calls: n };
}

/**
 * Real ms from the first connect-step request of each call (the disclaimer just ended) to its
 * joining the room. The clock runs at a fixed speed, so virtual ms / speed is real ms.
 */
export function customerSilenceMs(emu: Emulator, joins: Joins): number[] {
  const firstConnect = new Map<string, number>();
  for (const w of emu.webhooks()) if (w.callSid && CONNECT_STEP.test(w.url) && !firstConnect.has(w.callSid)) firstConnect.set(w.callSid, w.sentAt);
  const out: number[] = [];
  for (const [sid, j] of joins) {
    const sent = firstConnect.get(sid);
    if (sent !== undefined) out.push(Math.max(0, (j.t - sent) / emu.clock.speed));
  }
  return out;
}
