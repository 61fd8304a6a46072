-- The opt-out list (the seed's "blacklist"): numbers that must never be dialed.
-- Numbers arrive already normalised to E.164 by src/lib/phone.ts; the e164 domain refuses
-- anything else. Sources record how the opt-out reached us (LGPD accountability).

create table public.opt_outs (
  phone_number public.e164 primary key,
  reason       text,
  source       text not null default 'manual'
                 check (source in ('manual', 'import', 'ivr', 'sms', 'whatsapp', 'api',
                                   'nao_me_perturbe', 'procon_sp')),
  created_by   text,
  created_at   timestamptz not null default now()
);
alter table public.opt_outs enable row level security;

-- Pending leads of an opted-out number will never be dialed; mark them so reports say why.
-- (The dialer does not rely on this: every outbound call checks opt_outs itself.)
create or replace function public.opt_outs_mark_leads() returns trigger
language plpgsql
as $$
begin
  update public.leads set status = 'opted_out'
   where phone_number = new.phone_number and status = 'pending';
  return null;
end;
$$;
create trigger opt_outs_mark_leads after insert on public.opt_outs
  for each row execute function public.opt_outs_mark_leads();

-- Add one number; adding it again keeps the first entry. Returns whether it was new.
create or replace function public.opt_out_add(
  p_phone public.e164, p_reason text default null, p_source text default 'manual', p_created_by text default null
) returns jsonb
language sql
as $$
  with ins as (
    insert into public.opt_outs (phone_number, reason, source, created_by)
    values (p_phone, p_reason, coalesce(p_source, 'manual'), p_created_by)
    on conflict (phone_number) do nothing
    returning phone_number
  )
  select jsonb_build_object('phone_number', p_phone, 'added', exists (select 1 from ins));
$$;

-- Remove one number. Returns whether it was on the list.
create or replace function public.opt_out_remove(p_phone public.e164) returns jsonb
language sql
as $$
  with del as (delete from public.opt_outs where phone_number = p_phone returning phone_number)
  select jsonb_build_object('phone_number', p_phone, 'removed', exists (select 1 from del));
$$;

-- Is this number opted out? Returns the entry or null.
create or replace function public.opt_out_check(p_phone public.e164) returns jsonb
language sql stable
as $$
  select coalesce(
    (select jsonb_build_object('phone_number', o.phone_number, 'opted_out', true, 'reason', o.reason,
                               'source', o.source, 'created_at', o.created_at)
       from public.opt_outs o where o.phone_number = p_phone),
    jsonb_build_object('phone_number', p_phone, 'opted_out', false));
$$;

-- Import many numbers at once (rows of {phone_number, reason}); already-listed numbers are
-- counted, not duplicated. Callers validate and normalise first and report bad lines.
create or replace function public.opt_out_import(p_rows jsonb, p_source text default 'import', p_created_by text default null)
returns jsonb
language plpgsql
as $$
declare
  v_total integer;
  v_added integer;
begin
  if jsonb_typeof(p_rows) <> 'array' then
    raise exception 'p_rows must be a JSON array' using errcode = '22023';
  end if;
  with rows as (
    -- A number repeated in the input keeps its first occurrence's reason.
    select distinct on (e.value->>'phone_number') (e.value->>'phone_number')::public.e164 as phone_number,
           e.value->>'reason' as reason
      from jsonb_array_elements(p_rows) with ordinality as e(value, n)
     order by e.value->>'phone_number', e.n
  ), ins as (
    insert into public.opt_outs (phone_number, reason, source, created_by)
    select phone_number, reason, coalesce(p_source, 'import'), p_created_by from rows
    on conflict (phone_number) do nothing
    returning 1
  )
  select (select count(*) from rows), (select count(*) from ins) into v_total, v_added;
  return jsonb_build_object('received', jsonb_array_length(p_rows), 'distinct', v_total,
                            'added', v_added, 'already_listed', v_total - v_added);
end;
$$;

revoke execute on function public.opt_out_add(public.e164, text, text, text),
                          public.opt_out_remove(public.e164),
                          public.opt_out_check(public.e164),
                          public.opt_out_import(jsonb, text, text)
  from public, anon, authenticated;
grant execute on function public.opt_out_add(public.e164, text, text, text),
                          public.opt_out_remove(public.e164),
                          public.opt_out_check(public.e164),
                          public.opt_out_import(jsonb, text, text)
  to service_role;
