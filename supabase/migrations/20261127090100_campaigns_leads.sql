-- Campaigns and their leads: create and change a campaign's settings (validated here as
-- well as in TypeScript, src/lib/domain/campaigns.ts), start and pause it (refused without
-- agents or caller IDs), list and show it with its lead counts, import leads in batches
-- (a phone repeated in the campaign is one lead: its fields merged, the newest winning;
-- opted-out numbers marked), page through leads for the export, assign agents, and keep
-- the admin's calling holidays.
--
-- Refusals raise a stable code as the message's first word (`code: detail`), with SQLSTATE
--   DC400 the input is invalid           (invalid_settings, invalid_rows, invalid_holiday)
--   DC404 what it names does not exist   (campaign_not_found, agent_not_found, holiday_not_found)
--   DC409 the state does not allow it    (campaign_without_agents, campaign_without_numbers,
--                                         window_never_opens, campaign_finished, campaign_name_taken)
-- and TypeScript turns the code into words (campaignRefusal in src/lib/domain/campaigns.ts).

-- A custom calling window may keep weekdays closed (a weekend-only campaign): null hours = closed.
alter table public.campaigns alter column weekday_start drop not null;
alter table public.campaigns alter column weekday_end drop not null;

create index leads_campaign_id_idx on public.leads (campaign_id, id);

-- The lead field names of a campaign in the order its files had them (jsonb keeps no key
-- order): the export's columns follow it.
alter table public.campaigns add column lead_fields text[] not null default '{}';
-- A campaign's CPS share is whole calls per second (a round places whole calls within a
-- second: a fraction below 1 never dialed, above 1 acted as its whole part, which it becomes).
update public.campaigns set calls_per_second = greatest(1, pg_catalog.floor(calls_per_second))
 where calls_per_second <> pg_catalog.floor(calls_per_second) or calls_per_second < 1;
alter table public.campaigns add constraint campaigns_calls_per_second_whole
  check (calls_per_second >= 1 and calls_per_second = pg_catalog.floor(calls_per_second));
comment on column public.campaigns.lead_fields is 'Names of the lead fields (leads.data keys) in the order the imported files had them.';

-- ---------------------------------------------------------------------------------------
-- Settings

-- The settings a caller may give (the columns a campaign_create/update JSON may name).
create function public.campaign_setting_keys() returns text[]
language sql immutable
set search_path = ''
as $$
  select array['name', 'kind', 'mode', 'dial_ratio', 'pacing_behaviour', 'max_lines', 'abandon_cap', 'calls_per_second',
               'window_profile', 'weekday_start', 'weekday_end', 'saturday_start', 'saturday_end', 'allow_sunday',
               'sunday_start', 'sunday_end', 'skip_holidays', 'retry_rules', 'max_attempts', 'caller_id_strategy',
               'local_presence', 'amd_machine', 'amd_unknown', 'voicemail_audio', 'voicemail_text', 'amd_human_accuracy',
               'whisper_template', 'dispositions', 'abandon_treatment', 'company_name', 'disclaimer_seconds', 'ring_timeout']
$$;

-- Whether a day's hours open at all: both set and start before end.
create function public.campaign_day_opens(p_start time, p_end time) returns boolean
language sql immutable
set search_path = ''
as $$
  select p_start is not null and p_end is not null and p_start < p_end
$$;

