-- The heartbeat's sweep of supervisors left in a room (docs/supervisor-actions.md): a monitor
-- whose customer is no longer the agent's live call is taken out of the room by the room's own
-- callbacks (supervisor_conference_event), but those are not retried by Twilio and a removal
-- can fail. /api/jobs asks for every such monitor past a grace period, deletes its participant
-- (by its label, which also reaches a leg still ringing) and marks the ones gone from the room.

-- Live monitors (dialing or joined) created more than p_grace_seconds ago whose customer is no
-- longer the agent's live call: [{monitor_id, conference_sid, participant}], oldest first, at
-- most p_limit.
create function public.supervisor_monitors_stale(p_grace_seconds integer, p_limit integer)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'monitor_id', x.id, 'conference_sid', x.conference_sid, 'participant', 'supervisor-' || x.id) order by x.id), '[]'::jsonb)
    from (select m.id, m.conference_sid
            from public.supervisor_monitors m
           where m.status <> 'ended'
             and m.created_at < public.app_now() - pg_catalog.make_interval(secs => greatest(coalesce(p_grace_seconds, 10), 0))
             and not public.supervisor_monitor_call_live(m)
           order by m.id
           limit greatest(1, least(coalesce(p_limit, 20), 100))) x;
$$;

-- The monitors the sweep took out of their room (deleted, or already gone: Twilio's 404): ended,
-- reason `swept`, unless something ended them meanwhile. Answers how many it ended.
create function public.supervisor_monitors_swept(p_ids bigint[])
returns integer
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  update public.supervisor_monitors m
     set status = 'ended', ended_at = public.app_now(), end_reason = 'swept'
   where m.id = any (coalesce(p_ids, '{}'::bigint[])) and m.status <> 'ended';
  get diagnostics n = row_count;
  return n;
end;
$$;

revoke execute on function
  public.supervisor_monitors_stale(integer, integer),
  public.supervisor_monitors_swept(bigint[])
  from public, anon, authenticated;
grant execute on function
  public.supervisor_monitors_stale(integer, integer),
  public.supervisor_monitors_swept(bigint[])
  to service_role;
