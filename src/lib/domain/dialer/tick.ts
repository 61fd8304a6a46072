/**
 * One pacing round for every running campaign (or one campaign): the pacer, live.
 *   1. pacer_round_begin: the lease of each campaign whose lease is free, and its snapshot,
 *      in one round trip;
 *   2. per campaign: the DDDs open now (calling windows), decidePacing, the short-call guard
 *      (1:1 while the day's short calls are projected near Anatel's thresholds, with
 *      SHORT_CALL_GUARD=slow; its state comes with the snapshots), the campaign's own CPS share;
 *   3. claim_leads for that many calls (priority order, opt-outs, windows, attempt limits,
 *      caller IDs, the account's CPS), then placeCampaignCall for each, in parallel;
 *   4. pacer_round_end: one pacer_rounds row per campaign (wanted / claimed / placed / reason),
 *      leases freed — also when something above failed.
 * Safe from any number of drivers at once: a campaign leased by one round is skipped by the
 * others, and a round that died frees its campaign when the lease runs out.
 */
import { randomUUID } from 'node:crypto';
import type twilio from 'twilio';
import type { Config } from '../../runtime/config';
import { unwrap, type Db } from '../../runtime/db';
import { MIN_PLACE_MS, placeCampaignCall, type ClaimedLead } from './campaign-call';
import { decidePacing } from '../pacing';
import { guardLimit, guardSettings, type GuardState } from '../anatel';
import { dispatchQueue } from '../queue';
import { campaignCpsRoom, pacingSettings, pacingSnapshot, ROLLING_WINDOWS, windowNow, type RoundBegin, type RoundSnapshot } from './snapshot';

/** What started a round (logged in pacer_rounds.trigger). */
export type TickTrigger = 'heartbeat' | 'call_ended' | 'amd' | 'agent_status' | 'wrap_up' | 'poll' | 'campaign';

export const TICK_TRIGGERS: readonly TickTrigger[] = ['heartbeat', 'call_ended', 'amd', 'agent_status', 'wrap_up', 'poll', 'campaign'];

/** One campaign's round. */
export interface TickRound {
  campaign_id: number;
  /** Calls the round asked claim_leads for (decision, window and the campaign's CPS share applied). */
  dial: number;
  /** What the pacing mode wanted before limits. */
  wanted: number;
  claimed: number;
  placed: number;
  /** decidePacing's reason, or why the round did not dial or dialed less: short_call_guard (1:1 while the short-call projection is near Anatel's thresholds), preview_mode (leads handed to waiting preview agents: `claimed`), window_closed, lease_not_held, error. */
  reason: string;
  explanation: string;
}

/** The rounds of one tick (empty when every running campaign was leased by another round). */
export interface TickResult {
  rounds: TickRound[];
}

type Deps = { db: Db; twilio: twilio.Twilio; config: Config };

interface ClaimAnswer {
  claimed: ClaimedLead[];
  skipped: { opted_out?: number; no_caller_id?: number; cps?: number };
  error?: string;
}

/**
 * Milliseconds a round started by an event may take (it runs inside the request of a webhook
 * or an agent's call, which has its own deadline): past it, claimed leads are released
 * instead of dialed and a Calls create still pending is given up.
 */
export const EVENT_ROUND_BUDGET_MS = 2500;

/**
 * Runs one pacing round for every running campaign whose lease is free (or for opts.campaignId).
 * `budgetMs`: the round's time budget (no limit when absent).
 */
export async function runTick(deps: Deps, opts: { trigger: TickTrigger; campaignId?: number; budgetMs?: number }): Promise<TickResult> {
  const owner = randomUUID();
  const deadlineMs = opts.budgetMs === undefined ? undefined : Date.now() + opts.budgetMs;
  if (opts.trigger === 'heartbeat') await sweep(deps);
  // Callers waiting in a service queue go to free agents before any new dial.
  await dispatchQueue(deps, { deadlineMs, sweep: opts.trigger === 'heartbeat' });
  const begin = unwrap(
    await deps.db.rpc<RoundBegin>('pacer_round_begin', {
      p_owner: owner,
      p_campaign_id: opts.campaignId ?? null,
      p_lease_seconds: deps.config.TICK_LEASE_SECONDS,
      p_presence_seconds: deps.config.AGENT_PRESENCE_SECONDS,
      p_windows: ROLLING_WINDOWS,
      // A round with a time budget never recomputes the guard's figures (it reads the kept ones).
      p_anatel: guardSettings(deps.config, opts.budgetMs === undefined),
    }),
  );
  if (begin.rounds.length === 0) return { rounds: [] };
  let rounds: TickRound[] = [];
  try {
    rounds = await Promise.all(begin.rounds.map((snap) => runRound(deps, owner, snap, deadlineMs, begin.anatel)));
  } finally {
    const logged = rounds.length
      ? rounds
      : begin.rounds.map((r) => ({ campaign_id: r.campaign_id, dial: 0, wanted: 0, claimed: 0, placed: 0, reason: 'error', explanation: 'The round failed.' }));
    const end = await deps.db.rpc('pacer_round_end', { p_owner: owner, p_rounds: logged.map((r) => ({ ...r, trigger: opts.trigger })) });
    if (end.error) console.error(`[discador] pacer round ${owner} not logged (leases expire by themselves): ${end.error.message}`);
  }
  return { rounds };
}