-- The checks the column constraints cannot make: hours in pairs, a custom window that opens,
-- a voicemail to leave, the shapes of retry_rules and dispositions. Raises the first problem.
create function public.campaign_check(c public.campaigns) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  v_problem text;
begin
  if c.calls_per_second is null or c.calls_per_second < 1 or c.calls_per_second <> pg_catalog.floor(c.calls_per_second) then
    raise exception 'invalid_settings: calls_per_second must be a whole number of calls per second, at least 1' using errcode = 'DC400';
  end if;
  if (c.weekday_start is null) <> (c.weekday_end is null)
     or (c.saturday_start is null) <> (c.saturday_end is null)
     or (c.sunday_start is null) <> (c.sunday_end is null) then
    raise exception 'invalid_settings: a day''s start and end are given together' using errcode = 'DC400';
  end if;
  if (c.weekday_start is not null and c.weekday_start >= c.weekday_end)
     or (c.saturday_start is not null and c.saturday_start >= c.saturday_end)
     or (c.sunday_start is not null and c.sunday_start >= c.sunday_end) then
    raise exception 'invalid_settings: a day''s start must come before its end' using errcode = 'DC400';
  end if;
  if c.window_profile = 'custom'
     and not public.campaign_day_opens(c.weekday_start, c.weekday_end)
     and not public.campaign_day_opens(c.saturday_start, c.saturday_end)
     and not (c.allow_sunday and public.campaign_day_opens(c.sunday_start, c.sunday_end)) then
    raise exception 'window_never_opens: the custom calling window has no open hours on any day' using errcode = 'DC409';
  end if;
  if c.allow_sunday and c.window_profile = 'custom' and not public.campaign_day_opens(c.sunday_start, c.sunday_end) then
    raise exception 'invalid_settings: allow_sunday needs sunday_start and sunday_end' using errcode = 'DC400';
  end if;
  if c.amd_machine = 'voicemail' and c.voicemail_audio is null and c.voicemail_text is null then
    raise exception 'invalid_settings: amd_machine voicemail needs voicemail_audio or voicemail_text' using errcode = 'DC400';
  end if;
  if pg_catalog.jsonb_typeof(c.retry_rules) <> 'object' then
    raise exception 'invalid_settings: retry_rules must be an object' using errcode = 'DC400';
  end if;
  select pg_catalog.format('retry_rules.%s: %s', p.key, p.problem)
    into v_problem
    from (select r.key,
                 case when r.key <> all (array['busy', 'no_answer', 'machine', 'failed', 'abandoned']) then 'not an automatic outcome'
                      when pg_catalog.jsonb_typeof(r.value) <> 'object' then 'must be {delay_minutes, max}'
                      when exists (select 1 from pg_catalog.jsonb_object_keys(r.value) k where k not in ('delay_minutes', 'max')) then 'only delay_minutes and max'
                      when pg_catalog.jsonb_typeof(r.value -> 'delay_minutes') is distinct from 'number'
                        or (r.value ->> 'delay_minutes') !~ '^[0-9]+$'
                        or (r.value ->> 'delay_minutes')::numeric not between 1 and 43200 then 'delay_minutes must be a whole number from 1 to 43200'
                      when pg_catalog.jsonb_typeof(r.value -> 'max') is distinct from 'number'
                        or (r.value ->> 'max') !~ '^[0-9]+$'
                        or (r.value ->> 'max')::numeric not between 0 and 20 then 'max must be a whole number from 0 to 20'
                 end as problem
            from pg_catalog.jsonb_each(c.retry_rules) r) p
   where p.problem is not null
   limit 1;
  if v_problem is not null then
    raise exception 'invalid_settings: %', v_problem using errcode = 'DC400';
  end if;
  if c.dispositions is not null then
    if pg_catalog.jsonb_typeof(c.dispositions) <> 'array' or pg_catalog.jsonb_array_length(c.dispositions) not between 1 and 40 then
      raise exception 'invalid_settings: dispositions must be a list of 1 to 40 entries' using errcode = 'DC400';
    end if;
    select pg_catalog.format('dispositions[%s]: needs code ([a-z0-9_], 1-40), label (1-80 characters) and outcome done|retry|callback|opt_out', d.n - 1)
      into v_problem
      from pg_catalog.jsonb_array_elements(c.dispositions) with ordinality d(v, n)
     where pg_catalog.jsonb_typeof(d.v) <> 'object'
        or coalesce(d.v ->> 'code', '') !~ '^[a-z0-9_]{1,40}$'
        or pg_catalog.length(pg_catalog.btrim(coalesce(d.v ->> 'label', ''))) not between 1 and 80
        or coalesce(d.v ->> 'outcome', '') not in ('done', 'retry', 'callback', 'opt_out')
     order by d.n
     limit 1;
    if v_problem is not null then
      raise exception 'invalid_settings: %', v_problem using errcode = 'DC400';
    end if;
    if (select pg_catalog.count(distinct d.v ->> 'code') from pg_catalog.jsonb_array_elements(c.dispositions) d(v))
       <> pg_catalog.jsonb_array_length(c.dispositions) then
      raise exception 'invalid_settings: dispositions repeat a code' using errcode = 'DC400';
    end if;
  end if;
