/**
 * What the agent-room flow tests share: their own stack with the emulator in the test process,
 * a number standing in for the TwiML App (its voice URL is /voice/agent-session, called from
 * client:<identity>), and agents with a login, a live session and a number of their own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql as sqlAt } from './db';
import { startEmulatedStack, type EmulatedStack } from './emulated-stack';

/** An agent made for a test: its row id, softphone identity, own number and session token. */
export interface RoomAgent {
  id: number;
  identity: string;
  did: string;
  token: string;
}

export interface AgentRoomStack {
  sql<T = Record<string, unknown>>(q: string, p?: unknown[]): Promise<T[]>;
  /** The functions' base URL. */
  fb(): string;
  /** An agent with a login, a live session and a number of their own pointed at /voice/inbound. */
  agentWithLogin(): Promise<RoomAgent>;
  /** Polls until fn returns a value (not undefined). */
  until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
}

/**
 * Starts the stack before the file's tests and stops it after; `onStart` receives it. `didPrefix`
 * keeps each file's agent numbers apart (e.g. '+5511300095' → +551130009500, +551130009501…).
 */
export function agentRoomStack(
  opts: { speed: number; sessionNumber: string; didPrefix: string },
  onStart: (s: EmulatedStack) => void,
): AgentRoomStack {
  let s: EmulatedStack | undefined;
  let didSeq = 0;
  const stack = () => {
    if (!s) throw new Error('the stack is not started yet');
    return s;
  };
  const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack().stack.env.DATABASE_URL);
  const fb = () => stack().stack.env.FUNCTIONS_BASE_URL;

  beforeAll(async () => {
    s = await startEmulatedStack({ speed: opts.speed });
    s.emulator.addNumber({ phoneNumber: opts.sessionNumber, voiceUrl: `${fb()}/voice/agent-session`, statusCallback: `${fb()}/webhooks/call-status` });
    onStart(s);
  });
  afterAll(async () => s?.stop());

  return {
    sql,
    fb,
    async agentWithLogin() {
      const tag = randomBytes(5).toString('hex');
      const identity = `ag_${tag}`;
      const did = `${opts.didPrefix}${String(didSeq++).padStart(2, '0')}`;
      const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity, status) values ($1, $2, 'offline') returning id`, [`Agente ${tag}`, identity]);
      const id = Number(a!.id);
      const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, 'agent', $3) returning id`, [`${tag}@discador.test`, `Pessoa ${tag}`, id]);
      const token = randomBytes(32).toString('base64url');
      await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
      await sql(`insert into phone_numbers (phone_number, assigned_agent_id) values ($1, $2)`, [did, id]);
      stack().emulator.addNumber({ phoneNumber: did, voiceUrl: `${fb()}/voice/inbound`, statusCallback: `${fb()}/webhooks/call-status` });
      return { id, identity, did, token };
    },
    async until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
