/**
 * An agent's calls through the Twilio emulator, the functions and the database: the shift leg
 * waiting in the agent's room, a call to the agent's own number offered, answered from the API
 * and heard both ways, the wrap-up when the customer leaves, an offer nobody answers, an agent
 * whose page went silent, click-to-call from the agent's own number (and refused for an
 * opted-out number), and hold; every connected customer leg recorded dual-channel. Runs its own
 * stack with the emulator in this process.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { probeAudio } from '../../emulator/audio';
import { s3Client } from '../../src/lib/runtime/s3';
import { agentRoomStack, type RoomAgent } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(120000);
let s: EmulatedStack;
// The TwiML App's stand-in: a number whose voice URL is /voice/agent-session, called from client:<identity>.
const SESSION_NUMBER = '+551130009990';

const { sql, fb, agentWithLogin, until, agentRow, statusIs, startShift, api, history } = agentRoomStack({ speed: 5, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300095' }, (x) => (s = x));
type Agent = RoomAgent;

const hearsEachOther = (a: string, b: string) => s.emulator.hears(a).has(b) && s.emulator.hears(b).has(a);
/**
 * The customer leg's own recording (Calls Recordings create, as Twilio documents it for a live
 * call): exactly one, source StartCallRecordingAPI, dual-channel with both tracks, started while
 * the connecting webhook (`connectPath`) ran, so before the customer joined the agent's room;
 * the shift leg is not recorded. Its status callbacks go to /webhooks/recording, which stores
 * them (204). It runs until the call ends, then is completed and its media has 2 channels.
 */
async function expectCustomerRecording(sid: string, agent: Agent, shift: string, connectPath: string): Promise<void> {
  const recs = s.emulator.recordings().filter((r) => r.callSid === sid);
  expect(recs.map((r) => [r.source, r.channels, r.track, r.status])).toEqual([['StartCallRecordingAPI', 2, 'both', 'completed']]);
  expect(s.emulator.recordings().some((r) => r.callSid === shift)).toBe(false);
  const rec = recs[0]!;
  const epoch = s.emulator.clock.epochMs;
  const connect = s.emulator.webhooks().find((w) => w.callSid === sid && w.url.startsWith(`${fb()}${connectPath}`));
  expect(connect).toBeDefined();
  expect(rec.startMs).toBeGreaterThanOrEqual(epoch + connect!.sentAt);
  expect(rec.startMs).toBeLessThanOrEqual(epoch + connect!.doneAt);
  const joined = s.emulator.timeline(sid).find((e) => e.type === 'conference' && e.text.startsWith(`joined conference agent-${agent.id} `));
  expect(joined).toBeDefined();
  expect(epoch + joined!.t).toBeGreaterThanOrEqual(rec.startMs);

  const callbacks = s.emulator.webhooks().filter((w) => w.purpose === 'recording' && w.params['RecordingSid'] === rec.sid);
  expect(callbacks.map((w) => [w.method, w.url, w.params['RecordingStatus'], w.status])).toEqual([
    ['POST', `${fb()}/webhooks/recording`, 'in-progress', 204],
    ['POST', `${fb()}/webhooks/recording`, 'completed', 204],
  ]);
  expect(callbacks[1]!.params).toMatchObject({ CallSid: sid, RecordingChannels: '2', RecordingSource: 'StartCallRecordingAPI', RecordingTrack: 'both', RecordingDuration: String(rec.durationS) });
  // It ran until the customer's call ended (a click-to-call hung up at once may last under a second).
  const ended = s.emulator.timeline(sid).find((e) => e.type === 'status' && e.status === 'completed');
  expect(ended).toBeDefined();
  expect(Math.abs(rec.durationS - (epoch + ended!.t - rec.startMs) / 1000)).toBeLessThanOrEqual(1);
  // The completed callback moved it to S3 (docs/recordings.md): verified there, then deleted from Twilio.
  expect(rec.deletedMs).toBeDefined();
  const [stored] = await sql<{ storage_status: string; s3_bucket: string; s3_key: string }>(`select storage_status, s3_bucket, s3_key from recordings where recording_sid = $1`, [rec.sid]);
  expect(stored!.storage_status).toBe('deleted_from_twilio');
  const e = s.stack.env;
  const obj = await s3Client({ S3_BUCKET: e.S3_BUCKET, S3_REGION: 'sa-east-1', S3_ENDPOINT: e.S3_ENDPOINT, S3_ACCESS_KEY_ID: e.S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: e.S3_SECRET_ACCESS_KEY })
    .send(new GetObjectCommand({ Bucket: stored!.s3_bucket, Key: stored!.s3_key }));
  const wav = Buffer.from(await obj.Body!.transformToByteArray());
  expect(probeAudio(wav)).toMatchObject({ format: 'wav', channels: 2 });
}