end;
$$;

-- A campaign as the API and CLI show it (without the pacer's lease).
create function public.campaign_json(c public.campaigns) returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.to_jsonb(c) - 'tick_lease_until' - 'tick_lease_owner'
$$;

-- Lead counts of a campaign: total and by status.
create function public.campaign_lead_counts(p_campaign_id bigint) returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
           'total', coalesce(pg_catalog.sum(n), 0),
           'by_status', coalesce(pg_catalog.jsonb_object_agg(status, n), '{}'::jsonb))
    from (select l.status, pg_catalog.count(*) as n from public.leads l where l.campaign_id = p_campaign_id group by l.status) s
$$;

-- Applies a settings JSON over a campaign row (unknown keys refused; retry_rules merged by
-- outcome), checks it, and writes it. Errors of the values' types and column checks become
-- invalid_settings.
create function public.campaign_apply(p_row public.campaigns, p_settings jsonb) returns public.campaigns
language plpgsql
set search_path = ''
as $$
declare
  v_unknown text;
  v public.campaigns;
begin
  if p_settings is null or pg_catalog.jsonb_typeof(p_settings) <> 'object' then
    raise exception 'invalid_settings: the settings must be a JSON object' using errcode = 'DC400';
  end if;
  select pg_catalog.string_agg(k, ', ') into v_unknown
    from pg_catalog.jsonb_object_keys(p_settings) k where k <> all (public.campaign_setting_keys());
  if v_unknown is not null then
    raise exception 'invalid_settings: unknown settings: %', v_unknown using errcode = 'DC400';
  end if;
  if p_settings ? 'name' and pg_catalog.length(pg_catalog.btrim(coalesce(p_settings ->> 'name', ''))) not between 1 and 100 then
    raise exception 'invalid_settings: name must have 1 to 100 characters' using errcode = 'DC400';
  end if;
  if p_settings ? 'retry_rules' and pg_catalog.jsonb_typeof(p_settings -> 'retry_rules') is distinct from 'object' then
    raise exception 'invalid_settings: retry_rules must be an object' using errcode = 'DC400';
  end if;
  begin
    v := pg_catalog.jsonb_populate_record(p_row, p_settings - 'retry_rules');
  exception when data_exception then
    raise exception 'invalid_settings: %', sqlerrm using errcode = 'DC400';
  end;
  v.name := pg_catalog.btrim(v.name);
  if p_settings ? 'retry_rules' then
    v.retry_rules := p_row.retry_rules || (p_settings -> 'retry_rules');
  end if;
  perform public.campaign_check(v);
  begin
    update public.campaigns c set
      (name, kind, mode, dial_ratio, pacing_behaviour, max_lines, abandon_cap, calls_per_second,
       window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday,
       sunday_start, sunday_end, skip_holidays, retry_rules, max_attempts, caller_id_strategy,
       local_presence, amd_machine, amd_unknown, voicemail_audio, voicemail_text, amd_human_accuracy,
       whisper_template, dispositions, abandon_treatment, company_name, disclaimer_seconds, ring_timeout,
       updated_at)
      = (v.name, v.kind, v.mode, v.dial_ratio, v.pacing_behaviour, v.max_lines, v.abandon_cap, v.calls_per_second,
         v.window_profile, v.weekday_start, v.weekday_end, v.saturday_start, v.saturday_end, v.allow_sunday,
         v.sunday_start, v.sunday_end, v.skip_holidays, v.retry_rules, v.max_attempts, v.caller_id_strategy,
         v.local_presence, v.amd_machine, v.amd_unknown, v.voicemail_audio, v.voicemail_text, v.amd_human_accuracy,
         v.whisper_template, v.dispositions, v.abandon_treatment, v.company_name, v.disclaimer_seconds, v.ring_timeout,
         public.app_now())
     where c.id = p_row.id
    returning c.* into v;
  exception
    when unique_violation then
      raise exception 'campaign_name_taken: a campaign named "%" already exists', v.name using errcode = 'DC409';
    when check_violation or not_null_violation or data_exception then
      raise exception 'invalid_settings: %', sqlerrm using errcode = 'DC400';
  end;
  -- Leads take the campaign's limit when imported; a new limit reaches those still on the old one.
  if v.max_attempts <> p_row.max_attempts then
    update public.leads l set max_attempts = v.max_attempts, updated_at = public.app_now()
     where l.campaign_id = v.id and l.max_attempts = p_row.max_attempts;
  end if;
  return v;
