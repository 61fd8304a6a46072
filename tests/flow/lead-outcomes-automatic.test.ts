/**
 * What a campaign call's end does to its lead, through the real status-callback webhook
 * (signed, the front, the functions, PostgREST, Postgres): the call's outcome from its final
 * status, AMD answer, abandon and connect facts; the lead retried per the campaign's rules
 * (delay and maximum per outcome, the campaign's and the lead's attempt limits), an abandoned
 * customer called back, a connected one done; repeated and reordered callbacks applied once;
 * a number opted out meanwhile never retried.
 */
import { randomBytes } from 'node:crypto';
import { env, sql } from '../helpers/db';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';

const RULES = {
  busy: { delay_minutes: 30, max: 3 },
  no_answer: { delay_minutes: 120, max: 3 },
  machine: { delay_minutes: 240, max: 2 },
  failed: { delay_minutes: 60, max: 2 },
  abandoned: { delay_minutes: 10, max: 3 },
};

async function campaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = { name: `c-${randomBytes(5).toString('hex')}`, mode: 'predictive', status: 'active', retry_rules: RULES, ...over };
  const keys = Object.keys(cols);
  const [r] = await sql<{ id: string }>(
    `insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`,
    Object.values(cols).map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v)),
  );
  return Number(r!.id);
}

/** A lead being dialed (as claim_leads leaves it) with its dial attempt: a calls row with a CallSid. */
async function dialing(campaignId: number, over: { attempts?: number; max_attempts?: number; outcome_counts?: Record<string, number>; phone?: string } = {}) {
  const phone = over.phone ?? newMobile('31');
  const [l] = await sql<{ id: string }>(
    `insert into leads (campaign_id, phone_number, name, status, attempts, max_attempts, outcome_counts, last_attempt_at)
     values ($1, $2, 'Maria Souza', 'dialing', $3, $4, $5, now()) returning id`,
    [campaignId, phone, over.attempts ?? 1, over.max_attempts ?? 5, JSON.stringify(over.outcome_counts ?? {})],
  );
  const sid = newCallSid();
  const [c] = await sql<{ id: string }>(
    `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, lead_id, status)
     values ($1, 'outbound-api', '+551130001000', $2, '+551130001000', $3, $4, 'queued') returning id`,
    [sid, phone, campaignId, l!.id],
  );
  return { leadId: Number(l!.id), callId: Number(c!.id), sid, phone };
}

/** Twilio's status callbacks for the call, numbered as Twilio numbers them. */
function callbacks(sid: string, to: string, final: string, extra: Record<string, string> = {}): Record<string, string>[] {
  const common = { CallSid: sid, AccountSid: env('TWILIO_ACCOUNT_SID'), From: '+551130001000', To: to, Direction: 'outbound-api', ApiVersion: '2010-04-01' };
  const list: Record<string, string>[] = [
    { ...common, CallStatus: 'initiated', SequenceNumber: '0' },
    { ...common, CallStatus: 'ringing', SequenceNumber: '1' },
  ];
  if (final === 'completed') list.push({ ...common, CallStatus: 'in-progress', SequenceNumber: '2', ...extra });
  list.push({ ...common, CallStatus: final, SequenceNumber: String(list.length), CallDuration: final === 'completed' ? '20' : '0', ...extra });
  return list;
}

async function deliver(events: Record<string, string>[]): Promise<void> {
  const url = `${env('FUNCTIONS_BASE_URL')}/webhooks/call-status`;
  for (const e of events) expect((await signedPost(url, e, env('TWILIO_AUTH_TOKEN'))).status).toBe(204);
}

interface LeadRow {
  status: string;
  outcome: string | null;
  outcome_counts: Record<string, number>;
  /** Minutes from the lead's update to its next try (null when none). */
  retry_in: number | null;
  callback_in: number | null;
  callback_agent_id: string | null;
  call_outcome: string | null;
}

async function leadRow(leadId: number, callId: number): Promise<LeadRow> {
  const [r] = await sql<LeadRow>(
    `select l.status, l.outcome, l.outcome_counts,
            (extract(epoch from l.next_attempt_at - l.updated_at) / 60)::float8 as retry_in,
            (extract(epoch from l.callback_at - l.updated_at) / 60)::float8 as callback_in,
            l.callback_agent_id, c.outcome as call_outcome
       from leads l, calls c where l.id = $1 and c.id = $2`,
    [leadId, callId],
  );
  return r!;
}

