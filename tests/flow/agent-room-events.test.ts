/**
 * An agent's room callbacks and call status callbacks applied late, twice or in any order:
 * a customer's join arriving after the call ended or after its leave, a previous customer's
 * late join while the agent is on the next call, the shift leg's own join after it ended, a
 * second tab's shift leg refused by the room, a participant who is nobody's customer, an agent
 * going offline while a customer waits for them, and every order (with repeats) of one call's
 * events ending in the same agent row and history. Runs its own stack with the emulator in
 * this process.
 */
import { randomBytes } from 'node:crypto';
import { agentRoomStack, type RoomAgent } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(180000);
let s: EmulatedStack;
// The TwiML App's stand-in: a number whose voice URL is /voice/agent-session, called from client:<identity>.
const SESSION_NUMBER = '+551130009991';

const { sql, agentWithLogin, until, api, history } = agentRoomStack({ speed: 5, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300096' }, (x) => (s = x));
type Agent = RoomAgent;

interface AgentRow {
  status: string;
  current_call_sid: string | null;
  shift_call_sid: string | null;
  room_conference_sid: string | null;
  wrap_up_seconds: number | null;
}
async function agentRow(id: number): Promise<AgentRow> {
  const [a] = await sql<AgentRow>(
    `select status, current_call_sid, shift_call_sid, room_conference_sid,
            extract(epoch from wrap_up_until - status_changed_at)::int as wrap_up_seconds
       from agents where id = $1`,
    [id],
  );
  return a!;
}
const newSid = () => 'CA' + randomBytes(16).toString('hex');
const CF = 'CF' + 'b'.repeat(32);
/** A room callback as /webhooks/conference hands it to the database. */
const conf = (agentId: number, event: string, call_sid: string, label: string | null, sequence_number: number | null = null) =>
  sql(`select apply_conference_event($1)`, [{ conference_name: `agent-${agentId}`, conference_sid: CF, event, call_sid, label, sequence_number, wrap_up_seconds: 30 }]);
/** A status callback as /webhooks/call-status hands it to the database. */
const status = (call_sid: string, call_status: string, sequence_number = 0) =>
  sql(`select apply_call_status($1)`, [{ call_sid, call_status, direction: 'inbound', sequence_number, wrap_up_seconds: 30, params: {} }]);
const busyOn = (agentId: number, sid: string) => sql(`select agent_transition($1, 'busy', null, 'agent', null, $2)`, [agentId, sid]);

describe('a late or repeated join', () => {
  it('after the call ended and left the room changes nothing: the agent stays in wrap-up and may go offline', async () => {
    const agent = await agentWithLogin();
    const c = newSid();
    await status(c, 'in-progress', 1);
    await busyOn(agent.id, c);
    await status(c, 'completed', 2);
    await conf(agent.id, 'participant-leave', c, `customer-${c}`, 5);
    await conf(agent.id, 'participant-join', c, `customer-${c}`, 3);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'wrap_up', current_call_sid: c, wrap_up_seconds: 30 });
    expect((await history(agent.id)).slice(-2)).toEqual([['busy', 'agent', c], ['wrap_up', 'system', c]]);
    await sql(`select agent_set_status($1, 'offline', null, null)`, [agent.id]);
    expect((await agentRow(agent.id)).status).toBe('offline');
  });

  it('after its leave (numbered before it), with the call not yet ended, changes nothing', async () => {
    const agent = await agentWithLogin();
    const c = newSid();
    await status(c, 'in-progress', 1);
    await busyOn(agent.id, c);
    await conf(agent.id, 'participant-leave', c, 'customer', 7);
    await conf(agent.id, 'participant-join', c, 'customer', 4);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'wrap_up', current_call_sid: c });
  });

  it("of the previous customer never takes the agent off the next customer's call", async () => {
    const agent = await agentWithLogin();
    const c1 = newSid();
    const c2 = newSid();
    await status(c1, 'in-progress', 1);
    await busyOn(agent.id, c1);
    await status(c1, 'completed', 2);
    await status(c2, 'in-progress', 1);
    await busyOn(agent.id, c2);
    await conf(agent.id, 'participant-join', c1, `customer-${c1}`, 2);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'busy', current_call_sid: c2 });
    await status(c2, 'completed', 2);
    await conf(agent.id, 'participant-leave', c2, `customer-${c2}`, 9);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'wrap_up', current_call_sid: c2 });
  });

  it('of another live customer while the agent is on a live call changes nothing', async () => {
    const agent = await agentWithLogin();
    const c1 = newSid();
    const c2 = newSid();
    await status(c1, 'in-progress', 1);
    await status(c2, 'in-progress', 1);
    await busyOn(agent.id, c2);
    await conf(agent.id, 'participant-join', c1, 'customer', 3);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'busy', current_call_sid: c2 });
  });
});