end;
$$;

-- Creates a campaign (status draft) from its settings; name is required, the rest default.
create function public.campaign_create(p_settings jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v public.campaigns;
  v_name text := pg_catalog.btrim(p_settings ->> 'name');
begin
  if p_settings is null or pg_catalog.jsonb_typeof(p_settings) <> 'object' then
    raise exception 'invalid_settings: the settings must be a JSON object' using errcode = 'DC400';
  end if;
  if coalesce(pg_catalog.length(v_name), 0) not between 1 and 100 then
    raise exception 'invalid_settings: name must have 1 to 100 characters' using errcode = 'DC400';
  end if;
  begin
    insert into public.campaigns (name) values (v_name) returning * into v;
  exception when unique_violation then
    raise exception 'campaign_name_taken: a campaign named "%" already exists', v_name using errcode = 'DC409';
  end;
  v := public.campaign_apply(v, p_settings);
  return public.campaign_json(v);
end;
$$;

-- Changes some settings of a campaign (the others stay). Running campaigns may be changed.
create function public.campaign_update(p_campaign_id bigint, p_settings jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v public.campaigns;
begin
  select * into v from public.campaigns c where c.id = p_campaign_id for update;
  if not found then
    raise exception 'campaign_not_found: no campaign %', p_campaign_id using errcode = 'DC404';
  end if;
  if v.status = 'finished' then
    raise exception 'campaign_finished: campaign % is finished', p_campaign_id using errcode = 'DC409';
  end if;
  v := public.campaign_apply(v, p_settings);
  return public.campaign_json(v);
end;
$$;

-- Starts (active), pauses or finishes a campaign. Starting needs an active agent assigned to it
-- and a usable caller ID in the pool (active, not dedicated to an agent, not spam-flagged); a
-- finished campaign stays finished. Returns the campaign, the status before, and whether it changed.
create function public.campaign_set_status(p_campaign_id bigint, p_status text) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v public.campaigns;
  v_before text;
begin
  if p_status is null or p_status not in ('active', 'paused', 'finished') then
    raise exception 'invalid_settings: status must be active, paused or finished' using errcode = 'DC400';
  end if;
  select * into v from public.campaigns c where c.id = p_campaign_id for update;
  if not found then
    raise exception 'campaign_not_found: no campaign %', p_campaign_id using errcode = 'DC404';
  end if;
  v_before := v.status;
  if v.status = 'finished' and p_status <> 'finished' then
    raise exception 'campaign_finished: campaign % is finished', p_campaign_id using errcode = 'DC409';
  end if;
  if p_status = 'active' then
    if not exists (select 1 from public.agents a where a.campaign_id = v.id and a.is_active) then
      raise exception 'campaign_without_agents: no active agent is assigned to campaign %', v.id using errcode = 'DC409';
    end if;
    if not exists (select 1 from public.phone_numbers n
                    where n.is_active and n.assigned_agent_id is null and n.spam_flagged_at is null) then
      raise exception 'campaign_without_numbers: the pool has no usable caller ID (active, not dedicated to an agent, not spam-flagged)'
        using errcode = 'DC409';
    end if;
    perform public.campaign_check(v);
  end if;
  if v.status <> p_status then
    update public.campaigns c
       set status = p_status,
           started_at = case when p_status = 'active' then coalesce(c.started_at, public.app_now()) else c.started_at end,
           tick_lease_until = case when p_status = 'active' then c.tick_lease_until end,
           tick_lease_owner = case when p_status = 'active' then c.tick_lease_owner end,
           updated_at = public.app_now()
     where c.id = v.id
    returning c.* into v;
  end if;
  return pg_catalog.jsonb_build_object('campaign', public.campaign_json(v), 'previous_status', v_before, 'changed', v_before <> p_status);
end;
$$;

-- Every campaign with its agents and lead counts, newest first.
create function public.campaign_list() returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(
           pg_catalog.jsonb_build_object(
             'id', c.id, 'name', c.name, 'kind', c.kind, 'mode', c.mode, 'status', c.status,
             'created_at', c.created_at, 'started_at', c.started_at,
             'agents', (select pg_catalog.count(*) from public.agents a where a.campaign_id = c.id and a.is_active),
             'leads', public.campaign_lead_counts(c.id))
           order by c.id desc), '[]'::jsonb)
    from public.campaigns c
$$;

-- One campaign (by id, or else by name): its settings, lead counts, agents and holidays.
create function public.campaign_show(p_campaign_id bigint default null, p_name text default null) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v public.campaigns;
begin
  if p_campaign_id is not null then
    select * into v from public.campaigns c where c.id = p_campaign_id;
  else
    select * into v from public.campaigns c where c.name = pg_catalog.btrim(p_name);
  end if;
  if not found then
    raise exception 'campaign_not_found: no campaign %', coalesce(p_campaign_id::text, pg_catalog.quote_literal(p_name)) using errcode = 'DC404';
  end if;
  return pg_catalog.jsonb_build_object(
    'campaign', public.campaign_json(v),
    'leads', public.campaign_lead_counts(v.id),
    'agents', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', a.id, 'name', a.name, 'email', coalesce(u.email, a.email), 'status', a.status) order by a.id)
                          from public.agents a left join public.users u on u.agent_id = a.id
                         where a.campaign_id = v.id and a.is_active), '[]'::jsonb),
    'usable_numbers', (select pg_catalog.count(*) from public.phone_numbers n
                        where n.is_active and n.assigned_agent_id is null and n.spam_flagged_at is null),
    'holidays', coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(h) order by h.day)
                            from public.calling_holidays h
                           where (h.campaign_id is null or h.campaign_id = v.id) and h.day >= (public.app_now() at time zone 'America/Sao_Paulo')::date),
                         '[]'::jsonb));