/** Seconds after which a dial attempt, lead or reservation with no callback is ended by the sweep. */
export const SWEEP_STALE_SECONDS = 300;

/**
 * The heartbeat's housekeeping before its round: attempts whose final callback never came,
 * leads left 'dialing' with no live call and agents reserved for calls that are over are
 * ended as their callbacks would have (dialer_sweep; only rows quiet for SWEEP_STALE_SECONDS).
 * Logged, never thrown: the round runs anyway.
 */
async function sweep(deps: Deps): Promise<void> {
  try {
    const swept = await deps.db.rpc('dialer_sweep', { p_stale_seconds: SWEEP_STALE_SECONDS, p_wrap_up_seconds: deps.config.WRAP_UP_SECONDS });
    if (swept.error) console.error(`[discador] dialer sweep failed: ${swept.error.message}`);
  } catch (e) {
    console.error(`[discador] dialer sweep failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One campaign: decide, claim, place. Never throws (a failure is the round's reason). */
async function runRound(deps: Deps, owner: string, snap: RoundSnapshot, deadlineMs?: number, guard?: GuardState | null): Promise<TickRound> {
  const base = { campaign_id: snap.campaign_id, dial: 0, wanted: 0, claimed: 0, placed: 0 };
  try {
    const campaign = snap.campaign;
    const window = await windowNow(snap);
    const snapshot = pacingSnapshot(snap);
    const decision = decidePacing(snapshot, pacingSettings(campaign, deps.config.ACCOUNT_CPS, deps.config.ABANDON_GRACE_SECONDS, window.profile, snapshot.nowMs));
    if (window.open.length === 0) {
      const why = window.never ? 'The calling window never opens.' : 'No DDD is inside its calling window now.';
      return { ...base, wanted: decision.wanted, reason: 'window_closed', explanation: why };
    }
    if (campaign.mode === 'preview') return await servePreviewRequests(deps, snap, window.open, decision.wanted, decision.explanation);
    let dial = decision.dial;
    let reason: string = decision.reason;
    let explanation = decision.explanation;
    const guarded = guardLimit(snapshot, dial, guard, Number(campaign.ring_timeout));
    if (guarded) {
      dial = guarded.dial;
      reason = 'short_call_guard';
      explanation = `${explanation} ${guarded.explanation}`;
    }
    const shareRoom = campaignCpsRoom(snap);
    if (dial > shareRoom) {
      dial = shareRoom;
      reason = 'cps_limit';
      explanation = `${explanation} Limited to ${dial}: the campaign's share is ${Number(campaign.calls_per_second)} call(s) per second.`;
    }
    if (dial <= 0) return { ...base, wanted: decision.wanted, reason, explanation };
    if (deadlineMs !== undefined && deadlineMs - Date.now() < 2 * MIN_PLACE_MS) {
      return { ...base, dial, wanted: decision.wanted, reason: 'no_time', explanation: `${explanation} Nothing claimed: too little of the round's time budget was left.` };
    }

    const claim = unwrap(
      await deps.db.rpc<ClaimAnswer>('claim_leads', {
        p_campaign_id: snap.campaign_id,
        p_owner: owner,
        p_count: dial,
        p_open_ddds: window.open,
        p_account_cps: deps.config.ACCOUNT_CPS,
      }),
    );
    if (claim.error) return { ...base, dial, wanted: decision.wanted, reason: claim.error, explanation: `Nothing claimed: ${claim.error}.` };
    const results = await Promise.all(claim.claimed.map((lead) => placeCampaignCall(deps, lead, campaign, deadlineMs === undefined ? {} : { deadlineMs })));
    const placed = results.filter((r) => r.placed).length;
    const notes: string[] = [];
    if (claim.claimed.length < dial) notes.push(`${claim.claimed.length} lead(s) claimed of ${dial}`);
    if (claim.skipped.opted_out) notes.push(`${claim.skipped.opted_out} opted-out lead(s) passed over`);
    if (claim.skipped.no_caller_id) notes.push('no caller ID available');
    if (claim.skipped.cps) notes.push(`${claim.skipped.cps} held back by the account's CPS`);
    const released = results.filter((r) => !r.placed && r.reason === 'no_time').length;
    if (released) notes.push(`${released} released unplaced (out of time)`);
    if (placed + released < results.length) notes.push(`${results.length - placed - released} not placed (Twilio refused or did not answer)`);
    return {
      ...base,
      dial,
      wanted: decision.wanted,
      claimed: claim.claimed.length,
      placed,
      reason,
      explanation: notes.length ? `${explanation} ${notes.join('; ')}.` : explanation,
    };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`[discador] pacer round for campaign ${snap.campaign_id} failed: ${message}`);
    return { ...base, reason: 'error', explanation: `The round failed: ${message}`.slice(0, 500) };
  }
}

