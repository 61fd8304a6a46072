-- Demo data for the local stack (applied once, on a new database). Numbers are fictitious.
insert into public.agents (name, email, extension, phone_number, client_identity, status) values
  ('Ana Souza',   'ana@discador.local',   '101', '+5511990000001', 'ana',   'available'),
  ('Bruno Lima',  'bruno@discador.local', '102', '+5511990000002', 'bruno', 'offline'),
  ('Carla Dias',  'carla@discador.local', '103', '+5521990000003', null,    'offline');

insert into public.users (email, name, role, agent_id) values
  ('admin@discador.local', 'Administração', 'admin', null),
  ('ana@discador.local', 'Ana Souza', 'agent', (select id from public.agents where client_identity = 'ana'));

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
  ((select id from public.campaigns limit 1), '+5511987650001', 'Cliente Um',   '{"saldo": "1250.00", "dias_atraso": 30}'),
  ((select id from public.campaigns limit 1), '+5511987650002', 'Cliente Dois', '{"saldo": "380.50", "dias_atraso": 12}'),
  ((select id from public.campaigns limit 1), '+5521987650003', 'Cliente Três', '{"saldo": "99.90", "dias_atraso": 45}');

insert into public.opt_outs (phone_number, reason, source) values ('+5511987650099', 'pediu para não ser contatado', 'manual');