end;
$$;

-- ---------------------------------------------------------------------------------------
-- Leads

-- Imports one batch of leads into a campaign: rows [{phone_number (E.164), name?,
-- external_id?, data? (object), line?}]. A phone repeated in the batch or already in the
-- campaign is one lead: name and external_id take the newest non-empty value, data is
-- merged key by key with the newest value winning; the lead's status and attempts stay. A
-- number on the opt-out list is stored with status opted_out (a pending lead becomes
-- opted_out). New leads get ids in the rows' order. Any invalid row refuses the whole batch
-- (nothing written). p_fields: the file's field names in its column order (kept in
-- campaigns.lead_fields for the export).
create function public.leads_import_batch(p_campaign_id bigint, p_rows jsonb, p_fields text[] default null) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_campaign public.campaigns;
  v_problem text;
  v_received integer;
  v_distinct integer;
  v_inserted integer;
  v_updated integer;
  v_opted integer;
begin
  if p_rows is null or pg_catalog.jsonb_typeof(p_rows) <> 'array' then
    raise exception 'invalid_rows: the rows must be a JSON array' using errcode = 'DC400';
  end if;
  v_received := pg_catalog.jsonb_array_length(p_rows);
  if v_received > 10000 then
    raise exception 'invalid_rows: at most 10000 rows per batch, got %', v_received using errcode = 'DC400';
  end if;
  -- Key share: a status change waits for the batch; the pacer's lease updates do not.
  select * into v_campaign from public.campaigns c where c.id = p_campaign_id for key share;
  if not found then
    raise exception 'campaign_not_found: no campaign %', p_campaign_id using errcode = 'DC404';
  end if;
  if v_campaign.status = 'finished' then
    raise exception 'campaign_finished: campaign % is finished', p_campaign_id using errcode = 'DC409';
  end if;
  select pg_catalog.format('row %s: %s', p.n, p.problem)
    into v_problem
    from (select e.n,
                 case when pg_catalog.jsonb_typeof(e.v) <> 'object' then 'not an object'
                      when (e.v - array['phone_number', 'name', 'external_id', 'data', 'line']) <> '{}'::jsonb
                        then 'unknown key (phone_number, name, external_id, data, line)'
                      when pg_catalog.jsonb_typeof(e.v -> 'phone_number') is distinct from 'string'
                        or (e.v ->> 'phone_number') !~ '^\+[1-9][0-9]{7,14}$' then 'phone_number must be E.164'
                      when coalesce(pg_catalog.jsonb_typeof(e.v -> 'name'), 'null') not in ('string', 'null')
                        or pg_catalog.length(e.v ->> 'name') > 200 then 'name must be text of at most 200 characters'
                      when coalesce(pg_catalog.jsonb_typeof(e.v -> 'external_id'), 'null') not in ('string', 'null')
                        or pg_catalog.length(e.v ->> 'external_id') > 100 then 'external_id must be text of at most 100 characters'
                      when coalesce(pg_catalog.jsonb_typeof(e.v -> 'data'), 'null') not in ('object', 'null') then 'data must be an object'
                      when pg_catalog.pg_column_size(e.v -> 'data') > 16384 then 'data over 16 KiB'
                      when coalesce(pg_catalog.jsonb_typeof(e.v -> 'line'), 'null') not in ('number', 'null')
                        or (e.v ->> 'line') !~ '^[0-9]{1,9}$' then 'line must be a whole number'
                 end as problem
            from pg_catalog.jsonb_array_elements(p_rows) with ordinality e(v, n)) p
   where p.problem is not null
   order by p.n
   limit 1;
  if v_problem is not null then
    raise exception 'invalid_rows: %', v_problem using errcode = 'DC400';
  end if;

  with rows as (
    select e.n, e.v ->> 'phone_number' as phone,
           nullif(pg_catalog.btrim(e.v ->> 'name'), '') as name,
           nullif(pg_catalog.btrim(e.v ->> 'external_id'), '') as external_id,
           case when pg_catalog.jsonb_typeof(e.v -> 'data') = 'object' then e.v -> 'data' end as data,
           (e.v ->> 'line')::numeric::integer as line
      from pg_catalog.jsonb_array_elements(p_rows) with ordinality e(v, n)
  ), merged as (
    select r.phone,
           (pg_catalog.array_agg(r.name order by r.n desc) filter (where r.name is not null))[1] as name,
           (pg_catalog.array_agg(r.external_id order by r.n desc) filter (where r.external_id is not null))[1] as external_id,
           (pg_catalog.array_agg(r.line order by r.n desc))[1] as line,
           pg_catalog.min(r.n) as first_n,
           pg_catalog.count(*) as copies,
           (pg_catalog.array_agg(r.data))[1] as data
      from rows r group by r.phone
  ), fields as (
    -- A phone repeated in the batch: its rows' fields merged key by key (jsonb keeps the
    -- last value of a repeated key: the newest row's).
    select r.phone, pg_catalog.jsonb_object_agg(d.key, d.value order by r.n) as data
      from rows r
      join merged m on m.phone = r.phone and m.copies > 1
      cross join lateral pg_catalog.jsonb_each(r.data) d
     group by r.phone
  ), up as (
    insert into public.leads as l (campaign_id, phone_number, name, external_id, data, status, max_attempts, import_line)
    select p_campaign_id, m.phone, m.name, m.external_id, coalesce(case when m.copies > 1 then f.data else m.data end, '{}'::jsonb),
           case when exists (select 1 from public.opt_outs o where o.phone_number = m.phone) then 'opted_out' else 'pending' end,
           v_campaign.max_attempts, m.line
      from merged m left join fields f on f.phone = m.phone
     order by m.first_n  -- lead ids follow the file's order (the dialer takes equal leads by id)
    on conflict (campaign_id, phone_number) do update
       set name = coalesce(excluded.name, l.name),
           external_id = coalesce(excluded.external_id, l.external_id),
           data = l.data || excluded.data,
           import_line = coalesce(excluded.import_line, l.import_line),
           status = case when excluded.status = 'opted_out' and l.status in ('pending', 'previewing') then 'opted_out' else l.status end,
           updated_at = public.app_now()
    returning (l.xmax = 0) as inserted, l.status
  )
  select pg_catalog.count(*), pg_catalog.count(*) filter (where inserted), pg_catalog.count(*) filter (where not inserted),
         pg_catalog.count(*) filter (where status = 'opted_out')
    into v_distinct, v_inserted, v_updated, v_opted
    from up;
  if p_fields is not null and exists (select 1 from pg_catalog.unnest(p_fields) f where f <> all (v_campaign.lead_fields)) then
    update public.campaigns c
       set lead_fields = c.lead_fields || array(select f.name from pg_catalog.unnest(p_fields) with ordinality f(name, i)
                                                 where f.name <> all (c.lead_fields) and f.name is not null and pg_catalog.length(f.name) <= 200
                                                 order by f.i)
     where c.id = p_campaign_id;
  end if;
  return pg_catalog.jsonb_build_object('received', v_received, 'distinct', v_distinct, 'merged_in_batch', v_received - v_distinct,
                                       'inserted', v_inserted, 'updated', v_updated, 'opted_out', v_opted);
