-- Demo data for the local stack (applied once, on a new database). Numbers are fictitious.
insert into public.agents (name, email, extension, phone_number, client_identity, status) values
  ('Ana Souza',   'ana@discador.local',   '101', '+5511990000001', 'ana',   'available'),
  ('Bruno Lima',  'bruno@discador.local', '102', '+5511990000002', 'bruno', 'offline'),
  ('Carla Dias',  'carla@discador.local', '103', '+5521990000003', null,    'offline');

-- Demo users (README): admin@discador.local / demo-admin, supervisor@discador.local /
-- demo-supervisor, ana@discador.local / demo-ana and bruno@discador.local / demo-bruno (agents,
-- linked to their agent rows). The hashes are written here directly (scrypt N=2^15 r=8 p=1,
-- the format src/lib/domain/auth/password.ts writes): these demo passwords are shorter than
-- the password policy's minimum, which applies to passwords set through `npm run agents`,
-- not to this local-only seed.
insert into public.users (email, name, role, agent_id, password_hash, password_changed_at) values
  ('admin@discador.local', 'Administração', 'admin', null,
   'scrypt$32768$8$1$2aMfDxSAyd0hSKPp1C8dMw==$wYa1uSzFZG6ZjgNCyRY2uv3EcedYXShZNrBmFIyJsNA=', now()),
  ('supervisor@discador.local', 'Supervisão', 'supervisor', null,
   'scrypt$32768$8$1$G8NvHGI4cJtpRc/weI3Jyw==$IROVwSQoXMvxocMXMh5+nM2AiyRfPyihXbEvffMmrJ4=', now()),
  ('ana@discador.local', 'Ana Souza', 'agent', (select id from public.agents where client_identity = 'ana'),
   'scrypt$32768$8$1$fvSnPSV6+w1pwybIwjuT1A==$S/1DmG/f3VLDQL1kaO8Ahc1vwBpj0UmYmMeB/1NQfXs=', now()),
  ('bruno@discador.local', 'Bruno Lima', 'agent', (select id from public.agents where client_identity = 'bruno'),
   'scrypt$32768$8$1$uILkOGqeEfQe0SC6IRnmIA==$vun9R0s75gUwDVyWhz9uX1frkMbd0FPlibe6Ys1UZhI=', now());

-- Agent DIDs (inbound goes straight to the agent) and the caller-ID pool.
insert into public.phone_numbers (phone_number, friendly_name, number_type, assigned_agent_id) values
  ('+551130001000', 'DID Ana',   'local', (select id from public.agents where client_identity = 'ana')),
  ('+551130001001', 'DID Bruno', 'local', (select id from public.agents where client_identity = 'bruno'));
insert into public.phone_numbers (phone_number, friendly_name, number_type) values
  ('+551130002000', 'Pool SP 1', 'local'),
  ('+551130002001', 'Pool SP 2', 'local'),
  ('+552130002002', 'Pool RJ 1', 'local');

insert into public.campaigns (name, kind, mode, status) values ('Cobrança demonstração', 'collections', 'power', 'paused');
insert into public.leads (campaign_id, phone_number, name, data) values
  ((select id from public.campaigns limit 1), '+5511987650001', 'Cliente Um',   '{"saldo": "1.250,00", "dias_atraso": 30}'),
  ((select id from public.campaigns limit 1), '+5511987650002', 'Cliente Dois', '{"saldo": "380,50", "dias_atraso": 12}'),
  ((select id from public.campaigns limit 1), '+5521987650003', 'Cliente Três', '{"saldo": "99,90", "dias_atraso": 45}');

insert into public.opt_outs (phone_number, reason, source) values ('+5511987650099', 'pediu para não ser contatado', 'manual');
