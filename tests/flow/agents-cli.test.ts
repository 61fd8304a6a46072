/**
 * `npm run agents` against the real database of the local stack (in-process, through the
 * same REST gateway the functions use), and what each change does to sign-in through the
 * real /api functions: a new user can sign in, a password change or a disable or a role
 * change ends their sessions, a dedicated number shows on /api/me.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Env, Io } from '../../scripts/lib/cli';
import { run, type PasswordInput } from '../../scripts/agents';
import { verifyPassword } from '../../src/lib/domain/auth/password';
import { env, sql } from '../helpers/db';
import { callApi, freshAddress, signIn } from '../helpers/api-client';

jest.setTimeout(60000);

function stdin(text: string): PasswordInput {
  const stream = new PassThrough();
  stream.end(text);
  return { stream, prompt: () => undefined };
}

async function agents(argv: string[], password = '') {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const cliEnv: Env = { SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY') };
  const code = await run(argv, cliEnv, io, stdin(password));
  const text = out.join('\n');
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { code, out: text, err: err.join('\n'), json: json as any };
}

const newEmail = () => `cli-${randomUUID().slice(0, 8)}@empresa.test`;
const PASSWORD = 'cadeira azul do escritório';

test('add creates the user and its agents row with a scrypt hash; the user signs in with that password', async () => {
  const email = newEmail();
  const r = await agents(['add', email, '--name', 'Maria Souza', '--phone', '11987654321', '--password-stdin', '--json'], PASSWORD + '\n');
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ user: { email, name: 'Maria Souza', role: 'agent' }, agent_created: true });
  const [row] = await sql<{ password_hash: string; agent_name: string; phone_number: string; client_identity: string; status: string }>(
    `select u.password_hash, a.name as agent_name, a.phone_number, a.client_identity, a.status
       from users u join agents a on a.id = u.agent_id where u.email = $1`,
    [email],
  );
  expect(row).toMatchObject({ agent_name: 'Maria Souza', phone_number: '+5511987654321', client_identity: email.split('@')[0], status: 'offline' });
  expect(row!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
  expect(await verifyPassword(PASSWORD, row!.password_hash)).toBe(true);
  const me = await callApi('/api/me', { token: await signIn(email, PASSWORD, freshAddress()) });
  expect(me.json.agent).toMatchObject({ name: 'Maria Souza', status: 'offline' });

  // The same e-mail again, in another casing: refused, nothing added.
  const again = await agents(['add', email.toUpperCase(), '--name', 'Outra', '--password-stdin'], PASSWORD);
  expect(again.code).toBe(1);
  expect(again.err).toContain('exists');
  expect(await sql('select count(*)::int as n from users where lower(email) = $1', [email])).toEqual([{ n: 1 }]);
});

test('add --role supervisor creates no agents row; add links an existing agents row with the same e-mail', async () => {
  const sup = newEmail();
  expect((await agents(['add', sup, '--name', 'Sup', '--role', 'supervisor', '--password-stdin'], PASSWORD)).code).toBe(0);
  expect(await sql('select role, agent_id from users where email = $1', [sup])).toEqual([{ role: 'supervisor', agent_id: null }]);

  const email = newEmail();
  const [agent] = await sql<{ id: string }>(`insert into agents (name, email) values ('Já Existe', $1) returning id`, [email]);
  const r = await agents(['add', email, '--name', 'Já Existe', '--password-stdin', '--json'], PASSWORD);
  expect(r.json).toMatchObject({ agent_id: Number(agent!.id), agent_created: false });
});

test('list shows users with role, state, numbers and open sessions', async () => {
  const r = await agents(['list', '--json']);
  expect(r.code).toBe(0);
  const ana = r.json.users.find((u: { email: string }) => u.email === 'ana@discador.local');
  expect(ana).toMatchObject({ role: 'agent', active: true, client_identity: 'ana', numbers: ['+551130001000'] });
  expect(typeof ana.open_sessions).toBe('number');
  const human = await agents(['list']);
  expect(human.out).toMatch(/supervisor@discador\.local\s+supervisor\s+active/);
});

test('set-password changes the hash, ends every session and lifts the lockout; a weak one changes nothing', async () => {
  const email = newEmail();
  await agents(['add', email, '--name', 'Troca', '--password-stdin'], PASSWORD);
  const token = await signIn(email, PASSWORD, freshAddress());
  for (let i = 0; i < 5; i++) await callApi('/api/login', { body: { email, password: `errada ${i}` }, from: freshAddress() });
  const [before] = await sql<{ password_hash: string }>('select password_hash from users where email = $1', [email]);

  const weak = await agents(['set-password', email, '--password-stdin'], 'senha12345');
  expect(weak.code).toBe(2);
  expect(await sql('select password_hash from users where email = $1', [email])).toEqual([before]);
  expect((await callApi('/api/me', { token })).status).toBe(200);

  const r = await agents(['set-password', email, '--password-stdin', '--json'], 'nova frase bem comprida\n');
  expect(r.code).toBe(0);
  expect(r.json.sessions_revoked).toBe(1);
  expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
  expect(await sql('select revoked_reason from sessions s join users u on u.id = s.user_id where u.email = $1', [email])).toEqual([{ revoked_reason: 'password_changed' }]);
  expect(await sql('select 1 from login_throttle where key = $1', [`user:${email}`])).toEqual([]);
  await signIn(email, 'nova frase bem comprida', freshAddress());
});

test('disable ends sessions, refuses sign-in and takes an available agent offline with history', async () => {
  const email = newEmail();
  const added = await agents(['add', email, '--name', 'Sai', '--password-stdin', '--json'], PASSWORD);
  const agentId = added.json.agent_id as number;
  await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agentId]);
  const token = await signIn(email, PASSWORD, freshAddress());
  const r = await agents(['disable', email, '--json']);
  expect(r.json).toMatchObject({ sessions_revoked: 1, already_disabled: false });
  expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
  expect((await callApi('/api/login', { body: { email, password: PASSWORD }, from: freshAddress() })).json.error).toBe('invalid_credentials');
  expect(await sql('select status, is_active from agents where id = $1', [agentId])).toEqual([{ status: 'offline', is_active: false }]);
  expect(await sql(`select status, source from agent_status_history where agent_id = $1 and ended_at is null`, [agentId])).toEqual([{ status: 'offline', source: 'system' }]);
  expect((await agents(['disable', email])).out).toContain('already disabled');
});

test('assign-number dedicates a pool number; another agent\'s number and unknown numbers are refused', async () => {
  const email = newEmail();
  await agents(['add', email, '--name', 'Com Número', '--password-stdin'], PASSWORD);
  const number = `+5511300${String(Math.floor(Math.random() * 100000)).padStart(5, '0')}`;
  await sql(`insert into phone_numbers (phone_number, number_type) values ($1, 'local')`, [number]);
  const r = await agents(['assign-number', email, number, '--json']);
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ phone_number: number, changed: true });
  const [owner] = await sql<{ agent: string; user_agent: string }>(
    `select n.assigned_agent_id::text as agent, u.agent_id::text as user_agent from phone_numbers n, users u where n.phone_number = $1 and u.email = $2`,
    [number, email],
  );
  expect(owner!.agent).toBe(owner!.user_agent);
  const me = await callApi('/api/me', { token: await signIn(email, PASSWORD, freshAddress()) });
  expect(me.json.agent.phone_number).toBe(number);

  const taken = await agents(['assign-number', email, '+551130001000']);
  expect(taken.code).toBe(1);
  expect(taken.err).toContain('belongs to agent');
  const unknown = await agents(['assign-number', email, '+551130009998']);
  expect(unknown.code).toBe(1);
  expect(unknown.err).toContain('not in the pool');
  const notAgent = await agents(['assign-number', 'supervisor@discador.local', number]);
  expect(notAgent.err).toContain('not an agent');
  const nobody = await agents(['assign-number', newEmail(), number]);
  expect(nobody.err).toContain('no user');
});

test('set-role ends sessions; becoming an agent creates the agents row', async () => {
  const email = newEmail();
  await agents(['add', email, '--name', 'Promovida', '--role', 'supervisor', '--password-stdin'], PASSWORD);
  const token = await signIn(email, PASSWORD, freshAddress());
  const r = await agents(['set-role', email, 'agent', '--json']);
  expect(r.json).toMatchObject({ changed: true, sessions_revoked: 1, user: { role: 'agent' } });
  expect(r.json.user.agent_id).toEqual(expect.any(Number));
  expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
  expect((await agents(['set-role', email, 'agent'])).out).toContain('already agent');
});