end;
$$;

-- The lead field names of a campaign (keys of leads.data): those of the imported files in
-- their column order, then any other key in the order it first appears.
create function public.leads_field_names(p_campaign_id bigint) returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(k.key order by k.pos nulls last, k.first_id, k.key), '[]'::jsonb)
    from (select d.key, pg_catalog.min(l.id) as first_id,
                 pg_catalog.array_position((select c.lead_fields from public.campaigns c where c.id = p_campaign_id), d.key) as pos
            from public.leads l cross join lateral pg_catalog.jsonb_object_keys(l.data) d(key)
           where l.campaign_id = p_campaign_id group by d.key) k
$$;

-- One page of a campaign's leads for the export, by id after p_after_id.
create function public.leads_export_page(p_campaign_id bigint, p_after_id bigint default 0, p_limit integer default 5000) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  if not exists (select 1 from public.campaigns c where c.id = p_campaign_id) then
    raise exception 'campaign_not_found: no campaign %', p_campaign_id using errcode = 'DC404';
  end if;
  return coalesce((
    select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'id', l.id, 'phone_number', l.phone_number, 'name', l.name, 'external_id', l.external_id,
             'status', l.status, 'attempts', l.attempts, 'outcome', l.outcome,
             'last_attempt_at', l.last_attempt_at, 'next_attempt_at', l.next_attempt_at, 'callback_at', l.callback_at,
             'data', l.data) order by l.id)
      from (select * from public.leads x
             where x.campaign_id = p_campaign_id and x.id > coalesce(p_after_id, 0)
             order by x.id limit least(greatest(coalesce(p_limit, 5000), 1), 10000)) l),
    '[]'::jsonb);
