-- Pacer safety: claims that never outlive their lease nor over-dial the account's CPS, claims
-- that never wait on a number's opt-out lock while holding a lead (no deadlock with opt-out
-- imports), and Twilio refusals classified so a number Twilio will never call is not re-dialed.

-- The wall-clock time inside a transaction (app_now() is the transaction's start): what a
-- claim that waited on a lock compares its lease with, and what the account's one-second CPS
-- window counts in. clock_timestamp() in production; the virtual clock in a simulation.
create or replace function public.app_clock_now() returns timestamptz
language sql volatile
set search_path = ''
as $$
  select coalesce(
    (select c.virtual_at + (pg_catalog.clock_timestamp() - c.real_at) * c.speed from public.app_clock c where c.id),
    pg_catalog.clock_timestamp())
$$;
revoke execute on function public.app_clock_now() from public, anon, authenticated;
grant execute on function public.app_clock_now() to service_role;

-- The account's CPS gate, shared by the pacer's claims, click-to-call and preview dials: under
-- one advisory lock (held until the caller's transaction ends, so the attempt it records next
-- is counted by the following caller), how many more dial attempts may be created this second
-- (p_account_cps minus the attempts created in the last wall-clock second, never below 0).
-- Never waits for the second to free up (a caller that sleeps here would hold the lock and a
-- connection): a caller with no room retries from outside.
create or replace function public.account_cps_room(p_account_cps integer)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_recent integer;
begin
  if p_account_cps is null or p_account_cps < 1 then
    raise exception 'p_account_cps must be at least 1' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.cps'), 0);
  select (pg_catalog.count(*))::integer into v_recent from public.calls c
   where c.created_at > public.app_clock_now() - interval '1 second' and c.direction = 'outbound-api';
  return greatest(0, p_account_cps - v_recent);
end;
$$;
revoke execute on function public.account_cps_room(integer) from public, anon, authenticated;
grant execute on function public.account_cps_room(integer) to service_role;

-- The next lead of a class for claim_leads (see 20261127090300_pacer.sql), now passing over
-- the leads in p_skip (leads this claim holds but could not take: their number's opt-out lock
-- was busy).
drop function public.pacer_next_lead(public.campaigns, integer, smallint[], bigint);
create function public.pacer_next_lead(p_campaign public.campaigns, p_class integer, p_open_ddds smallint[], p_preview_agent_id bigint, p_skip bigint[])
returns public.leads
language plpgsql
set search_path = ''
as $$
declare
  v_now  timestamptz := public.app_now();
  v_lead public.leads;
begin
  if p_class = 0 then
    select l.* into v_lead from public.leads l
     where l.campaign_id = p_campaign.id and l.status = 'pending' and l.callback_at is not null
       and l.callback_at <= v_now and (l.last_attempt_at is null or l.last_attempt_at < l.callback_at)
       and l.ddd = any (p_open_ddds)
       and l.attempts < least(p_campaign.max_attempts, l.max_attempts)
       and l.id <> all (p_skip)
     order by (p_preview_agent_id is not null and l.callback_agent_id = p_preview_agent_id) desc, l.priority desc, l.id
     limit 1
     for update of l skip locked;
  elsif p_class = 1 then
    select l.* into v_lead from public.leads l
     where l.campaign_id = p_campaign.id and l.status = 'pending' and l.attempts = 0 and l.callback_at is null
       and (l.next_attempt_at is null or l.next_attempt_at <= v_now)
       and l.ddd = any (p_open_ddds)
       and l.id <> all (p_skip)
     order by l.priority desc, l.id
     limit 1
     for update of l skip locked;
  else
    select l.* into v_lead from public.leads l
     where l.campaign_id = p_campaign.id and l.status = 'pending' and l.attempts > 0
       and (l.callback_at is null or l.last_attempt_at >= l.callback_at)
       and (l.next_attempt_at is null or l.next_attempt_at <= v_now)
       and l.ddd = any (p_open_ddds)
       and l.attempts < least(p_campaign.max_attempts, l.max_attempts)
       and l.id <> all (p_skip)
     order by l.priority desc, l.id
     limit 1
     for update of l skip locked;
  end if;
  return v_lead;
end;
$$;
revoke execute on function public.pacer_next_lead(public.campaigns, integer, smallint[], bigint, bigint[]) from public, anon, authenticated;
grant execute on function public.pacer_next_lead(public.campaigns, integer, smallint[], bigint, bigint[]) to service_role;

-- One lead of claim_leads, already locked (see 20261127090300_pacer.sql). The number's opt-out
-- lock is only tried: an opt-out being recorded for it holds that lock and waits for this lead's
-- row (opt_outs_mark_leads), so waiting here would deadlock; the lead is left for the next
-- round ({kind: 'busy'}), where the opt-out is seen. The attempt's created_at is wall-clock
-- time, so a claim that waited on the CPS lock is counted in the next claim's second.
create or replace function public.pacer_claim_lead(p_lead public.leads, p_campaign public.campaigns, p_preview_agent_id bigint)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now     timestamptz := public.app_now();
  v_number  public.phone_numbers;
  v_attempt bigint;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(public.opt_out_lock_key(p_lead.phone_number)) then
    return pg_catalog.jsonb_build_object('kind', 'busy');
  end if;
  if exists (select 1 from public.opt_outs o where o.phone_number = p_lead.phone_number) then
    update public.leads set status = 'opted_out', updated_at = v_now where id = p_lead.id;
    return pg_catalog.jsonb_build_object('kind', 'opted_out');
  end if;
  if p_preview_agent_id is not null then
    update public.leads set status = 'previewing', preview_agent_id = p_preview_agent_id, updated_at = v_now where id = p_lead.id;
  else
    v_number := public.caller_id_pick(p_campaign.caller_id_strategy,
                                      case when p_campaign.local_presence then p_lead.ddd end, p_campaign.id);
    if v_number.id is null then
      return pg_catalog.jsonb_build_object('kind', 'no_caller_id');
    end if;
    insert into public.calls (direction, from_number, to_number, caller_id, campaign_id, lead_id, status, created_at)
    values ('outbound-api', v_number.phone_number, p_lead.phone_number, v_number.phone_number, p_campaign.id, p_lead.id, 'queued',
            public.app_clock_now())
    returning id into v_attempt;
    update public.leads set status = 'dialing', attempts = attempts + 1, last_attempt_at = v_now, updated_at = v_now
     where id = p_lead.id;
  end if;
  return pg_catalog.jsonb_build_object('kind', 'claimed', 'item', pg_catalog.jsonb_build_object(
    'attempt_id', v_attempt, 'lead_id', p_lead.id, 'to', p_lead.phone_number, 'caller_id', v_number.phone_number,
    'name', p_lead.name, 'fields', p_lead.data));
end;
$$;

-- claim_leads (see 20261127090300_pacer.sql for the contract), made safe against a claim that
-- waits: the pacer takes the account's CPS lock first, then locks the campaign's row, and only
-- then checks its lease against wall-clock time. A claim that waited past its lease while
-- another round leased the campaign is refused (lease_not_held) instead of claiming from a
-- stale snapshot; the campaign row lock orders claims of one campaign. Leads whose number's
-- opt-out lock is busy are passed over (skipped.busy) for the next round.
create or replace function public.claim_leads(
  p_campaign_id bigint, p_owner uuid, p_count integer, p_open_ddds smallint[], p_account_cps integer,
  p_preview_agent_id bigint default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_campaign  public.campaigns;
  v_budget    integer;
  v_lead      public.leads;
  v_class     integer;
  v_one       jsonb;
  v_claimed   jsonb := '[]'::jsonb;
  v_skip      bigint[] := '{}';
  v_n         integer := 0;
  v_opted     integer := 0;
  v_no_caller integer := 0;
  v_cps       integer := 0;
  v_refused   jsonb := pg_catalog.jsonb_build_object('claimed', '[]'::jsonb, 'skipped', '{}'::jsonb);
begin
  if p_campaign_id is null then
    raise exception 'p_campaign_id is required' using errcode = '22023';
  end if;
  if p_count is null or p_count < 0 or p_count > 1000 then
    raise exception 'p_count must be between 0 and 1000' using errcode = '22023';
  end if;
  if p_preview_agent_id is null and (p_account_cps is null or p_account_cps < 1) then
    raise exception 'p_account_cps must be at least 1' using errcode = '22023';
  end if;

  if p_preview_agent_id is null then
    -- The account's CPS lock before anything else: the wait for it must not outlive the lease
    -- unnoticed (the lease is checked after, on the locked campaign row, at wall-clock time).
    v_budget := least(p_count, public.account_cps_room(p_account_cps));
    v_cps := p_count - v_budget;
    select * into v_campaign from public.campaigns c where c.id = p_campaign_id for update;
  else
    select * into v_campaign from public.campaigns c where c.id = p_campaign_id;
  end if;
  if v_campaign.id is null then
    return v_refused || '{"error": "campaign_not_found"}'::jsonb;
  end if;
  if v_campaign.status <> 'active' then
    return v_refused || '{"error": "campaign_not_active"}'::jsonb;
  end if;

  if p_preview_agent_id is not null then
    if not exists (select 1 from public.agents a where a.id = p_preview_agent_id and a.campaign_id = p_campaign_id and a.is_active) then
      return v_refused || '{"error": "agent_not_in_campaign"}'::jsonb;
    end if;
    select * into v_lead from public.leads l
     where l.campaign_id = p_campaign_id and l.status = 'previewing' and l.preview_agent_id = p_preview_agent_id
     order by l.id limit 1;
    if v_lead.id is not null then
      return pg_catalog.jsonb_build_object('claimed', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'attempt_id', null, 'lead_id', v_lead.id, 'to', v_lead.phone_number, 'caller_id', null,
        'name', v_lead.name, 'fields', v_lead.data)), 'skipped', '{}'::jsonb);
    end if;
    v_budget := least(p_count, 1);
  elsif v_campaign.tick_lease_owner is distinct from p_owner or v_campaign.tick_lease_until is null
        or v_campaign.tick_lease_until <= public.app_clock_now() then
    return v_refused || '{"error": "lease_not_held"}'::jsonb;
  end if;

  -- One lead at a time (a cursor would lock a batch of rows ahead and hide them from
  -- concurrent claims): callbacks due, then new leads, then retries due.
  <<classes>>
  for v_class in 0..2 loop
    while v_n < v_budget loop
      v_lead := public.pacer_next_lead(v_campaign, v_class, p_open_ddds, p_preview_agent_id, v_skip);
      exit when v_lead.id is null;
      v_one := public.pacer_claim_lead(v_lead, v_campaign, p_preview_agent_id);
      if v_one->>'kind' = 'opted_out' then
        v_opted := v_opted + 1;
      elsif v_one->>'kind' = 'busy' then
        v_skip := v_skip || v_lead.id;
      elsif v_one->>'kind' = 'no_caller_id' then
        v_no_caller := 1;
        exit classes;
      else
        v_n := v_n + 1;
        v_claimed := v_claimed || pg_catalog.jsonb_build_array(v_one->'item');
      end if;
    end loop;
  end loop;

  return pg_catalog.jsonb_build_object('claimed', v_claimed,
    'skipped', pg_catalog.jsonb_build_object('opted_out', v_opted, 'no_caller_id', v_no_caller, 'cps', v_cps,
                                             'busy', pg_catalog.cardinality(v_skip)));
