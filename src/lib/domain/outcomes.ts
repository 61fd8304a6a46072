/**
 * What a campaign call's end and an agent's disposition do to the lead, and the preview mode.
 *
 * Automatic outcomes (the SQL function lead_attempt_ended, on every final status callback):
 * busy, no_answer, machine, machine_voicemail, failed, abandoned, hangup, canceled are retried
 * per the campaign's retry_rules; a customer who reached an agent leaves the lead done with
 * outcome 'connected' until the agent's disposition replaces it.
 *
 * Dispositions: each code has an outcome (done, retry, callback, opt_out, invalid). A campaign
 * may carry its own list (campaigns.dispositions); otherwise the deployment's DISPOSITION_CODES
 * apply, with the outcomes below. Labels here are what supervisors and the CLI show; the agent
 * page keeps its own copy of the default labels (the browser bundle carries no server code).
 *
 * Preview: the agent of a running preview campaign asks for a lead (claimed for them alone by
 * claim_leads), then dials it (the one dialing path, the agent reserved) or skips it.
 */
import type twilio from 'twilio';
import { dispositionCodes, type Config } from '../runtime/config';
import { unwrap, type Db } from '../runtime/db';
import { HttpError } from '../runtime/http';
import type { AgentCall, AgentLead, AgentStateResponse } from './agents';
import { campaignWindowProfile, isOpenFor, openDdds, type AdminHoliday } from './calling-window';

/** What a disposition does to the lead. */
export const DISPOSITION_OUTCOMES = ['done', 'retry', 'callback', 'opt_out', 'invalid'] as const;
export type DispositionOutcome = (typeof DISPOSITION_OUTCOMES)[number];

/** One entry of a disposition list (campaigns.dispositions). */
export interface Disposition {
  code: string;
  label: string;
  outcome: DispositionOutcome;
}

/**
 * The deployment's disposition codes: label and outcome. A code configured in
 * DISPOSITION_CODES but not listed here is outcome 'done' with the code as its label.
 */
export const DEFAULT_DISPOSITIONS: readonly Disposition[] = [
  { code: 'acordo', label: 'Acordo', outcome: 'done' },
  { code: 'promessa_pagamento', label: 'Promessa de pagamento', outcome: 'done' },
  { code: 'venda', label: 'Venda', outcome: 'done' },
  { code: 'recusa', label: 'Recusa', outcome: 'done' },
  { code: 'sem_interesse', label: 'Sem interesse', outcome: 'done' },
  { code: 'numero_errado', label: 'Número errado', outcome: 'invalid' },
  { code: 'retornar', label: 'Retornar depois', outcome: 'callback' },
  { code: 'nao_ligar', label: 'Não ligar mais', outcome: 'opt_out' },
  { code: 'outro', label: 'Outro', outcome: 'done' },
];

/** The automatic outcomes of a dialer call (calls.outcome) a campaign's retry_rules may govern. */
export const AUTOMATIC_OUTCOMES = ['busy', 'no_answer', 'machine', 'machine_voicemail', 'failed', 'abandoned', 'hangup', 'canceled'] as const;

/** The deployment's list: DISPOSITION_CODES in order, each with its default label and outcome. */
export function deploymentDispositions(config: Config): Disposition[] {
  return dispositionCodes(config).map((code) => DEFAULT_DISPOSITIONS.find((d) => d.code === code) ?? { code, label: code, outcome: 'done' });
}

/**
 * Checks a campaign's disposition list as an admin writes it: 1–50 entries of {code (a-z 0-9 _,
 * 1–40), label (1–60 characters), outcome}, codes unique. Returns the list or the problems.
 */
