-- SQL hygiene: every function runs with an empty search_path, the hot foreign keys are
-- indexed, and the service role is the only API role holding any privilege.

-- An empty search_path: a function resolves only pg_catalog and the fully qualified names
-- it spells out, whatever the caller's search_path (no object planted in another schema can
-- be picked up). The bodies of these were already fully qualified.
create or replace function public.opt_outs_mark_leads() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.leads set status = 'opted_out'
   where phone_number = new.phone_number and status = 'pending';
  return null;
end;
$$;
alter function public.call_status_rank(text) set search_path = '';
alter function public.opt_out_remove(public.e164) set search_path = '';
alter function public.opt_out_check(public.e164) set search_path = '';
alter function public.sync_phone_numbers(text, jsonb) set search_path = '';

-- Foreign keys read when a lead's calls or a call's child legs are looked up.
create index if not exists calls_lead_idx on public.calls (lead_id) where lead_id is not null;
create index if not exists calls_parent_call_sid_idx on public.calls (parent_call_sid) where parent_call_sid is not null;

-- Privileges. The browser never talks to PostgREST directly: anon and authenticated hold
-- nothing (no table, column, sequence or function privilege, not even TRUNCATE, REFERENCES
-- or TRIGGER), and nothing created later in public gives them any. PUBLIC loses EXECUTE on
-- functions (it would reach anon through PUBLIC). service_role keeps what the functions use.
revoke all on all tables in schema public from anon, authenticated, public;
revoke all on all sequences in schema public from anon, authenticated, public;
revoke all on all functions in schema public from anon, authenticated, public;
grant select, insert, update, delete on all tables in schema public to service_role;
grant usage, select on all sequences in schema public to service_role;
grant execute on all functions in schema public to service_role;

alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;
-- EXECUTE for PUBLIC is a global default (a per-schema default cannot take it away).
alter default privileges revoke execute on functions from public;
alter default privileges in schema public grant select, insert, update, delete on tables to service_role;
alter default privileges in schema public grant usage, select on sequences to service_role;
alter default privileges in schema public grant execute on functions to service_role;