describe("the agent's shift leg", () => {
  it('joins the room agent-<id> and is recorded as the shift; an unknown identity is refused', async () => {
    const agent = await agentWithLogin();
    const sid = await startShift(agent);
    const room = s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}`);
    expect(room).toBeDefined();
    expect(room!.participants).toEqual([sid]);

    const stranger = await s.emulator.placeInboundCall({ from: 'client:nobody_here', to: SESSION_NUMBER });
    await s.emulator.waitForCall(stranger);
    const verbs = s.emulator.timeline(stranger).filter((e) => e.type === 'verb').map((e) => e.verb);
    expect(verbs).toEqual(['Say', 'Hangup']);
    expect(s.emulator.conferences().some((c) => c.participants.includes(stranger))).toBe(false);
  });

  it('ending the shift leg leaves the agent without a room: available becomes offline (system)', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    await s.twilio.calls(shift).update({ status: 'completed' });
    await s.emulator.waitForCall(shift);
    await statusIs(agent.id, 'offline');
    expect((await agentRow(agent.id)).shift_call_sid).toBeNull();
    expect((await history(agent.id)).slice(-1)).toEqual([['offline', 'system', null]]);
  });
});

describe("a call to the agent's own number", () => {
  it('is offered while the agent is routable, answered from the API, heard both ways, recorded dual-channel, then wrap-up', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const customer = newMobile('21');
    const sid = await s.emulator.placeInboundCall({ from: customer, to: agent.did, party: { hangupAfter: 45 } });

    // Offered: the agent is reserved for this customer, who waits in the agent's queue.
    await until('offer', async () => ((await agentRow(agent.id)).current_call_sid === sid ? true : undefined));
    expect((await agentRow(agent.id)).status).toBe('reserved');
    // Answered at once, while the customer still hears the disclaimer: the answer waits for the
    // customer to reach the queue, so the disclaimer is heard to its end.
    const answered = await api('/api/agent/answer', agent.token, { call_sid: sid });
    expect(answered).toEqual({ status: 200, json: { ok: true } });
    const verbs = s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => e.verb);
    expect(verbs.slice(0, 2)).toEqual(['Play', 'Enqueue']);
    await until('customer and agent hear each other', async () => (hearsEachOther(sid, shift) ? true : undefined));
    expect(await agentRow(agent.id)).toMatchObject({ status: 'busy', current_call_sid: sid });
    // The room's callbacks reach /webhooks/conference, signed, and are applied (204).
    const joined = await until('participant-join callback', async () =>
      s.emulator.webhooks().find((w) => w.url.startsWith(`${fb()}/webhooks/conference`) && w.params['StatusCallbackEvent'] === 'participant-join' && w.params['CallSid'] === sid),
    );
    expect(joined.status).toBe(204);
    expect(joined.params['FriendlyName']).toBe(`agent-${agent.id}`);
    const [row] = await sql('select direction, agent_id, from_number from calls where call_sid = $1', [sid]);
    expect(row).toEqual({ direction: 'inbound', agent_id: String(agent.id), from_number: customer });

    // A second answer of the same offer is refused: the offer is gone.
    expect((await api('/api/agent/answer', agent.token, { call_sid: sid })).json).toMatchObject({ error: 'offer_gone' });

    await s.emulator.waitForCall(sid);
    await expectCustomerRecording(sid, agent, shift, '/voice/connect?');
    await statusIs(agent.id, 'wrap_up');
    const after = await agentRow(agent.id);
    expect(after.current_call_sid).toBe(sid);
    expect(after.wrap_up_until).not.toBeNull();
    expect((await history(agent.id)).slice(-4)).toEqual([
      ['available', 'agent', null],
      ['reserved', 'system', sid],
      ['busy', 'agent', sid],
      ['wrap_up', 'system', sid],
    ]);
    // The shift leg is still in the room for the next customer.
    expect(s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}`)?.participants).toContain(shift);
  });

  it('not answered in time: voicemail, the agent available again, a missed call', async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const sid = await s.emulator.placeInboundCall({ from: newMobile(), to: agent.did, party: { hangupAfter: 60, record: { speakSeconds: 3, then: 'hangup' } } });
    await until('offer', async () => ((await agentRow(agent.id)).status === 'reserved' ? true : undefined));
    await s.emulator.waitForCall(sid);

    const verbs = s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => e.verb);
    expect(verbs).toEqual(expect.arrayContaining(['Enqueue', 'Leave', 'Record']));
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', current_call_sid: null });
    expect((await history(agent.id)).slice(-2)).toEqual([
      ['reserved', 'system', sid],
      ['available', 'system', null],
    ]);
    const state = await fetch(`${fb()}/api/agent/state`, { headers: { authorization: `Bearer ${agent.token}` } });
    const json = (await state.json()) as { missed: { call_sid: string }[] };
    expect(json.missed.map((m) => m.call_sid)).toContain(sid);
  });

  it('an agent whose page stopped polling is not offered the call: voicemail, never a queue', async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    await sql(`update agents set last_seen_at = now() - interval '1 hour' where id = $1`, [agent.id]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile(), to: agent.did, party: { hangupAfter: 60, record: { speakSeconds: 2, then: 'hangup' } } });
    await s.emulator.waitForCall(sid);
    const verbs = s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => e.verb);
    expect(verbs).toContain('Record');
    expect(verbs).not.toContain('Enqueue');
    expect(verbs).not.toContain('Dial');
    expect((await history(agent.id)).some(([status]) => status === 'reserved')).toBe(false);
  });
});