export function parseDispositionList(raw: unknown): { ok: true; value: Disposition[] } | { ok: false; problems: string[] } {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 50) return { ok: false, problems: ['must be a list of 1 to 50 dispositions'] };
  const problems: string[] = [];
  const seen = new Set<string>();
  const value: Disposition[] = [];
  raw.forEach((e: unknown, i) => {
    const d = (e && typeof e === 'object' ? e : {}) as Record<string, unknown>;
    const at = `disposition ${i + 1}`;
    const code = typeof d['code'] === 'string' ? d['code'] : '';
    const label = typeof d['label'] === 'string' ? d['label'].trim() : '';
    const outcome = d['outcome'];
    if (!/^[a-z0-9_]{1,40}$/.test(code)) problems.push(`${at}: code must be 1-40 of a-z, 0-9, _`);
    else if (seen.has(code)) problems.push(`${at}: code ${code} is repeated`);
    seen.add(code);
    if (label.length < 1 || label.length > 60) problems.push(`${at}: label must have 1-60 characters`);
    if (!(DISPOSITION_OUTCOMES as readonly unknown[]).includes(outcome)) problems.push(`${at}: outcome must be one of ${DISPOSITION_OUTCOMES.join(', ')}`);
    value.push({ code, label, outcome: outcome as DispositionOutcome });
  });
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

/** How agent_set_disposition refuses (nothing written). */
export type DispositionRefusal = 'unknown_code' | 'callback_required' | 'callback_in_past' | 'callback_too_far';

/** The API error of a refused disposition. */
export function dispositionRefusal(refused: DispositionRefusal, codes: readonly string[] = []): HttpError {
  switch (refused) {
    case 'unknown_code':
      return new HttpError(400, 'bad_request', `code must be one of ${codes.join(', ')}`);
    case 'callback_required':
      return new HttpError(400, 'bad_request', 'callback_at, a future date-time, is required for a callback');
    case 'callback_in_past':
      return new HttpError(400, 'bad_request', 'callback_at must not be in the past');
    case 'callback_too_far':
      return new HttpError(400, 'bad_request', 'callback_at must be within a year');
  }
}

// --- The agent page's poll: the campaign side ------------------------------------------------

/** A campaign as the agent page sees it. */
export interface AgentCampaign {
  id: number;
  name: string;
  kind: string;
  mode: 'preview' | 'power' | 'predictive';
  status: string;
  whisper_template: string | null;
  /** The campaign's own list, or null for the deployment's DISPOSITION_CODES. */
  dispositions: Disposition[] | null;
}

/** The lead shown to the agent in preview mode. */
export interface PreviewLead {
  id: number;
  name: string | null;
  phone_number: string;
  external_id: string | null;
  fields: Record<string, unknown>;
  attempts: number;
  outcome: string | null;
  callback_at: string | null;
  campaign_id: number;
  /** Area code of a Brazilian number (its calling window); null for any other number. */
  ddd: number | null;
}

/** The screen pop's lead on a campaign call. */
export interface CampaignLead extends Omit<AgentLead, 'campaign'> {
  phone_number?: string;
  outcome?: string | null;
  callback_at?: string | null;
  campaign: (AgentLead['campaign'] & { mode?: string; whisper_template?: string | null; dispositions?: Disposition[] | null }) | null;
}

/** The current call with the dialer's facts. */
export interface CampaignCall extends Omit<AgentCall, 'lead'> {
  outcome?: string | null;
  live_at?: string | null;
  connected_at?: string | null;
  lead: CampaignLead | null;
}

/** GET /api/agent/state with the campaign side (agent_poll). */
export interface CampaignStateResponse extends Omit<AgentStateResponse, 'call'> {
  call: CampaignCall | null;
  campaign?: AgentCampaign | null;
  preview?: PreviewLead | null;
}

// --- Preview mode ------------------------------------------------------------------------------

/** How long a skipped lead stays out of the agent's preview queue. */
export const PREVIEW_SKIP_MINUTES = 30;

interface PreviewContext {
  agent: { id: number; status: string; campaign_id: number | null };
  campaign: {
    id: number;
    name: string;
    mode: string;
    status: string;
    window_profile: string;
    weekday_start: string | null;
    weekday_end: string | null;
    saturday_start: string | null;
    saturday_end: string | null;
    allow_sunday: boolean;
    sunday_start: string | null;
    sunday_end: string | null;
    skip_holidays: boolean;
  } | null;
  holidays: AdminHoliday[];
  now_ms: number;
  preview: PreviewLead | null;
}

export interface PreviewDeps {
  db: Db;
  config: Config;
  twilio?: twilio.Twilio;
}