describe('a campaign call that ended without an agent: outcome and retry per the rules', () => {
  it.each([
    ['busy', 'busy', 30],
    ['no-answer', 'no_answer', 120],
    ['failed', 'failed', 60],
  ])("final status %s → call %s, lead pending %i minutes later (the outcome's rule)", async (status, outcome, minutes) => {
    const k = await campaign();
    const a = await dialing(k);
    await deliver(callbacks(a.sid, a.phone, status));
    expect(await leadRow(a.leadId, a.callId)).toEqual({
      status: 'pending', outcome, outcome_counts: { [outcome]: 1 }, retry_in: minutes, callback_in: null, callback_agent_id: null, call_outcome: outcome,
    });
  });

  it('answered by a machine (AMD machine_start) → machine, retried after the machine delay', async () => {
    const a = await dialing(await campaign());
    await deliver(callbacks(a.sid, a.phone, 'completed', { AnsweredBy: 'machine_start' }));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'pending', outcome: 'machine', outcome_counts: { machine: 1 }, retry_in: 240, call_outcome: 'machine' });
  });

  it("a voicemail left (message end, campaign leaves voicemails) → machine_voicemail under machine's rule and maximum", async () => {
    const a = await dialing(await campaign({ amd_machine: 'voicemail' }), { outcome_counts: { machine: 1 } });
    await sql(`update calls set answered_by = 'machine_end_beep' where id = $1`, [a.callId]);
    await deliver(callbacks(a.sid, a.phone, 'completed'));
    // machine (1) + machine_voicemail (1) reach the machine rule's max of 2: no more tries.
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'failed', outcome: 'machine_voicemail', outcome_counts: { machine: 1, machine_voicemail: 1 }, retry_in: null, call_outcome: 'machine_voicemail' });
  });

  it("answered, never live nor connected → hangup: no_answer's rule, or its own when the campaign has one", async () => {
    const a = await dialing(await campaign());
    await deliver(callbacks(a.sid, a.phone, 'completed'));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'pending', outcome: 'hangup', outcome_counts: { hangup: 1 }, retry_in: 120, call_outcome: 'hangup' });

    const b = await dialing(await campaign({ retry_rules: { ...RULES, hangup: { delay_minutes: 5, max: 1 } } }));
    await deliver(callbacks(b.sid, b.phone, 'completed'));
    expect(await leadRow(b.leadId, b.callId)).toMatchObject({ status: 'failed', outcome: 'hangup', retry_in: null });
  });

  it('abandoned (set by the call flow) → a callback to any agent after the abandoned delay; with treatment hangup, a plain retry', async () => {
    const a = await dialing(await campaign());
    await sql(`update calls set live_at = now(), abandoned_at = now(), outcome = 'abandoned' where id = $1`, [a.callId]);
    await deliver(callbacks(a.sid, a.phone, 'completed', { AnsweredBy: 'human' }));
    expect(await leadRow(a.leadId, a.callId)).toEqual({
      status: 'pending', outcome: 'abandoned', outcome_counts: { abandoned: 1 }, retry_in: null, callback_in: 10, callback_agent_id: null, call_outcome: 'abandoned',
    });

    const b = await dialing(await campaign({ abandon_treatment: 'hangup' }));
    await sql(`update calls set live_at = now(), abandoned_at = now() where id = $1`, [b.callId]);
    await deliver(callbacks(b.sid, b.phone, 'completed', { AnsweredBy: 'human' }));
    expect(await leadRow(b.leadId, b.callId)).toMatchObject({ status: 'pending', outcome: 'abandoned', retry_in: 10, callback_in: null, call_outcome: 'abandoned' });
  });

  it('canceled by the dialer → retried at once (no rule maximum, only the attempt limits)', async () => {
    const a = await dialing(await campaign());
    await deliver(callbacks(a.sid, a.phone, 'canceled'));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'pending', outcome: 'canceled', retry_in: 0, call_outcome: 'canceled' });
  });
});

describe('the limits', () => {
  it("the outcome's maximum: the third busy of a busy-max-3 rule fails the lead", async () => {
    const a = await dialing(await campaign(), { attempts: 3, outcome_counts: { busy: 2 } });
    await deliver(callbacks(a.sid, a.phone, 'busy'));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'failed', outcome: 'busy', outcome_counts: { busy: 3 }, retry_in: null });
  });

  it("the campaign's max_attempts and the lead's max_attempts", async () => {
    const a = await dialing(await campaign({ max_attempts: 2 }), { attempts: 2 });
    await deliver(callbacks(a.sid, a.phone, 'no-answer'));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'failed', outcome: 'no_answer' });

    const b = await dialing(await campaign(), { attempts: 1, max_attempts: 1 });
    await deliver(callbacks(b.sid, b.phone, 'no-answer'));
    expect(await leadRow(b.leadId, b.callId)).toMatchObject({ status: 'failed', outcome: 'no_answer' });

    // Below every limit, the same outcome is retried.
    const c = await dialing(await campaign({ max_attempts: 3 }), { attempts: 2, max_attempts: 3 });
    await deliver(callbacks(c.sid, c.phone, 'no-answer'));
    expect(await leadRow(c.leadId, c.callId)).toMatchObject({ status: 'pending', outcome: 'no_answer' });
  });
});

