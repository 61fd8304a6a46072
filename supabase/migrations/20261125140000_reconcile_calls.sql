-- Reconciliation: repair calls whose final status callback never landed (the database was
-- away when Twilio delivered it, and Twilio does not retry past its 15 s budget). A run lists
-- calls the database still thinks are live, reads each one from Twilio's Calls resource and
-- folds what Twilio says into the row through apply_call_event, so a reconciled call ends in
-- the same row a delivered callback would have produced, and running it twice changes nothing.

-- The Call resource as an event kind of its own, so call_events shows which rows were repaired.
alter table public.call_events drop constraint call_events_kind_check;
alter table public.call_events add constraint call_events_kind_check
  check (kind in ('status', 'amd', 'voice', 'dial', 'queue', 'recording', 'reconcile'));

-- When a reconciliation run last looked at the call (whatever it found), so a bounded batch
-- moves on to other calls instead of fetching the same live ones every run.
alter table public.calls add column reconciled_at timestamptz;

-- Candidates, oldest first: calls not terminal in the database and quiet for a while.
create index calls_reconcile_idx on public.calls (reconciled_at nulls first, updated_at)
  where status in ('queued', 'initiated', 'ringing', 'in-progress');

-- Calls not terminal in the database with no event for p_older_than_seconds and not looked at
-- by a run in that time either; at most p_limit (1-500) of them, never looked at first.
create or replace function public.reconcile_candidates(p_older_than_seconds integer default 60, p_limit integer default 100)
returns table (call_sid text, account_sid text, status text, updated_at timestamptz, reconciled_at timestamptz)
language plpgsql stable
set search_path = ''
as $$
begin
  if p_older_than_seconds is null or p_older_than_seconds < 0 then
    raise exception 'p_older_than_seconds must be 0 or more' using errcode = '22023';
  end if;
  if p_limit is null or p_limit < 1 or p_limit > 500 then
    raise exception 'p_limit must be between 1 and 500' using errcode = '22023';
  end if;
  return query
    select c.call_sid::text, c.account_sid, c.status, c.updated_at, c.reconciled_at
      from public.calls c
     where c.status in ('queued', 'initiated', 'ringing', 'in-progress')
       and c.call_sid is not null  -- a dial attempt Twilio never accepted has nothing to read back
       and c.updated_at <= now() - make_interval(secs => p_older_than_seconds)
       and (c.reconciled_at is null or c.reconciled_at <= now() - make_interval(secs => p_older_than_seconds))
     order by c.reconciled_at nulls first, c.updated_at
     limit p_limit;
end;
$$;

-- Applies one Call resource as Twilio returned it (jsonb: call_sid, status, duration,
-- start_time, end_time, answered_by, account_sid, direction, from, to, parent_call_sid;
-- times ISO 8601). A terminal status becomes two events through apply_call_event: the start
-- (so started_at is Twilio's, not the end) and the end (status, duration, ended_at, and
-- answered_at = end - duration). A status that is still live changes nothing but
-- reconciled_at; found = false (Twilio does not know the call) likewise.
-- Returns the status before and after, and whether the row changed.
create or replace function public.reconcile_call(p_call jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_sid      text := p_call->>'call_sid';
  v_status   text := p_call->>'status';
  v_found    boolean := coalesce((p_call->>'found')::boolean, true);
  v_before   public.calls;
  v_after    public.calls;
  v_terminal boolean;
  v_base     jsonb;
begin
  if v_sid is null or v_sid !~ '^CA[0-9a-f]{32}$' then
    raise exception 'call_sid must be CA followed by 32 hex characters' using errcode = '22023';
  end if;
  select * into v_before from public.calls c where c.call_sid = v_sid for update;
  if v_before.id is null then
    raise exception 'no call % in the database', v_sid using errcode = '22023';
  end if;
  if v_found and public.call_status_rank(v_status) < 0 then
    raise exception 'unknown call status %', v_status using errcode = '22023';
  end if;
  v_terminal := v_found and public.call_status_rank(v_status) >= 4;

  if v_terminal then
    v_base := jsonb_strip_nulls(jsonb_build_object(
      'call_sid', v_sid, 'account_sid', p_call->>'account_sid', 'direction', p_call->>'direction',
      'from', p_call->>'from', 'to', p_call->>'to', 'parent_call_sid', p_call->>'parent_call_sid',
      'kind', 'reconcile', 'params', coalesce(p_call->'resource', '{}'::jsonb)));
    if p_call->>'start_time' is not null then
      perform public.apply_call_event(v_base || jsonb_build_object(
        'call_status', 'initiated', 'event_at', p_call->>'start_time', 'dedupe_key', 'reconcile:start'));
    end if;
    perform public.apply_call_event(v_base || jsonb_strip_nulls(jsonb_build_object(
      'call_status', v_status, 'event_at', coalesce(p_call->>'end_time', now()::text),
      'call_duration', (p_call->>'duration')::integer, 'answered_by', p_call->>'answered_by',
      'dedupe_key', 'reconcile:' || v_status)));
  end if;

  update public.calls c set reconciled_at = now() where c.call_sid = v_sid returning * into v_after;
  return jsonb_build_object(
    'call_sid', v_sid, 'status_before', v_before.status, 'status', v_after.status,
    'duration', v_after.duration, 'changed',
    (v_before.status, v_before.duration, v_before.ended_at, v_before.answered_at, v_before.started_at)
      is distinct from (v_after.status, v_after.duration, v_after.ended_at, v_after.answered_at, v_after.started_at));
end;
$$;

revoke execute on function public.reconcile_candidates(integer, integer), public.reconcile_call(jsonb)
  from public, anon, authenticated;
grant execute on function public.reconcile_candidates(integer, integer), public.reconcile_call(jsonb)
  to service_role;
