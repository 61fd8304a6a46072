-- The pacer, live: one pacing round per running campaign, safe to start from several drivers at
-- once (heartbeat, call events, agent pages).
--
--   pacer_round_begin   takes the lease of every active campaign whose lease is free (or of one
--                       campaign) and returns, in one round trip, what the pacing decision needs
--                       for each: agents as pacing activities, calls by stage, the account's
--                       dials in the last second, rolling statistics, holidays, settings.
--   claim_leads         the next leads of a leased campaign in priority order (callbacks due,
--                       new, retries due), skipping opt-outs, closed DDDs and leads at their
--                       attempt limit, FOR UPDATE SKIP LOCKED; picks each caller ID and records
--                       each dial attempt (a calls row) under the account's CPS. Or, for an
--                       agent in preview mode, one lead shown to that agent.
--   pacer_round_end     logs the rounds (pacer_rounds) and frees the leases.
--
-- A lease is a deadline on the campaign row (tick_lease_until, tick_lease_owner): a round that
-- crashed stops holding its campaign when the deadline passes. Every time is app_now().

-- When the last round of a campaign began (rate limit of the agent pages' poll trigger).
alter table public.campaigns add column tick_last_at timestamptz;

-- Claim order within each class: priority desc, id. One partial index per class keeps a claim
-- an index walk instead of a sort over the campaign's leads.
create index leads_claim_new_idx on public.leads (campaign_id, priority desc, id)
  where status = 'pending' and attempts = 0 and callback_at is null;
create index leads_claim_retry_idx on public.leads (campaign_id, priority desc, id)
  where status = 'pending' and attempts > 0;
create index leads_claim_callback_idx on public.leads (campaign_id, callback_at)
  where status = 'pending' and callback_at is not null;
-- The snapshot's day and hour counters of live and abandoned answers.
create index calls_campaign_live_at_idx on public.calls (campaign_id, live_at) where live_at is not null;
create index calls_campaign_abandoned_at_idx on public.calls (campaign_id, abandoned_at) where abandoned_at is not null;

-- The agent as the page shows it, now with the campaign the agent works (null: inbound only),
-- so the page's poll knows without another round trip whether a pacing round may be due.
create or replace function public.agent_view(p_agent public.agents, p_presence_seconds integer)
returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
    'id', p_agent.id,
    'name', p_agent.name,
    'status', p_agent.status,
    'status_since', p_agent.status_changed_at,
    'pause_reason', p_agent.pause_reason,
    'wrap_up_until', p_agent.wrap_up_until,
    'current_call_sid', p_agent.current_call_sid,
    'shift_connected', p_agent.shift_call_sid is not null,
    'last_seen_at', p_agent.last_seen_at,
    'routable', public.agent_is_routable(p_agent, p_presence_seconds),
    'campaign_id', p_agent.campaign_id)
$$;