describe('the shift leg', () => {
  it('joining after it ended is never a customer', async () => {
    const agent = await agentWithLogin();
    const leg = newSid();
    await sql(`select agent_shift_started($1, $2)`, [agent.identity, leg]);
    await status(leg, 'completed', 3);
    await conf(agent.id, 'participant-join', leg, 'agent', 1);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'offline', current_call_sid: null, shift_call_sid: null });
  });

  it('labelled agent is never a customer, even when it is not the current shift leg', async () => {
    const agent = await agentWithLogin();
    const old = newSid();
    const current = newSid();
    await sql(`select agent_shift_started($1, $2)`, [agent.identity, old]);
    await sql(`select agent_shift_started($1, $2)`, [agent.identity, current]);
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    await conf(agent.id, 'participant-join', old, 'agent', 1);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', current_call_sid: null, shift_call_sid: current });
    // The old leg leaving does not end the current shift.
    await conf(agent.id, 'participant-leave', old, 'agent', 2);
    await status(old, 'completed', 3);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', shift_call_sid: current });
  });

  it("of a second tab, refused by the room, does not end the shift of the leg still in it", async () => {
    const agent = await agentWithLogin();
    const first = await s.emulator.placeInboundCall({ from: `client:${agent.identity}`, to: SESSION_NUMBER, party: { hangupAfter: 3000 } });
    await until('first shift leg in the room', async () => {
      const row = await agentRow(agent.id);
      return row.shift_call_sid === first && row.room_conference_sid ? true : undefined;
    });
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);

    const second = await s.emulator.placeInboundCall({ from: `client:${agent.identity}`, to: SESSION_NUMBER, party: { hangupAfter: 3000 } });
    await s.emulator.waitForCall(second);
    await until('second leg ended', async () => ((await sql(`select 1 from calls where call_sid = $1 and ended_at is not null`, [second])).length ? true : undefined));
    const room = s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}`);
    expect(room?.participants).toEqual([first]);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', shift_call_sid: first });

    await s.twilio.calls(first).update({ status: 'completed' });
    await until('offline', async () => ((await agentRow(agent.id)).status === 'offline' ? true : undefined));
    expect((await agentRow(agent.id)).shift_call_sid).toBeNull();
  });
});

describe('a participant who is not the agent’s customer', () => {
  it('joining and leaving changes nothing, whether the agent is free or on a call', async () => {
    const agent = await agentWithLogin();
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    const sup = newSid();
    await status(sup, 'in-progress', 1);
    await conf(agent.id, 'participant-join', sup, 'supervisor', 1);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', current_call_sid: null });

    const c = newSid();
    await status(c, 'in-progress', 1);
    await busyOn(agent.id, c);
    const sup2 = newSid();
    await status(sup2, 'in-progress', 1);
    await conf(agent.id, 'participant-join', sup2, null, 4);
    await conf(agent.id, 'participant-leave', sup2, null, 5);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'busy', current_call_sid: c });
  });
});

describe('an agent going offline while a customer waits for them', () => {
  it('sends the waiting customer to the voicemail at once', async () => {
    const agent = await agentWithLogin();
    const shift = await s.emulator.placeInboundCall({ from: `client:${agent.identity}`, to: SESSION_NUMBER, party: { hangupAfter: 3000 } });
    await until('shift leg recorded', async () => ((await agentRow(agent.id)).shift_call_sid === shift ? true : undefined));
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);

    const sid = await s.emulator.placeInboundCall({ from: newMobile(), to: agent.did, party: { hangupAfter: 60, record: { speakSeconds: 2, then: 'hangup' } } });
    await until('customer waiting', async () =>
      (await sql(`select 1 from call_events where call_sid = $1 and dedupe_key = 'queue:agent-wait'`, [sid])).length ? true : undefined,
    );
    const r = await api('/api/agent/status', agent.token, { status: 'offline' });
    expect(r.status).toBe(200);
    expect(r.json['agent']).toMatchObject({ status: 'offline' });
    expect(r.json['agent']).not.toHaveProperty('released_offer');

    await s.emulator.waitForCall(sid);
    const verbs = s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => e.verb);
    expect(verbs).toContain('Record');
    // Sent away by the agent's choice, not by the ring timeout's <Leave>.
    expect(verbs).not.toContain('Leave');
    expect(await agentRow(agent.id)).toMatchObject({ status: 'offline', current_call_sid: null });
  });
});

describe('every order of one call’s events', () => {
  /** A small deterministic generator, so a failing order can be replayed. */
  function rng(seed: number) {
    return () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
  }
  function permutations<T>(xs: T[]): T[][] {
    if (xs.length <= 1) return [xs];
    return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  }

  it('shift join, customer join, customer leave, customer completed, shuffled and repeated: the same agent row and history', async () => {
    type Ev = 'shift-join' | 'join' | 'leave' | 'completed';
    const orders = permutations<Ev>(['shift-join', 'join', 'leave', 'completed']);
    const rand = rng(8);
    // Each order once as it is and once with every event repeated at a random later point.
    const runs = orders.flatMap((o) => {
      const dup = [...o];
      for (const e of o) dup.splice(dup.indexOf(e) + 1 + Math.floor(rand() * (dup.length - dup.indexOf(e))), 0, e);
      return [o, dup];
    });
    const results = new Set<string>();
    for (const run of runs) {
      const agent = await agentWithLogin();
      const leg = newSid();
      const c = newSid();
      await sql(`select agent_shift_started($1, $2)`, [agent.identity, leg]);
      await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
      await status(leg, 'in-progress', 1);
      await status(c, 'in-progress', 1);
      await sql(`select agent_transition($1, 'reserved', null, 'system', null, $2)`, [agent.id, c]);
      await busyOn(agent.id, c); // the answer
      for (const e of run) {
        if (e === 'shift-join') await conf(agent.id, 'participant-join', leg, 'agent', 1);
        else if (e === 'join') await conf(agent.id, 'participant-join', c, `customer-${c}`, 2);
        else if (e === 'leave') await conf(agent.id, 'participant-leave', c, `customer-${c}`, 3);
        else await status(c, 'completed', 2);
      }
      const row = await agentRow(agent.id);
      const normal = {
        ...row,
        current_call_sid: row.current_call_sid === c ? 'C' : row.current_call_sid,
        shift_call_sid: row.shift_call_sid === leg ? 'L' : row.shift_call_sid,
      };
      const hist = (await history(agent.id)).map(([st, src, sid]) => [st, src, sid === c ? 'C' : sid]);
      const outcome = JSON.stringify({ normal, hist });
      if (!results.has(outcome) && results.size > 0) throw new Error(`order ${run.join(',')} ended differently: ${outcome} vs ${[...results][0]}`);
      results.add(outcome);
    }
    expect(results.size).toBe(1);
    const [only] = [...results];
    expect(JSON.parse(only!)).toEqual({
      normal: { status: 'wrap_up', current_call_sid: 'C', shift_call_sid: 'L', room_conference_sid: CF, wrap_up_seconds: 30 },
      hist: [
        ['available', 'agent', null],
        ['reserved', 'system', 'C'],
        ['busy', 'agent', 'C'],
        ['wrap_up', 'system', 'C'],
      ],
    });
  });
});