describe('a customer who reached an agent', () => {
  it("→ call outcome human, lead done with outcome 'connected' (connected_at, or the agent busy on the call)", async () => {
    const a = await dialing(await campaign());
    await sql(`update calls set live_at = now(), connected_at = now() where id = $1`, [a.callId]);
    await deliver(callbacks(a.sid, a.phone, 'completed', { AnsweredBy: 'human' }));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'done', outcome: 'connected', outcome_counts: {}, retry_in: null, call_outcome: 'human' });

    const b = await dialing(await campaign());
    const [ag] = await sql<{ id: string }>(`insert into agents (name, status) values ('Agente preview', 'available') returning id`);
    await sql(`select agent_transition($1, 'busy', null, 'system', null, $2)`, [ag!.id, b.sid]);
    await deliver(callbacks(b.sid, b.phone, 'completed'));
    expect(await leadRow(b.leadId, b.callId)).toMatchObject({ status: 'done', outcome: 'connected', call_outcome: 'human' });
  });
});

describe('once per call', () => {
  it('repeated and reordered callbacks move the lead once and leave one calls row', async () => {
    const a = await dialing(await campaign());
    const events = callbacks(a.sid, a.phone, 'busy');
    // The final status first, then the rest out of order, then everything again.
    await deliver([events[2]!, events[0]!, events[2]!, events[1]!, ...events.reverse()]);
    const first = await leadRow(a.leadId, a.callId);
    expect(first).toMatchObject({ status: 'pending', outcome: 'busy', outcome_counts: { busy: 1 }, call_outcome: 'busy' });
    const [before] = await sql<{ updated_at: Date }>(`select updated_at from leads where id = $1`, [a.leadId]);
    await deliver(callbacks(a.sid, a.phone, 'busy'));
    const [after] = await sql<{ updated_at: Date }>(`select updated_at from leads where id = $1`, [a.leadId]);
    expect(after!.updated_at.getTime()).toBe(before!.updated_at.getTime());
    expect(await sql(`select count(*)::int as n from calls where call_sid = $1`, [a.sid])).toEqual([{ n: 1 }]);
    // A direct second application is refused as already applied.
    expect((await sql<{ r: unknown }>(`select lead_call_ended($1) as r`, [a.sid]))[0]!.r).toEqual({ applied: false, reason: 'already_applied', outcome: 'busy' });
  });

  it('a lead no longer on this attempt (disposed, or dialed again since) is left alone', async () => {
    const k = await campaign();
    const a = await dialing(k);
    await sql(`update leads set status = 'done', outcome = 'acordo' where id = $1`, [a.leadId]);
    await deliver(callbacks(a.sid, a.phone, 'completed'));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'done', outcome: 'acordo', outcome_counts: {}, call_outcome: 'hangup' });

    const b = await dialing(k);
    await sql(
      `insert into calls (direction, to_number, campaign_id, lead_id, status) select 'outbound-api', to_number, campaign_id, lead_id, 'queued' from calls where id = $1`,
      [b.callId],
    );
    await deliver(callbacks(b.sid, b.phone, 'busy'));
    expect(await leadRow(b.leadId, b.callId)).toMatchObject({ status: 'dialing', outcome: null, outcome_counts: {}, call_outcome: 'busy' });
  });

  it('a call that is not final, or not a dialer call, changes nothing', async () => {
    const a = await dialing(await campaign());
    await deliver(callbacks(a.sid, a.phone, 'completed').slice(0, 3));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'dialing', call_outcome: null });
    expect((await sql<{ r: unknown }>(`select lead_call_ended($1) as r`, [a.sid]))[0]!.r).toEqual({ applied: false, reason: 'not_final' });
    expect((await sql<{ r: unknown }>(`select lead_call_ended($1) as r`, [newCallSid()]))[0]!.r).toEqual({ applied: false, reason: 'unknown_call' });
  });
});

describe('opted out meanwhile', () => {
  it('a number listed while its call rang is never retried: the lead is opted_out', async () => {
    const a = await dialing(await campaign());
    await sql(`select opt_out_add($1)`, [a.phone]);
    await deliver(callbacks(a.sid, a.phone, 'no-answer'));
    expect(await leadRow(a.leadId, a.callId)).toMatchObject({ status: 'opted_out', outcome: 'opted_out', retry_in: null, call_outcome: 'no_answer' });
  });
});
