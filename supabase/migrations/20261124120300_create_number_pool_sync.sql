-- Keep phone_numbers in step with the numbers the Twilio account really owns
-- (scripts/numbers.ts sync). Numbers Twilio no longer lists are deactivated, never deleted:
-- calls and agents keep pointing at them.

-- p_numbers: [{sid, phone_number, friendly_name, number_type?}]. Returns counts.
create or replace function public.sync_phone_numbers(p_account_sid text, p_numbers jsonb) returns jsonb
language plpgsql
as $$
declare
  v_inserted integer;
  v_updated integer;
  v_deactivated integer;
begin
  if jsonb_typeof(p_numbers) <> 'array' then
    raise exception 'p_numbers must be a JSON array' using errcode = '22023';
  end if;
  if p_account_sid !~ '^AC[0-9a-f]{32}$' then
    raise exception 'invalid account sid %', p_account_sid using errcode = '22023';
  end if;

  with incoming as (
    select r.sid, r.phone_number::public.e164 as phone_number, r.friendly_name, r.number_type
      from jsonb_to_recordset(p_numbers) as r(sid text, phone_number text, friendly_name text, number_type text)
  ), upserted as (
    insert into public.phone_numbers as n (phone_number, twilio_sid, account_sid, friendly_name, number_type, is_active)
    select phone_number, sid, p_account_sid, friendly_name, number_type, true from incoming
    on conflict (phone_number) do update set
      twilio_sid    = excluded.twilio_sid,
      account_sid   = excluded.account_sid,
      friendly_name = coalesce(excluded.friendly_name, n.friendly_name),
      number_type   = coalesce(excluded.number_type, n.number_type),
      is_active     = true,
      updated_at    = now()
    returning (xmax = 0) as inserted
  )
  select count(*) filter (where inserted), count(*) filter (where not inserted)
    into v_inserted, v_updated from upserted;

  update public.phone_numbers n set is_active = false, updated_at = now()
   where n.account_sid = p_account_sid and n.is_active
     and not exists (select 1 from jsonb_array_elements(p_numbers) r where r->>'phone_number' = n.phone_number);
  get diagnostics v_deactivated = row_count;

  return jsonb_build_object('inserted', v_inserted, 'updated', v_updated, 'deactivated', v_deactivated);
end;
$$;

revoke execute on function public.sync_phone_numbers(text, jsonb) from public, anon, authenticated;
grant execute on function public.sync_phone_numbers(text, jsonb) to service_role;