end;
$$;

-- ---------------------------------------------------------------------------------------
-- Agents and holidays

-- Puts the agent of a user (by e-mail, any casing) on a campaign, or back to inbound only
-- (p_campaign_id null). Returns the agent and the campaign before.
create function public.agent_set_campaign(p_email text, p_campaign_id bigint) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent_id bigint;
  v_before bigint;
  v_status text;
begin
  select a.id, a.campaign_id into v_agent_id, v_before
    from public.agents a left join public.users u on u.agent_id = a.id
   where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email))
      or pg_catalog.lower(a.email) = pg_catalog.lower(pg_catalog.btrim(p_email))
   order by (u.id is not null) desc
   limit 1
   for update of a;
  if v_agent_id is null then
    raise exception 'agent_not_found: no agent with e-mail %', p_email using errcode = 'DC404';
  end if;
  if p_campaign_id is not null then
    select c.status into v_status from public.campaigns c where c.id = p_campaign_id;
    if not found then
      raise exception 'campaign_not_found: no campaign %', p_campaign_id using errcode = 'DC404';
    end if;
    if v_status = 'finished' then
      raise exception 'campaign_finished: campaign % is finished', p_campaign_id using errcode = 'DC409';
    end if;
  end if;
  update public.agents a set campaign_id = p_campaign_id where a.id = v_agent_id;
  return pg_catalog.jsonb_build_object('agent_id', v_agent_id, 'email', pg_catalog.btrim(p_email),
                                       'campaign_id', p_campaign_id, 'previous_campaign_id', v_before,
                                       'changed', v_before is distinct from p_campaign_id);
end;
$$;

-- Adds a date on which leads are not called (everywhere, or in one state; for every
-- campaign, or one). Adding the same date again keeps the first entry.
create function public.calling_holiday_add(p_day date, p_name text, p_uf text default null, p_campaign_id bigint default null) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v public.calling_holidays;
  v_added boolean := true;