/**
 * Preview campaigns are never dialed by the pacer (agents dial from their page). A round gives
 * each agent still waiting for a lead (the claim found none when they asked) the next lead
 * now callable, as their own preview (claim_leads with the agent), and clears their request.
 */
async function servePreviewRequests(deps: Deps, snap: RoundSnapshot, open: number[], wanted: number, explanation: string): Promise<TickRound> {
  let served = 0;
  for (const agentId of snap.preview_agents.slice(0, Math.max(0, wanted))) {
    const claim = unwrap(
      await deps.db.rpc<ClaimAnswer>('claim_leads', {
        p_campaign_id: snap.campaign_id,
        p_owner: null,
        p_count: 1,
        p_open_ddds: open,
        p_account_cps: deps.config.ACCOUNT_CPS,
        p_preview_agent_id: agentId,
      }),
    );
    if (claim.error || claim.claimed.length === 0) break;
    served++;
    const cleared = await deps.db.rpc('agent_preview_requested', { p_agent_id: agentId, p_requested: false });
    if (cleared.error) console.error(`[discador] agent ${agentId}'s preview request not cleared: ${cleared.error.message}`);
  }
  return {
    campaign_id: snap.campaign_id,
    dial: 0,
    wanted,
    claimed: served,
    placed: 0,
    reason: 'preview_mode',
    explanation: `Preview: agents dial from their page; ${served} waiting agent(s) given a lead. ${explanation}`,
  };
}

/**
 * Deps for a round started by an event: the Twilio client is made on first use (only a round
 * that places calls needs one), and a failure to make it fails that round's calls, never the
 * request carrying the event.
 */
export function eventDeps(db: Db, config: Config, makeTwilio: () => twilio.Twilio): Deps {
  let client: twilio.Twilio | undefined;
  return {
    db,
    config,
    get twilio() {
      client ??= makeTwilio();
      return client;
    },
  };
}

/**
 * Runs a round for what an event changed, without ever failing the request that carries the
 * event: errors are logged, the round has EVENT_ROUND_BUDGET_MS, and the caller stops waiting
 * for it shortly after (a database that does not answer cannot hold the request either; the
 * lease of a round left behind expires by itself). `campaignId` null/undefined → nothing to do.
 */
export async function tickForEvent(deps: Deps, trigger: TickTrigger, campaignId: number | null | undefined): Promise<TickResult | null> {
  if (campaignId === null || campaignId === undefined) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        console.error(`[discador] pacer ${trigger} round for campaign ${campaignId} still running after its budget: not waited for`);
        resolve(null);
      }, EVENT_ROUND_BUDGET_MS + 500);
    });
    return await Promise.race([runTick(deps, { trigger, campaignId, budgetMs: EVENT_ROUND_BUDGET_MS }), late]);
  } catch (e) {
    console.error(`[discador] pacer ${trigger} round for campaign ${campaignId} failed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Hands the longest-waiting queued caller to agent `agentId` when the agent is free and serves
 * that caller's queue (dispatchQueue), within EVENT_ROUND_BUDGET_MS; never throws, and the
 * request carrying the event stops waiting for it shortly after its budget.
 */
export async function dispatchForAgent(deps: Deps, agentId: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(0), EVENT_ROUND_BUDGET_MS + 500);
  });
  try {
    return await Promise.race([dispatchQueue(deps, { agentId, deadlineMs: Date.now() + EVENT_ROUND_BUDGET_MS }), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a round for the campaign an agent works, when it is running: after the agent's status
 * changed or a disposition (min 0), or on the page's poll at most every TICK_POLL_MIN_SECONDS
 * per campaign (pacer_agent_campaign keeps the time). Never throws.
 */
export async function tickForAgent(deps: Deps, trigger: TickTrigger, agentId: number | null | undefined, minSeconds = 0): Promise<TickResult | null> {
  if (agentId === null || agentId === undefined) return null;
  // The agent may have just become free: the longest-waiting queued caller is theirs first.
  await dispatchForAgent(deps, agentId);
  try {
    const campaignId = unwrap(await deps.db.rpc<number | null>('pacer_agent_campaign', { p_agent_id: agentId, p_min_seconds: minSeconds }));
    return await tickForEvent(deps, trigger, campaignId);
  } catch (e) {
    console.error(`[discador] pacer ${trigger} round for agent ${agentId} failed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}