function refuse(status: number, code: string, message: string): HttpError {
  return new HttpError(status, code, message);
}

/** The agent's preview context, or the refusal: no preview campaign, not running. */
async function previewContext(db: Db, agentId: number): Promise<PreviewContext & { campaign: NonNullable<PreviewContext['campaign']> }> {
  const ctx = unwrap(await db.rpc<PreviewContext | null>('agent_preview_context', { p_agent_id: agentId }));
  if (!ctx) throw refuse(404, 'not_found', 'this agent does not exist or is disabled');
  if (!ctx.campaign || ctx.campaign.mode !== 'preview') throw refuse(409, 'not_preview_campaign', 'you are not working a campaign in preview mode');
  return ctx as PreviewContext & { campaign: NonNullable<PreviewContext['campaign']> };
}

function requireFree(status: string): void {
  if (status === 'reserved' || status === 'busy') throw refuse(409, 'agent_busy', 'finish the current call first');
  if (status === 'offline') throw refuse(409, 'conflict', 'go available first');
}

/**
 * The next lead for the agent: the one already shown to them, else one claimed for them
 * alone (claim_leads with p_preview_agent_id, among the DDDs whose calling window is open
 * now by the database's clock). {lead: null} when none can be called now; the agent's
 * request then stays (agents.preview_requested_at) for the pacer to serve.
 */
export async function previewNext(deps: PreviewDeps, agentId: number): Promise<{ lead: PreviewLead | null }> {
  const ctx = await previewContext(deps.db, agentId);
  if (ctx.preview) return { lead: ctx.preview };
  requireFree(ctx.agent.status);
  if (ctx.campaign.status !== 'active') throw refuse(409, 'campaign_not_running', 'the campaign is not running');
  const open = openDdds(campaignWindowProfile(ctx.campaign), ctx.now_ms, ctx.holidays);
  let claimed: { lead_id: number }[] = [];
  if (open.length > 0) {
    const r = unwrap(
      await deps.db.rpc<{ claimed: { lead_id: number }[] }>('claim_leads', {
        p_campaign_id: ctx.campaign.id,
        p_owner: null,
        p_count: 1,
        p_open_ddds: open,
        p_account_cps: deps.config.ACCOUNT_CPS,
        p_preview_agent_id: agentId,
      }),
    );
    claimed = r.claimed;
  }
  unwrap(await deps.db.rpc('agent_preview_requested', { p_agent_id: agentId, p_requested: claimed.length === 0 }));
  if (claimed.length === 0) return { lead: null };
  const after = unwrap(await deps.db.rpc<PreviewContext | null>('agent_preview_context', { p_agent_id: agentId }));
  return { lead: after?.preview ?? null };
}

/**
 * Dials the lead the agent previews (leadId, when given, must be it): the lead → dialing
 * (attempts + 1), then the one dialing path with the campaign and lead on the attempt and the
 * agent reserved for it. A call that is not placed puts the lead back: on the card (agent busy,
 * no caller ID), opted_out, invalid; a call Twilio refused is a failed attempt (retry rules).
 * The lead's calling window is checked again at the click (the card may have waited past its
 * end): closed → 409 window_closed, the lead back to pending. Should the attempt not be
 * recorded (database error), the lead goes back on the card; should Twilio not answer after
 * it was recorded, the lead stays dialing on that attempt until its callbacks, the reconciler
 * or dialer_sweep end it.
 */