-- ---------------------------------------------------------------------------------------
-- One campaign's pacing snapshot (called by pacer_round_begin for each leased campaign).
-- p_windows: the rolling windows' sizes, from src/lib/domain/pacing (answer_rate_dials,
-- ring_time_dials, answer_time_answers, machine_rate_answers, amd_time_answers, talk_samples,
-- wrap_up_samples).
create or replace function public.pacer_snapshot(
  p_campaign public.campaigns, p_presence_seconds integer, p_windows jsonb, p_dials_last_second integer
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_now       timestamptz := public.app_now();
  v_local_now timestamp := public.app_now() at time zone 'America/Sao_Paulo';
  v_day_start timestamptz := pg_catalog.date_trunc('day', public.app_now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo';
  v_hour_ago  timestamptz := public.app_now() - interval '1 hour';
  v_id        bigint := p_campaign.id;
  v_agents    jsonb;
  v_unroutable integer;
  v_preview   jsonb;
  v_calls     record;
  v_dials     record;
  v_answers   record;
  v_amd       record;
  v_talk      record;
  v_wrap      record;
  v_live      record;
  v_holidays  jsonb;
  v_own_dials integer;
  v_held      text[];
begin
  -- Agents of the campaign as the pacer sees them. An available agent counts only when routable
  -- (polled recently, shift leg in the room); offline agents are not logged in. Available agents
  -- waiting for a preview lead, longest waiting first.
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', a.id, 'activity', x.activity,
           'since_ms', (extract(epoch from a.status_changed_at) * 1000)::bigint) order by a.id) filter (where x.activity is not null), '[]'::jsonb),
         (pg_catalog.count(*) filter (where a.status = 'available' and x.activity is null))::integer,
         coalesce(pg_catalog.jsonb_agg(a.id order by a.preview_requested_at, a.id)
                    filter (where x.activity = 'available' and a.preview_requested_at is not null), '[]'::jsonb)
    into v_agents, v_unroutable, v_preview
    from public.agents a
    cross join lateral (select case
        when a.status = 'available' then case when public.agent_is_routable(a, p_presence_seconds) then 'available' end
        when a.status in ('reserved', 'busy') then 'talking'
        when a.status = 'wrap_up' then 'wrapup'
        when a.status = 'paused' then 'paused' end as activity) x
   where a.campaign_id = v_id and a.is_active and a.status <> 'offline';

  -- The calls the campaign's agents are reserved for or talking to (agents.current_call_sid):
  -- a live answer with an agent is connected, not waiting, from the moment of the reservation.
  select coalesce(pg_catalog.array_agg(a.current_call_sid::text), '{}'::text[]) into v_held
    from public.agents a
   where a.campaign_id = v_id and a.status in ('reserved', 'busy') and a.current_call_sid is not null;

  -- Unfinished calls by stage. A call still queued without news after ten minutes is the
  -- reconciler's, not a line in use.
  select (pg_catalog.count(*) filter (where c.status in ('queued', 'initiated', 'ringing')))::integer as ringing,
         (pg_catalog.count(*) filter (where c.status = 'in-progress' and c.amd_at is null and c.live_at is null
                                        and not (c.agent_id is not null or c.connected_at is not null or c.call_sid = any (v_held))))::integer as detecting,
         (pg_catalog.count(*) filter (where c.status = 'in-progress' and c.live_at is not null
                                        and not (c.agent_id is not null or c.connected_at is not null or c.call_sid = any (v_held))))::integer as waiting,
         (pg_catalog.count(*) filter (where c.status = 'in-progress'
                                        and (c.agent_id is not null or c.connected_at is not null or c.call_sid = any (v_held))))::integer as connected,
         coalesce(pg_catalog.jsonb_agg((extract(epoch from c.created_at) * 1000)::bigint order by c.created_at)
                    filter (where c.status in ('queued', 'initiated', 'ringing')), '[]'::jsonb) as ringing_since
    into v_calls
    from public.calls c
   where c.campaign_id = v_id
     and c.status in ('queued', 'initiated', 'ringing', 'in-progress')
     and c.end_reason is null
     and (c.status = 'in-progress' or c.created_at > v_now - interval '10 minutes');

  -- Finished dials (answered, or ended without an answer), newest first.
  select (pg_catalog.count(*))::integer as n,
         pg_catalog.avg(case when d.answered_at is not null then 1 else 0 end)::float8 as answer_rate
    into v_dials
    from (select c.answered_at from public.calls c
           where c.campaign_id = v_id and c.direction = 'outbound-api' and c.end_reason is distinct from 'twilio_refused'
             and (c.answered_at is not null or c.ended_at is not null)
           order by c.created_at desc
           limit (p_windows->>'answer_rate_dials')::integer) d;
  select coalesce(pg_catalog.avg(extract(epoch from coalesce(d.answered_at, d.ended_at) - d.created_at)), 0)::float8 as ring_time
    into v_answers
    from (select c.answered_at, c.ended_at, c.created_at from public.calls c
           where c.campaign_id = v_id and c.direction = 'outbound-api' and c.end_reason is distinct from 'twilio_refused'
             and (c.answered_at is not null or c.ended_at is not null)
           order by c.created_at desc
           limit (p_windows->>'ring_time_dials')::integer) d;
  select v_answers.ring_time as ring_time,
         coalesce(pg_catalog.avg(extract(epoch from d.answered_at - d.created_at)), 0)::float8 as answer_time,
         coalesce(pg_catalog.stddev_pop(extract(epoch from d.answered_at - d.created_at)), 0)::float8 as answer_time_sd
    into v_answers
    from (select c.answered_at, c.created_at from public.calls c
           where c.campaign_id = v_id and c.direction = 'outbound-api' and c.answered_at is not null
           order by c.created_at desc
           limit (p_windows->>'answer_time_answers')::integer) d;
  -- AMD results: the share not taken as live (machine, or unknown hung up), and AMD's time.
  select coalesce(pg_catalog.avg(case when m.live_at is null then 1 else 0 end), 0)::float8 as machine_rate
    into v_amd
    from (select c.live_at from public.calls c
           where c.campaign_id = v_id and c.amd_at is not null
           order by c.created_at desc
           limit (p_windows->>'machine_rate_answers')::integer) m;
  select v_amd.machine_rate as machine_rate,
         coalesce(pg_catalog.avg(coalesce(m.amd_ms / 1000.0, extract(epoch from m.amd_at - m.answered_at))), 0)::float8 as amd_time
    into v_amd
    from (select c.amd_ms, c.amd_at, c.answered_at from public.calls c
           where c.campaign_id = v_id and c.amd_at is not null
           order by c.created_at desc
           limit (p_windows->>'amd_time_answers')::integer) m;

  -- Talk and wrap-up: the finished busy and wrap-up periods of the campaign's own calls that
  -- went live (newest first), whichever agents took them and wherever they work now.
  select (pg_catalog.count(*))::integer as n,
         coalesce(pg_catalog.avg(t.s), 0)::float8 as mean, coalesce(pg_catalog.stddev_pop(t.s), 0)::float8 as sd
    into v_talk
    from (select extract(epoch from h.ended_at - h.started_at) as s
            from (select c.call_sid from public.calls c
                   where c.campaign_id = v_id and c.live_at is not null and c.call_sid is not null
                   order by c.live_at desc
                   limit (p_windows->>'talk_samples')::integer) c
            join public.agent_status_history h on h.call_sid = c.call_sid
           where h.status = 'busy' and h.ended_at is not null
           order by h.started_at desc
           limit (p_windows->>'talk_samples')::integer) t;
  select (pg_catalog.count(*))::integer as n,
         coalesce(pg_catalog.avg(t.s), 0)::float8 as mean, coalesce(pg_catalog.stddev_pop(t.s), 0)::float8 as sd
    into v_wrap
    from (select extract(epoch from h.ended_at - h.started_at) as s
            from (select c.call_sid from public.calls c
                   where c.campaign_id = v_id and c.live_at is not null and c.call_sid is not null
                   order by c.live_at desc
                   limit (p_windows->>'wrap_up_samples')::integer) c
            join public.agent_status_history h on h.call_sid = c.call_sid
           where h.status = 'wrap_up' and h.ended_at is not null
           order by h.started_at desc
           limit (p_windows->>'wrap_up_samples')::integer) t;

  -- Live and abandoned answers today (São Paulo's day) and in the last hour.
  select (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.live_at >= v_day_start)::integer as live_today,
         (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.live_at >= v_hour_ago)::integer as live_hour,
         (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.abandoned_at >= v_day_start)::integer as abandoned_today,
         (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.abandoned_at >= v_hour_ago)::integer as abandoned_hour
    into v_live;

  -- The campaign's own dial attempts in the last second (its share of the account's CPS).
  select (pg_catalog.count(*))::integer into v_own_dials from public.calls c
   where c.campaign_id = v_id and c.created_at > v_now - interval '1 second';

  -- Dates an admin closed for this campaign or for all, around today (every zone's today).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('day', h.day, 'uf', h.uf) order by h.day, h.uf), '[]'::jsonb)
    into v_holidays
    from public.calling_holidays h
   where (h.campaign_id = v_id or h.campaign_id is null)
     and h.day between v_local_now::date - 1 and v_local_now::date + 1;

  return pg_catalog.jsonb_build_object(
    'campaign_id', v_id,
    'now_ms', (extract(epoch from v_now) * 1000)::bigint,
    'lease_until_ms', (extract(epoch from p_campaign.tick_lease_until) * 1000)::bigint,
    'campaign', pg_catalog.to_jsonb(p_campaign) - array['tick_lease_owner', 'tick_lease_until', 'tick_last_at'],
    'agents', v_agents,
    'agents_unroutable', v_unroutable,
    'calls', pg_catalog.jsonb_build_object('ringing', v_calls.ringing, 'detecting', v_calls.detecting,
                                           'waiting', v_calls.waiting, 'connected', v_calls.connected),
    'ringing_since_ms', v_calls.ringing_since,
    'dials_last_second', p_dials_last_second,
    'campaign_dials_last_second', v_own_dials,
    'preview_requests', pg_catalog.jsonb_array_length(v_preview),
    'preview_agents', v_preview,
    'stats', pg_catalog.jsonb_build_object(
      'sampleDials', v_dials.n, 'answerRate', coalesce(v_dials.answer_rate, 0),
      'machineRate', v_amd.machine_rate, 'answerTimeS', v_answers.answer_time, 'answerTimeSdS', v_answers.answer_time_sd,
      'ringTimeS', v_answers.ring_time, 'amdTimeS', v_amd.amd_time,
      'talkSamples', v_talk.n, 'talkTimeS', v_talk.mean, 'talkTimeSdS', v_talk.sd,
      'wrapUpTimeS', v_wrap.mean, 'wrapUpTimeSdS', v_wrap.sd,
      'liveToday', v_live.live_today, 'abandonedToday', v_live.abandoned_today,
      'liveLastHour', v_live.live_hour, 'abandonedLastHour', v_live.abandoned_hour),
    'holidays', v_holidays);
end;
$$;

-- Takes the lease (p_lease_seconds) of every active campaign whose lease is free, or of
-- p_campaign_id only, and returns {now_ms, rounds: [snapshot per leased campaign]}. Two
-- rounds starting at the same instant never both get a campaign (rows another transaction is
-- leasing are skipped, a lease another owner holds is not free).
create or replace function public.pacer_round_begin(
  p_owner uuid, p_campaign_id bigint, p_lease_seconds numeric, p_presence_seconds integer, p_windows jsonb
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now      timestamptz := public.app_now();
  v_key      text;
  v_dials    integer;
  v_rounds   jsonb := '[]'::jsonb;
  v_campaign public.campaigns;
begin
  if p_owner is null then
    raise exception 'p_owner is required' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds <= 0 or p_lease_seconds > 600 then
    raise exception 'p_lease_seconds must be in (0, 600]' using errcode = '22023';
  end if;
  if p_presence_seconds is null or p_presence_seconds <= 0 then
    raise exception 'p_presence_seconds must be positive' using errcode = '22023';
  end if;
  foreach v_key in array array['answer_rate_dials', 'ring_time_dials', 'answer_time_answers', 'machine_rate_answers',
                               'amd_time_answers', 'talk_samples', 'wrap_up_samples'] loop
    if pg_catalog.jsonb_typeof(p_windows->v_key) is distinct from 'number' or (p_windows->>v_key)::numeric < 1 then
      raise exception 'p_windows.% must be a positive number', v_key using errcode = '22023';
    end if;
  end loop;

  select (pg_catalog.count(*))::integer into v_dials from public.calls c
   where c.created_at > v_now - interval '1 second' and c.direction = 'outbound-api';

  for v_campaign in
    with free as (
      select c.id from public.campaigns c
       where c.status = 'active' and (p_campaign_id is null or c.id = p_campaign_id)
         and (c.tick_lease_until is null or c.tick_lease_until <= v_now)
       order by c.id
       for update skip locked
    )
    update public.campaigns c
       set tick_lease_owner = p_owner,
           tick_lease_until = v_now + pg_catalog.make_interval(secs => p_lease_seconds::float8),
           tick_last_at = v_now
      from free where c.id = free.id
    returning c.*
  loop
    v_rounds := v_rounds || pg_catalog.jsonb_build_array(public.pacer_snapshot(v_campaign, p_presence_seconds, p_windows, v_dials));
  end loop;
  return pg_catalog.jsonb_build_object('now_ms', (extract(epoch from v_now) * 1000)::bigint, 'dials_last_second', v_dials, 'rounds', v_rounds);
end;
$$;

-- Logs the rounds ([{campaign_id, trigger, wanted, claimed, placed, reason, explanation}]) of
-- campaigns this owner leased, and frees every lease the owner holds. Returns {logged, freed}.
create or replace function public.pacer_round_end(p_owner uuid, p_rounds jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_logged integer;
  v_freed  integer;
begin
  if p_owner is null then
    raise exception 'p_owner is required' using errcode = '22023';
  end if;
  if p_rounds is not null and pg_catalog.jsonb_typeof(p_rounds) <> 'array' then
    raise exception 'p_rounds must be a JSON array' using errcode = '22023';
  end if;
  insert into public.pacer_rounds (campaign_id, decided_at, trigger, wanted, claimed, placed, reason, explanation)
  select (r.value->>'campaign_id')::bigint, public.app_now(), r.value->>'trigger',
         greatest(coalesce((r.value->>'wanted')::integer, 0), 0), greatest(coalesce((r.value->>'claimed')::integer, 0), 0),
         greatest(coalesce((r.value->>'placed')::integer, 0), 0), coalesce(r.value->>'reason', 'unknown'),
         pg_catalog.left(r.value->>'explanation', 1000)
    from pg_catalog.jsonb_array_elements(coalesce(p_rounds, '[]'::jsonb)) r
    join public.campaigns c on c.id = (r.value->>'campaign_id')::bigint and c.tick_lease_owner = p_owner;
  get diagnostics v_logged = row_count;
  update public.campaigns set tick_lease_owner = null, tick_lease_until = null where tick_lease_owner = p_owner;
  get diagnostics v_freed = row_count;
  return pg_catalog.jsonb_build_object('logged', v_logged, 'freed', v_freed);
end;
$$;

-- The active campaign an agent works, when a round for it may start now: none began within
-- p_min_seconds (0: always). Marks the moment, so a burst of agent polls starts one round.
-- Null when the agent works no active campaign or a round began too recently.
create or replace function public.pacer_agent_campaign(p_agent_id bigint, p_min_seconds numeric)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_now timestamptz := public.app_now();
  v_id  bigint;
begin
  update public.campaigns c set tick_last_at = v_now
    from public.agents a
   where a.id = p_agent_id and c.id = a.campaign_id and c.status = 'active'
     and (coalesce(p_min_seconds, 0) <= 0 or c.tick_last_at is null
          or c.tick_last_at <= v_now - pg_catalog.make_interval(secs => p_min_seconds::float8))
  returning c.id into v_id;
  return v_id;
end;
$$;

-- ---------------------------------------------------------------------------------------
-- One lead of claim_leads, already locked: under the number's opt-out lock, an opted-out lead
-- is marked opted_out ({kind: 'opted_out'}); in preview it goes to the agent; else a caller ID
-- is picked ({kind: 'no_caller_id'} when the pool has none), the attempt recorded and the lead
-- moves to dialing with one more attempt ({kind: 'claimed', item}).
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
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_lead.phone_number));
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
    insert into public.calls (direction, from_number, to_number, caller_id, campaign_id, lead_id, status)
    values ('outbound-api', v_number.phone_number, p_lead.phone_number, v_number.phone_number, p_campaign.id, p_lead.id, 'queued')
    returning id into v_attempt;
    update public.leads set status = 'dialing', attempts = attempts + 1, last_attempt_at = v_now, updated_at = v_now
     where id = p_lead.id;
  end if;
  return pg_catalog.jsonb_build_object('kind', 'claimed', 'item', pg_catalog.jsonb_build_object(
    'attempt_id', v_attempt, 'lead_id', p_lead.id, 'to', p_lead.phone_number, 'caller_id', v_number.phone_number,
    'name', p_lead.name, 'fields', p_lead.data));
end;
$$;

-- The next lead of a class for claim_leads, locked (rows other transactions hold are skipped):
-- 0 callbacks due (callback_at reached, not attempted since; the previewing agent's own first),
-- 1 new leads (attempts = 0), 2 retries due (next_attempt_at reached or unset; a callback
-- already attempted counts here). Priority desc, id. Only DDDs in p_open_ddds, under both
-- attempt limits. Null row when none is left.
create or replace function public.pacer_next_lead(p_campaign public.campaigns, p_class integer, p_open_ddds smallint[], p_preview_agent_id bigint)
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
     order by (p_preview_agent_id is not null and l.callback_agent_id = p_preview_agent_id) desc, l.priority desc, l.id
     limit 1
     for update of l skip locked;
  elsif p_class = 1 then
    select l.* into v_lead from public.leads l
     where l.campaign_id = p_campaign.id and l.status = 'pending' and l.attempts = 0 and l.callback_at is null
       and (l.next_attempt_at is null or l.next_attempt_at <= v_now)
       and l.ddd = any (p_open_ddds)
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
     order by l.priority desc, l.id
     limit 1
     for update of l skip locked;
  end if;
  return v_lead;
end;
$$;

-- Claims leads of a campaign. Returns {claimed: [{attempt_id, lead_id, to, caller_id, name,
-- fields}], skipped: {opted_out, no_caller_id, cps}} or, refused, {claimed: [], error: code}.
--   Pacer (p_preview_agent_id null): the caller must hold the campaign's lease (p_owner;
--   error lease_not_held); at most p_count leads, and never more than p_account_cps dial
--   attempts created account-wide in the last second (every campaign and click-to-call;
--   claims serialize on one advisory lock for that count). Per lead: pacer_claim_lead.
--   Preview (p_preview_agent_id set): one lead for that agent, who must work the campaign
--   (error agent_not_in_campaign): status previewing, preview_agent_id set, no calls row
--   (attempt_id and caller_id null). An agent already previewing a lead of the campaign gets
--   that lead again. Callbacks for that agent come first.
-- Order: callbacks due (callback_at reached and not attempted since), then new leads
-- (attempts = 0), then retries due (next_attempt_at reached or unset; a callback already
-- attempted is a retry from then on); within each, priority
-- desc, id. Only leads whose DDD is in p_open_ddds (a lead without a DDD is never dialed) and
-- under both attempt limits (the campaign's and the lead's). Locked leads are skipped.
create or replace function public.claim_leads(
  p_campaign_id bigint, p_owner uuid, p_count integer, p_open_ddds smallint[], p_account_cps integer,
  p_preview_agent_id bigint default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now       timestamptz := public.app_now();
  v_campaign  public.campaigns;
  v_budget    integer;
  v_recent    integer;
  v_lead      public.leads;
  v_class     integer;
  v_one       jsonb;
  v_claimed   jsonb := '[]'::jsonb;
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
  select * into v_campaign from public.campaigns c where c.id = p_campaign_id;
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
  else
    if v_campaign.tick_lease_owner is distinct from p_owner or v_campaign.tick_lease_until is null
       or v_campaign.tick_lease_until <= v_now then
      return v_refused || '{"error": "lease_not_held"}'::jsonb;
    end if;
    -- The account's CPS: every dial attempt of the last second counts, whoever recorded it.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.cps'), 0);
    select (pg_catalog.count(*))::integer into v_recent from public.calls c
     where c.created_at > v_now - interval '1 second' and c.direction = 'outbound-api';
    v_budget := greatest(0, least(p_count, p_account_cps - v_recent));
    v_cps := p_count - v_budget;
  end if;

  -- One lead at a time (a cursor would lock a batch of rows ahead and hide them from
  -- concurrent claims): callbacks due, then new leads, then retries due.
  <<classes>>
  for v_class in 0..2 loop
    while v_n < v_budget loop
      v_lead := public.pacer_next_lead(v_campaign, v_class, p_open_ddds, p_preview_agent_id);
      exit when v_lead.id is null;
      v_one := public.pacer_claim_lead(v_lead, v_campaign, p_preview_agent_id);
      if v_one->>'kind' = 'opted_out' then
        v_opted := v_opted + 1;
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
    'skipped', pg_catalog.jsonb_build_object('opted_out', v_opted, 'no_caller_id', v_no_caller, 'cps', v_cps));