begin
  if p_day is null or pg_catalog.length(pg_catalog.btrim(coalesce(p_name, ''))) not between 1 and 100 then
    raise exception 'invalid_holiday: a day and a name of 1 to 100 characters are required' using errcode = 'DC400';
  end if;
  if p_uf is not null and p_uf <> all (array['AC', 'AL', 'AP', 'AM', 'BA', 'CE', 'DF', 'ES', 'GO', 'MA', 'MT', 'MS', 'MG', 'PA',
                                               'PB', 'PR', 'PE', 'PI', 'RJ', 'RN', 'RS', 'RO', 'RR', 'SC', 'SP', 'SE', 'TO']) then
    raise exception 'invalid_holiday: % is not a Brazilian state', p_uf using errcode = 'DC400';
  end if;
  if p_campaign_id is not null and not exists (select 1 from public.campaigns c where c.id = p_campaign_id) then
    raise exception 'campaign_not_found: no campaign %', p_campaign_id using errcode = 'DC404';
  end if;
  insert into public.calling_holidays (day, uf, campaign_id, name)
  values (p_day, p_uf, p_campaign_id, pg_catalog.btrim(p_name))
  on conflict (day, uf, campaign_id) do nothing
  returning * into v;
  if not found then
    v_added := false;
    select * into v from public.calling_holidays h
     where h.day = p_day and h.uf is not distinct from p_uf and h.campaign_id is not distinct from p_campaign_id;
  end if;
  return pg_catalog.jsonb_build_object('holiday', pg_catalog.to_jsonb(v), 'added', v_added);
end;
$$;

-- The admin's calling holidays (all, or those that apply to one campaign), by date.
create function public.calling_holiday_list(p_campaign_id bigint default null) returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(h) order by h.day, h.uf nulls first, h.id), '[]'::jsonb)
    from public.calling_holidays h
   where p_campaign_id is null or h.campaign_id is null or h.campaign_id = p_campaign_id
$$;

-- Removes one calling holiday by id.
create function public.calling_holiday_remove(p_id bigint) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v public.calling_holidays;
begin
  delete from public.calling_holidays h where h.id = p_id returning * into v;
  if not found then
    raise exception 'holiday_not_found: no calling holiday %', p_id using errcode = 'DC404';
  end if;
  return pg_catalog.jsonb_build_object('holiday', pg_catalog.to_jsonb(v), 'removed', true);
end;
$$;

revoke execute on function public.campaign_setting_keys(),
                          public.campaign_day_opens(time, time),
                          public.campaign_check(public.campaigns),
                          public.campaign_json(public.campaigns),
                          public.campaign_lead_counts(bigint),
                          public.campaign_apply(public.campaigns, jsonb),
                          public.campaign_create(jsonb),
                          public.campaign_update(bigint, jsonb),
                          public.campaign_set_status(bigint, text),
                          public.campaign_list(),
                          public.campaign_show(bigint, text),
                          public.leads_import_batch(bigint, jsonb, text[]),
                          public.leads_field_names(bigint),
                          public.leads_export_page(bigint, bigint, integer),
                          public.agent_set_campaign(text, bigint),
                          public.calling_holiday_add(date, text, text, bigint),
                          public.calling_holiday_list(bigint),
                          public.calling_holiday_remove(bigint)
  from public, anon, authenticated;
grant execute on function public.campaign_setting_keys(),
                          public.campaign_day_opens(time, time),
                          public.campaign_check(public.campaigns),
                          public.campaign_json(public.campaigns),
                          public.campaign_lead_counts(bigint),
                          public.campaign_apply(public.campaigns, jsonb),
                          public.campaign_create(jsonb),
                          public.campaign_update(bigint, jsonb),
                          public.campaign_set_status(bigint, text),
                          public.campaign_list(),
                          public.campaign_show(bigint, text),
                          public.leads_import_batch(bigint, jsonb, text[]),
                          public.leads_field_names(bigint),
                          public.leads_export_page(bigint, bigint, integer),
                          public.agent_set_campaign(text, bigint),
                          public.calling_holiday_add(date, text, text, bigint),
                          public.calling_holiday_list(bigint),
                          public.calling_holiday_remove(bigint)
  to service_role;