describe('click-to-call', () => {
  it("leaves from the agent's own number, joins the agent's room recorded dual-channel, and hold is heard as hold", async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 2, talkSeconds: 40 });
    const placed = await api('/api/agent/call', agent.token, { to: customer });
    expect(placed.status).toBe(200);
    const sid = placed.json['call_sid'] as string;
    expect(sid).toMatch(/^CA[0-9a-f]{32}$/);

    const [row] = await sql('select from_number, caller_id, to_number, agent_id, direction from calls where call_sid = $1', [sid]);
    expect(row).toEqual({ from_number: agent.did, caller_id: agent.did, to_number: customer, agent_id: String(agent.id), direction: 'outbound-api' });
    expect((await agentRow(agent.id)).status).toBe('reserved');

    await until('customer in the room', async () => (hearsEachOther(sid, shift) ? true : undefined), 30000);
    await statusIs(agent.id, 'busy');

    const held = await api('/api/agent/hold', agent.token, { call_sid: sid, hold: true });
    expect(held).toEqual({ status: 200, json: { ok: true } });
    await until('customer held', async () => (!s.emulator.hears(shift).has(sid) && !s.emulator.hears(sid).has(shift) ? true : undefined));
    expect((await api('/api/agent/hold', agent.token, { call_sid: sid, hold: false })).status).toBe(200);
    await until('customer back', async () => (hearsEachOther(sid, shift) ? true : undefined));

    expect(await api('/api/agent/hangup', agent.token, { call_sid: sid })).toEqual({ status: 200, json: { ok: true } });
    await s.emulator.waitForCall(sid);
    await expectCustomerRecording(sid, agent, shift, '/voice/outbound?step=connect');
    await statusIs(agent.id, 'wrap_up');
  });

  it('to an opted-out number: 409 opted_out and no call reaches the emulator', async () => {
    const agent = await agentWithLogin();
    const customer = newMobile();
    await sql(`select opt_out_add($1)`, [customer]);
    const before = s.emulator.calls().length;
    const refused = await api('/api/agent/call', agent.token, { to: customer });
    expect(refused.status).toBe(409);
    expect(refused.json['error']).toBe('opted_out');
    expect(s.emulator.calls().length).toBe(before);
    expect(await sql('select count(*)::int as n from calls where to_number = $1', [customer])).toEqual([{ n: 0 }]);
    expect((await agentRow(agent.id)).status).toBe('offline');
  });
});

describe('agent state on the database side', () => {
  const newSid = () => 'CA' + randomBytes(16).toString('hex');

  it('WRAP_UP_SECONDS=0: the customer leaving makes the agent available at once', async () => {
    const agent = await agentWithLogin();
    const sid = newSid();
    await sql(`select agent_transition($1, 'busy', null, 'system', null, $2)`, [agent.id, sid]);
    await sql(`select apply_call_status($1)`, [{ call_sid: sid, call_status: 'completed', direction: 'inbound', wrap_up_seconds: 0, params: {} }]);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'available', current_call_sid: null });
    // A repeat of the callback changes nothing more.
    await sql(`select apply_call_status($1)`, [{ call_sid: sid, call_status: 'completed', direction: 'inbound', wrap_up_seconds: 0, params: {} }]);
    expect((await history(agent.id)).slice(-2)).toEqual([['busy', 'system', sid], ['available', 'system', null]]);
  });

  it("another agent cannot answer an offer, hang up or hold a call that is not theirs; the offer stays", async () => {
    const a = await agentWithLogin();
    const b = await agentWithLogin();
    const sid = newSid();
    await sql(`select agent_transition($1, 'reserved', null, 'system', null, $2)`, [a.id, sid]);
    for (const [path, body] of [
      ['/api/agent/answer', { call_sid: sid }],
      ['/api/agent/hangup', { call_sid: sid }],
      ['/api/agent/hold', { call_sid: sid, hold: true }],
    ] as const) {
      const r = await api(path, b.token, body);
      expect([path, r.status]).toEqual([path, 409]);
    }
    expect(await agentRow(a.id)).toMatchObject({ status: 'reserved', current_call_sid: sid });
    expect((await agentRow(b.id)).status).toBe('offline');
  });

  it('callbacks of a conference that is not an agent room are acknowledged and change nothing', async () => {
    const [r] = await sql<{ r: { applied: boolean; reason: string } }>(`select apply_conference_event($1) as r`, [
      { conference_name: 'sala-1', conference_sid: 'CF' + '1'.repeat(32), event: 'participant-leave', call_sid: newSid() },
    ]);
    expect(r!.r).toEqual({ applied: false, reason: 'not_an_agent_room' });
  });
});