end;
$$;

-- A pacer dial attempt Twilio refused: the attempt is failed (fail_dial_attempt gives the
-- caller ID's count back) and the lead is pending again, its attempt not counted, so a later
-- round dials it. Idempotent: a lead no longer dialing this attempt is left alone.
create or replace function public.release_dial_attempt(p_attempt_id bigint, p_error_code integer default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_failed jsonb;
  v_call   public.calls;
  v_lead   integer;
begin
  v_failed := public.fail_dial_attempt(p_attempt_id, p_error_code);
  select * into v_call from public.calls c where c.id = p_attempt_id;
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('failed', false, 'released', false);
  end if;
  update public.leads l
     set status = 'pending', attempts = greatest(l.attempts - 1, 0), updated_at = public.app_now()
   where l.id = v_call.lead_id and l.status = 'dialing' and (v_failed->>'failed')::boolean
     and v_call.end_reason = 'twilio_refused'
     and not exists (select 1 from public.calls o where o.lead_id = l.id and o.id > v_call.id);
  get diagnostics v_lead = row_count;
  return v_failed || pg_catalog.jsonb_build_object('released', v_lead > 0);
end;
$$;

revoke execute on function public.pacer_snapshot(public.campaigns, integer, jsonb, integer) from public, anon, authenticated;
grant execute on function public.pacer_snapshot(public.campaigns, integer, jsonb, integer) to service_role;
revoke execute on function public.pacer_round_begin(uuid, bigint, numeric, integer, jsonb) from public, anon, authenticated;
grant execute on function public.pacer_round_begin(uuid, bigint, numeric, integer, jsonb) to service_role;
revoke execute on function public.pacer_round_end(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.pacer_round_end(uuid, jsonb) to service_role;
revoke execute on function public.pacer_agent_campaign(bigint, numeric) from public, anon, authenticated;
grant execute on function public.pacer_agent_campaign(bigint, numeric) to service_role;
revoke execute on function public.pacer_next_lead(public.campaigns, integer, smallint[], bigint) from public, anon, authenticated;
grant execute on function public.pacer_next_lead(public.campaigns, integer, smallint[], bigint) to service_role;
revoke execute on function public.pacer_claim_lead(public.leads, public.campaigns, bigint) from public, anon, authenticated;
grant execute on function public.pacer_claim_lead(public.leads, public.campaigns, bigint) to service_role;
revoke execute on function public.claim_leads(bigint, uuid, integer, smallint[], integer, bigint) from public, anon, authenticated;
grant execute on function public.claim_leads(bigint, uuid, integer, smallint[], integer, bigint) to service_role;
revoke execute on function public.release_dial_attempt(bigint, integer) from public, anon, authenticated;
grant execute on function public.release_dial_attempt(bigint, integer) to service_role;