export async function previewDial(deps: PreviewDeps & { twilio: twilio.Twilio }, agentId: number, leadId?: number): Promise<{ call_sid: string; attempt_id: number; lead_id: number }> {
  const ctx = await previewContext(deps.db, agentId);
  if (!ctx.preview || (leadId !== undefined && ctx.preview.id !== leadId)) throw refuse(409, 'conflict', 'this lead is not on your preview card');
  requireFree(ctx.agent.status);
  const lead = ctx.preview;
  // The lead's window now, by the database's clock and the admin holidays: agent_preview_dial
  // dials only a lead whose DDD is among p_open_ddds, else puts it back in the same statement.
  const openNow = lead.ddd !== null && isOpenFor(lead.ddd, campaignWindowProfile(ctx.campaign), ctx.now_ms, ctx.holidays);
  const open = openNow ? [lead.ddd] : [];
  const taken = unwrap(
    await deps.db.rpc<{ ok: boolean; reason?: string; to?: string; campaign_id?: number }>('agent_preview_dial', {
      p_agent_id: agentId,
      p_lead_id: lead.id,
      p_open_ddds: open,
    }),
  );
  if (!taken.ok) {
    if (taken.reason === 'campaign_not_running') throw refuse(409, 'campaign_not_running', 'the campaign is not running');
    if (taken.reason === 'window_closed') throw refuse(409, 'window_closed', "this lead's calling window is closed now; it goes back to the campaign's list");
    throw refuse(409, 'conflict', 'this lead is not on your preview card');
  }
  const { placeCall } = await import('./dialer');
  let r: Awaited<ReturnType<typeof placeCall>>;
  try {
    r = await placeCall(deps, { to: taken.to!, campaignId: taken.campaign_id!, leadId: lead.id, agentId, reserveAgent: true });
  } catch (e) {
    // No attempt recorded (start_dial_attempt failed): back on the card. An attempt recorded
    // but Twilio silent (network, 5xx: the call may exist): agent_preview_undial leaves the
    // lead dialing on it, for the call's callbacks, the reconciler or dialer_sweep to end.
    const back = await deps.db
      .rpc('agent_preview_undial', { p_agent_id: agentId, p_lead_id: lead.id, p_reason: 'not_placed' })
      .catch((u: unknown) => ({ error: { message: u instanceof Error ? u.message : String(u) } }));
    if (back.error) console.error(`[discador] preview lead ${lead.id} of agent ${agentId} left dialing: ${back.error.message}`);
    throw e;
  }
  if (!r.placed) {
    if (r.reason === 'twilio_refused' && r.attemptId !== undefined) {
      unwrap(await deps.db.rpc('lead_attempt_ended', { p_attempt_id: r.attemptId }));
      throw refuse(502, 'twilio_refused', r.detail);
    }
    unwrap(await deps.db.rpc('agent_preview_undial', { p_agent_id: agentId, p_lead_id: lead.id, p_reason: r.reason }));
    switch (r.reason) {
      case 'opted_out':
        throw refuse(409, 'opted_out', 'this number is on the opt-out list and cannot be called');
      case 'invalid_number':
        throw refuse(400, 'bad_request', r.detail);
      case 'agent_busy':
        throw refuse(409, 'agent_busy', 'you can call only when not on a call, not offline, with the softphone connected');
      case 'cps_limit':
        throw refuse(429, 'cps_limit', r.detail);
      default:
        throw refuse(409, 'conflict', r.detail);
    }
  }
  // The reservation learns the CallSid (the answer webhook finds it by the attempt id otherwise).
  const reserved = await deps.db
    .rpc('agent_reserve_outbound', { p_agent_id: agentId, p_call_sid: r.callSid, p_attempt_id: r.attemptId })
    .catch((e: unknown) => ({ error: { message: e instanceof Error ? e.message : String(e) } }));
  if (reserved.error) console.error(`[discador] preview call ${r.callSid} of agent ${agentId} not attached to the reservation: ${reserved.error.message}`);
  return { call_sid: r.callSid, attempt_id: r.attemptId, lead_id: lead.id };
}

/** The agent skips the lead they preview: back to pending, not offered again for PREVIEW_SKIP_MINUTES. */
export async function previewSkip(deps: PreviewDeps, agentId: number, leadId?: number): Promise<{ skipped: number }> {
  const ctx = await previewContext(deps.db, agentId);
  if (!ctx.preview || (leadId !== undefined && ctx.preview.id !== leadId)) throw refuse(409, 'conflict', 'this lead is not on your preview card');
  const r = unwrap(await deps.db.rpc<{ id: number } | null>('agent_preview_skip', { p_agent_id: agentId, p_lead_id: ctx.preview.id, p_delay_minutes: PREVIEW_SKIP_MINUTES }));
  if (!r) throw refuse(409, 'conflict', 'this lead is not on your preview card');
  return { skipped: r.id };
}