end;
$$;

-- A pacer dial attempt Twilio did not create, by what Twilio's answer means (p_kind):
--   'invalid_number' — Twilio will never call this number (invalid, unreachable, blocked, not a
--     voice number): the attempt failed (call outcome 'failed', Twilio's code in error_code) and
--     counted, the lead 'invalid' (outcome invalid_number), never dialed again;
--   'transient' (rate limit, Twilio unavailable, a call not even attempted) — the lead pending
--     again, its attempt not counted, not before p_backoff_seconds;
--   'caller_id' — the caller ID is unusable (not owned or verified, invalid): the number is taken
--     out of rotation (is_active false) and the lead pending again as for 'transient'.
-- The attempt is failed (dial_attempt_refused gives the caller ID's count back) and its outcome
-- recorded (lead_attempt_ended leaves a lead no longer dialing alone). Idempotent: a lead no
-- longer dialing this attempt is left alone.
drop function public.release_dial_attempt(bigint, integer);
create function public.release_dial_attempt(p_attempt_id bigint, p_error_code integer default null,
                                            p_kind text default 'transient', p_backoff_seconds integer default 60)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_failed public.calls;
  v_call   public.calls;
  v_lead   integer := 0;
begin
  if p_kind is null or p_kind not in ('invalid_number', 'transient', 'caller_id') then
    raise exception 'p_kind must be invalid_number, transient or caller_id' using errcode = '22023';
  end if;
  if p_backoff_seconds is null or p_backoff_seconds < 0 or p_backoff_seconds > 86400 then
    raise exception 'p_backoff_seconds must be between 0 and 86400' using errcode = '22023';
  end if;
  v_failed := public.dial_attempt_refused(p_attempt_id, p_error_code);
  select * into v_call from public.calls c where c.id = p_attempt_id;
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('failed', false, 'released', false);
  end if;
  if v_failed.id is not null then
    if p_kind = 'invalid_number' then
      update public.leads l
         set status = 'invalid', outcome = 'invalid_number', next_attempt_at = null, callback_at = null,
             callback_agent_id = null, preview_agent_id = null, updated_at = public.app_now()
       where l.id = v_call.lead_id and l.status = 'dialing'
         and not exists (select 1 from public.calls o where o.lead_id = l.id and o.id > v_call.id);
    else
      if p_kind = 'caller_id' then
        update public.phone_numbers set is_active = false, updated_at = public.app_now()
         where phone_number = v_call.caller_id and is_active;
      end if;
      update public.leads l
         set status = 'pending', attempts = greatest(l.attempts - 1, 0),
             next_attempt_at = public.app_now() + pg_catalog.make_interval(secs => p_backoff_seconds),
             updated_at = public.app_now()
       where l.id = v_call.lead_id and l.status = 'dialing'
         and not exists (select 1 from public.calls o where o.lead_id = l.id and o.id > v_call.id);
    end if;
    get diagnostics v_lead = row_count;
    perform public.lead_attempt_ended(v_call.id);
  end if;
  return pg_catalog.jsonb_build_object('failed', v_failed.id is not null, 'released', v_lead > 0, 'kind', p_kind);
end;
$$;
revoke execute on function public.release_dial_attempt(bigint, integer, text, integer) from public, anon, authenticated;
grant execute on function public.release_dial_attempt(bigint, integer, text, integer) to service_role;

-- start_dial_attempt (see 20261127090200_windows_caller_id.sql) behind the account's CPS gate
-- (p_account_cps = ACCOUNT_CPS; placeCall always passes it): click-to-call and preview dials
-- share the second with the pacer's claims; a full second refuses with 'cps_limit' (nothing
-- recorded) for the caller to retry. The attempt's created_at is wall-clock time, as the pacer's.
drop function public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer);
create function public.start_dial_attempt(
  p_to public.e164, p_caller_id public.e164 default null,
  p_agent_id bigint default null, p_campaign_id bigint default null, p_lead_id bigint default null,
  p_reserve_agent boolean default false, p_presence_seconds integer default 20, p_account_cps integer default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now    timestamptz := public.app_now();
  v_today  date := (v_now at time zone 'America/Sao_Paulo')::date;
  v_number public.phone_numbers;
  v_agent  public.agents;
  v_id     bigint;
begin
  -- The account's CPS first (the lock every dial attempt takes before any other): a full
  -- second → refused, nothing recorded, for the caller to retry (placeCall does, for up to
  -- about a second). Null p_account_cps (SQL callers that place no call) → no gate.
  if p_account_cps is not null and public.account_cps_room(p_account_cps) < 1 then
    return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'cps_limit');
  end if;
  -- Serializes with opt_out_add on this number: an opt-out acknowledged before this point is
  -- seen below; one that comes later waits for this attempt and is caught at answer.
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_to));
  if exists (select 1 from public.opt_outs where phone_number = p_to) then
    return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'opted_out');
  end if;

  -- The agent first: every path locks the agent row before any number (the pool lock or a
  -- named number's row), so two attempts for one agent never wait on each other in a cycle.
  if coalesce(p_reserve_agent, false) then
    select * into v_agent from public.agents a where a.id = p_agent_id for update;
    -- Free to call (available, or choosing to call from wrap-up or a pause), with the shift leg
    -- in the room and the page polling: the customer will find the agent there.
    if v_agent.id is null or not v_agent.is_active or v_agent.status not in ('available', 'wrap_up', 'paused')
       or v_agent.shift_call_sid is null
       or exists (select 1 from public.calls c where c.call_sid = v_agent.shift_call_sid and public.call_status_rank(c.status) >= 4)
       or v_agent.last_seen_at is null
       or v_agent.last_seen_at <= v_now - pg_catalog.make_interval(secs => coalesce(p_presence_seconds, 20)) then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'agent_busy');
    end if;
  end if;

  if p_caller_id is not null then
    select * into v_number from public.phone_numbers n where n.phone_number = p_caller_id for update;
    if v_number.id is null or not v_number.is_active then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_not_in_pool');
    elsif v_number.assigned_agent_id is not null and v_number.assigned_agent_id is distinct from p_agent_id then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_dedicated_to_agent');
    elsif v_number.spam_flagged_at is not null then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_spam_flagged');
    elsif v_number.calls_today_date = v_today and v_number.calls_today >= v_number.daily_cap then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_at_daily_cap');
    end if;
    update public.phone_numbers set
      calls_today      = case when calls_today_date = v_today then calls_today + 1 else 1 end,
      calls_today_date = v_today,
      call_count       = call_count + 1,
      last_used_at     = v_now,
      updated_at       = v_now
    where id = v_number.id;
  else
    -- A campaign's call follows the campaign's strategy (caller_id_pick reads it for null).
    v_number := public.caller_id_pick(case when p_campaign_id is null then 'round_robin' end,
      case when p_to like '+55%' then pg_catalog.substr(p_to, 4, 2)::smallint end, p_campaign_id);
    if v_number.id is null then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'no_caller_id_available');
    end if;
  end if;

  insert into public.calls (direction, from_number, to_number, caller_id, agent_id, campaign_id, lead_id, status, created_at)
  values ('outbound-api', v_number.phone_number, p_to, v_number.phone_number, p_agent_id, p_campaign_id, p_lead_id, 'queued',
          public.app_clock_now())
  returning id into v_id;

  if v_agent.id is not null then
    -- Reserved for this attempt alone: the call of a wrap-up just left is not carried over
    -- (the CallSid comes with agent_reserve_outbound or the answer webhook).
    update public.agents set reserved_attempt_id = v_id, current_call_sid = null where id = v_agent.id;
    perform public.agent_transition(v_agent.id, 'reserved', null, 'system', null);
  end if;

  return pg_catalog.jsonb_build_object('allowed', true, 'attempt_id', v_id, 'caller_id', v_number.phone_number);
end;
$$;
revoke execute on function public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer, integer)
  from public, anon, authenticated;
grant execute on function public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer, integer)
  to service_role;

