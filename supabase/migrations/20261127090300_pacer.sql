-- STAND-IN for the pacer's migration, only so the preview endpoint can be tested on this
-- branch: claim_leads with the agreed signature, implementing the preview claim alone (one
-- lead for one agent, in the agreed priority order: callbacks due — the agent's own first —,
-- then new leads, then retries due; opted-out numbers marked and skipped; closed DDDs and
-- leads at their attempt limits skipped). The pacer's real file replaces this one at merge.
create function public.claim_leads(
  p_campaign_id bigint, p_owner uuid, p_count integer, p_open_ddds smallint[],
  p_account_cps integer, p_preview_agent_id bigint default null
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_campaign public.campaigns;
  v_lead     public.leads;
  v_opted    integer := 0;
begin
  select * into v_campaign from public.campaigns where id = p_campaign_id;
  if p_preview_agent_id is null or v_campaign.id is null then
    return pg_catalog.jsonb_build_object('claimed', '[]'::jsonb, 'skipped', '{}'::jsonb);
  end if;
  loop
    select l.* into v_lead from public.leads l
     where l.campaign_id = p_campaign_id and l.status = 'pending'
       and l.ddd = any (p_open_ddds)
       and l.attempts < v_campaign.max_attempts and l.attempts < l.max_attempts
       and (l.callback_at is not null and l.callback_at <= public.app_now()
            or l.callback_at is null and (l.next_attempt_at is null or l.next_attempt_at <= public.app_now()))
     order by (l.callback_at is not null) desc,
              (l.callback_agent_id is not distinct from p_preview_agent_id) desc,
              (l.attempts = 0) desc, l.priority desc, l.id
     limit 1
     for update skip locked;
    exit when v_lead.id is null;
    perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(v_lead.phone_number));
    if exists (select 1 from public.opt_outs o where o.phone_number = v_lead.phone_number) then
      update public.leads set status = 'opted_out', outcome = 'opted_out', updated_at = public.app_now() where id = v_lead.id;
      v_opted := v_opted + 1;
      v_lead := null;
      continue;
    end if;
    update public.leads set status = 'previewing', preview_agent_id = p_preview_agent_id, updated_at = public.app_now()
     where id = v_lead.id;
    return pg_catalog.jsonb_build_object(
      'claimed', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'attempt_id', null, 'lead_id', v_lead.id, 'to', v_lead.phone_number, 'caller_id', null,
        'name', v_lead.name, 'fields', v_lead.data)),
      'skipped', pg_catalog.jsonb_build_object('opted_out', v_opted));
  end loop;
  return pg_catalog.jsonb_build_object('claimed', '[]'::jsonb, 'skipped', pg_catalog.jsonb_build_object('opted_out', v_opted));
end $$;
revoke execute on function public.claim_leads(bigint, uuid, integer, smallint[], integer, bigint) from public, anon, authenticated;
grant execute on function public.claim_leads(bigint, uuid, integer, smallint[], integer, bigint) to service_role;
