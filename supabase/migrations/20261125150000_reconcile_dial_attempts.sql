-- Reconciliation of dial attempts that never got a CallSid. placeCall records the attempt
-- (and spends the caller ID's daily count) before asking Twilio, then attaches the CallSid;
-- the webhooks attach it too. An attempt can still be left without one: the database answered
-- start_dial_attempt too late for placeCall (which gave up and never asked Twilio), Twilio's
-- Calls create failed with a 5xx or a network error (the call may or may not exist), or
-- Twilio placed a short call while every webhook got a 503. A run lists such attempts once
-- they are old enough, looks for the call in Twilio's Calls list (same To and From, created
-- around the attempt) and either attaches the one call found or marks the attempt as never
-- placed, giving the daily count back.

alter table public.calls drop constraint calls_end_reason_check;
alter table public.calls add constraint calls_end_reason_check
  check (end_reason in ('opted_out_after_dial', 'twilio_refused', 'never_placed'));
comment on column public.calls.end_reason is
  'Why discador ended or never placed the call: opted_out_after_dial, twilio_refused, never_placed (reconciliation found no call at Twilio).';

-- Attempts without a CallSid and without an outcome, recorded at least p_older_than_seconds
-- ago; at most p_limit (1-500), oldest first.
create or replace function public.dial_attempt_candidates(p_older_than_seconds integer default 600, p_limit integer default 100)
returns table (id bigint, from_number text, to_number text, created_at timestamptz)
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
    select c.id, c.from_number::text, c.to_number::text, c.created_at
      from public.calls c
     where c.call_sid is null and c.end_reason is null
       and c.created_at <= pg_catalog.now() - pg_catalog.make_interval(secs => p_older_than_seconds)
     order by c.created_at
     limit p_limit;
end;
$$;

-- Settles one attempt from the CallSids Twilio lists for it (p_call_sids: calls with its To
-- and From created around it). CallSids another row already holds are set aside. Then:
--   exactly one left → it is attached (attach_call_sid): {outcome: 'attached', call_sid};
--   none left        → the attempt failed (end_reason never_placed) and the caller ID's daily
--                      count is given back as fail_dial_attempt does: {outcome: 'never_placed'};
--   several left     → nothing changes: {outcome: 'ambiguous', call_sids}.
-- An attempt that already has a CallSid or an outcome is left as it is ({outcome:
-- 'unchanged'}), so a second run, or a webhook that attached it meanwhile, wins. With
-- p_dry_run nothing is written and the outcome says what would happen.
create or replace function public.resolve_dial_attempt(
  p_attempt_id bigint, p_call_sids text[], p_account_sid text default null, p_dry_run boolean default false
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call public.calls;
  v_free text[];
begin
  if p_call_sids is null then
    raise exception 'p_call_sids is required (an empty array when Twilio lists no call)' using errcode = '22023';
  end if;
  if exists (select 1 from pg_catalog.unnest(p_call_sids) s where s is null or s !~ '^CA[0-9a-f]{32}$') then
    raise exception 'every CallSid must be CA followed by 32 hex characters' using errcode = '22023';
  end if;
  select * into v_call from public.calls c where c.id = p_attempt_id for update;
  if v_call.id is null then
    raise exception 'no dial attempt %', p_attempt_id using errcode = '22023';
  end if;
  if v_call.call_sid is not null or v_call.end_reason is not null then
    return pg_catalog.jsonb_build_object('outcome', 'unchanged', 'call_sid', v_call.call_sid, 'end_reason', v_call.end_reason);
  end if;

  select coalesce(pg_catalog.array_agg(distinct s order by s), '{}') into v_free
    from pg_catalog.unnest(p_call_sids) s
   where not exists (select 1 from public.calls o where o.call_sid = s);

  if pg_catalog.cardinality(v_free) = 1 then
    if not p_dry_run then
      perform public.attach_call_sid(p_attempt_id, v_free[1], p_account_sid);
    end if;
    return pg_catalog.jsonb_build_object('outcome', 'attached', 'call_sid', v_free[1]);
  elsif pg_catalog.cardinality(v_free) > 1 then
    return pg_catalog.jsonb_build_object('outcome', 'ambiguous', 'call_sids', pg_catalog.to_jsonb(v_free));
  end if;

  if not p_dry_run then
    update public.calls
       set status = 'failed', end_reason = 'never_placed',
           ended_at = pg_catalog.now(), updated_at = pg_catalog.now()
     where id = p_attempt_id;
    update public.phone_numbers
       set calls_today = greatest(calls_today - 1, 0), call_count = greatest(call_count - 1, 0), updated_at = pg_catalog.now()
     where phone_number = v_call.caller_id
       and calls_today_date = (v_call.created_at at time zone 'America/Sao_Paulo')::date;
  end if;
  return pg_catalog.jsonb_build_object('outcome', 'never_placed');
end;
$$;

revoke execute on function public.dial_attempt_candidates(integer, integer), public.resolve_dial_attempt(bigint, text[], text, boolean)
  from public, anon, authenticated;
grant execute on function public.dial_attempt_candidates(integer, integer), public.resolve_dial_attempt(bigint, text[], text, boolean)
  to service_role;
