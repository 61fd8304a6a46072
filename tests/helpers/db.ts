import { Client } from 'pg';
import { createDb, type Db } from '../../src/lib/runtime/db';

/** Environment variable set by the flow global setup (fails loudly when missing). */
export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: flow tests run under tests/flow/global-setup.ts`);
  return v;
}

/** The functions' database client through the local REST gateway, as the functions use it. */
export function testDb(): Db {
  return createDb({ url: env('SUPABASE_URL'), serviceRoleKey: env('SUPABASE_SERVICE_ROLE_KEY'), timeoutMs: 5000 });
}

/** Runs SQL directly (fixtures and assertions). */
export async function sql<T = Record<string, unknown>>(query: string, params: unknown[] = [], url = env('DATABASE_URL')): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(query, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** A connection of its own (a transaction to interleave with another), and its backend pid. */
export async function session(url = env('DATABASE_URL')): Promise<{ client: Client; pid: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  return { client, pid };
}

/** Resolves once backend `pid` waits for a lock (what "B waits for A" looks like in Postgres). */
export async function waitUntilBlocked(pid: number, url = env('DATABASE_URL'), timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await sql<{ waiting: boolean }>(`select exists (select 1 from pg_locks where pid = $1 and not granted) as waiting`, [pid], url);
    if (row!.waiting) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`backend ${pid} never waited for a lock`);
}

/** Inserts an agent with a dedicated DID; returns its id. */
export async function createAgentWithDid(agent: { name: string; phone: string | null; client: string | null; did: string }): Promise<number> {
  const [row] = await sql<{ id: number }>(
    `with a as (insert into agents (name, phone_number, client_identity, status) values ($1, $2, $3, 'available') returning id)
     insert into phone_numbers (phone_number, assigned_agent_id) select $4, id from a returning assigned_agent_id as id`,
    [agent.name, agent.phone, agent.client, agent.did],
  );
  return Number(row!.id);
}
