/**
 * What the agent-room flow tests share: their own stack with the emulator in the test process,
 * a number standing in for the TwiML App (its voice URL is /voice/agent-session, called from
 * client:<identity>), and agents with a login, a live session and a number of their own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql as sqlAt } from './db';
import { startEmulatedStack, type EmulatedStack } from './emulated-stack';
import { newMobile } from './twilio';

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
  /** The agent's row as routing sees it. */
  agentRow(id: number): Promise<{ status: string; current_call_sid: string | null; shift_call_sid: string | null; wrap_up_until: Date | null }>;
  /** Waits until the agent is in `status`. */
  statusIs(id: number, status: string): Promise<true>;
  /** The agent's status history, oldest first: [status, source, call_sid]. */
  history(id: number): Promise<(readonly [string, string, string | null])[]>;
  /** The page's side: the softphone's shift leg joins the room; the agent goes available and polls. Returns the leg's CallSid. */
  startShift(agent: RoomAgent): Promise<string>;
  /** A POST to the functions with the agent's bearer token. */
  api(path: string, token: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Whether the emulator's leg `a` hears leg `b` now. */
  hears(a: string, b: string): boolean;
  /** An inbound customer talking to the agent in the agent's room (answered through the API), the join applied; answers its CallSid. */
  customerOnCall(agent: RoomAgent, party?: { hangupAfter: number }): Promise<string>;
  /** What a supervisor's leg must not change: the call, the agent, the room's legs, the agent's history. */
  roomSnapshot(agentId: number, callSid: string): Promise<Record<string, unknown>>;
  /** The supervisor action log of one user, oldest first. */
  supervisorLog(userId: string): Promise<{ action: string; target: string; result: string; role: string; user_email: string; address: string | null; detail: Record<string, unknown> }[]>;
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

  async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function agentRow(id: number) {
    const [a] = await sql<{ status: string; current_call_sid: string | null; shift_call_sid: string | null; wrap_up_until: Date | null }>(
      `select status, current_call_sid, shift_call_sid, wrap_up_until from agents where id = $1`,
      [id],
    );
    return a!;
  }

  const h: AgentRoomStack = {
    sql,
    fb,
    until,
    agentRow,
    statusIs: (id, status) => until(`agent ${id} ${status}`, async () => ((await agentRow(id)).status === status ? true : undefined)),
    history: async (id) =>
      (await sql<{ status: string; source: string; call_sid: string | null }>(`select status, source, call_sid from agent_status_history where agent_id = $1 order by id`, [id])).map(
        (r) => [r.status, r.source, r.call_sid] as const,
      ),
    async startShift(agent) {
      const sid = await stack().emulator.placeInboundCall({ from: `client:${agent.identity}`, to: opts.sessionNumber, party: { hangupAfter: 3000 } });
      await until('shift leg recorded', async () => ((await agentRow(agent.id)).shift_call_sid === sid ? true : undefined));
      await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
      await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);
      return sid;
    },
    async api(path, token, body) {
      const res = await fetch(`${fb()}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
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
    hears: (a, b) => stack().emulator.hears(a).has(b),
    async customerOnCall(agent, party = { hangupAfter: 200 }) {
      const sid = await stack().emulator.placeInboundCall({ from: newMobile('21'), to: agent.did, party });
      await until('offer', async () => ((await agentRow(agent.id)).current_call_sid === sid ? true : undefined));
      expect((await h.api('/api/agent/answer', agent.token, { call_sid: sid })).status).toBe(200);
      const shift = (await agentRow(agent.id)).shift_call_sid!;
      await until('customer and agent hear each other', async () => (h.hears(sid, shift) && h.hears(shift, sid) ? true : undefined));
      await h.statusIs(agent.id, 'busy');
      // The room's join callback applied too (the answer may make the agent busy before it arrives).
      await until('customer join applied', async () =>
        (await sql(`select 1 from agent_room_legs where agent_id = $1 and call_sid = $2 and joined_at is not null`, [agent.id, sid])).length ? true : undefined,
      );
      return sid;
    },
    roomSnapshot: async (agentId, callSid) => ({
      call: await sql(`select status, agent_id, answered_at, ended_at, duration, updated_at from calls where call_sid = $1`, [callSid]),
      agent: await sql(`select status, current_call_sid, shift_call_sid, room_conference_sid, status_changed_at, pause_reason from agents where id = $1`, [agentId]),
      legs: await sql(`select call_sid, label, joined_at, left_at from agent_room_legs where agent_id = $1 order by call_sid`, [agentId]),
      history: await h.history(agentId),
    }),
    supervisorLog: (userId) =>
      sql(`select action, target, result, role, user_email, address, detail from supervisor_actions where user_id = $1 order by id`, [userId]),
  };
  return h;
}
