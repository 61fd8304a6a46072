/** /voice/inbound on the real stack: disclaimer, agent routing, opt-out treatment, rows written. */
import { createAgentWithDid, env, sql, testDb } from '../helpers/db';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

const base = () => env('FUNCTIONS_BASE_URL');
const post = (p: Record<string, string>) => signedPost(`${base()}/voice/inbound`, p, env('TWILIO_AUTH_TOKEN'));
const did = () => `+5511300${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;

describe('inbound call', () => {
  it('plays the disclaimer, then starts the DID owner\'s follow-me at the softphone, and records the call', async () => {
    const number = did();
    const agentPhone = newMobile();
    const client = `agent${Date.now()}`;
    const agentId = await createAgentWithDid({ name: 'Teste', phone: agentPhone, client, did: number });
    const caller = newMobile('21');
    const p = voiceRequest({ CallSid: newCallSid(), From: caller, To: number }, env('TWILIO_ACCOUNT_SID'));

    const res = await post(p);
    expect(res.status).toBe(200);
    const twiml = parseTwiml(await res.text());
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(twiml.children[0]!.text).toBe(`${base()}/disclaimer.mp3`);
    const dial = find(twiml, 'Dial')!;
    expect(dial.attrs['action']).toBe(`${base()}/voice/follow-me?agent=${agentId}&hop=softphone`);
    expect(dial.attrs['timeout']).toBe('15'); // the default 20 s of ringing, less Twilio's 5 s buffer
    expect(dial.children.map((c) => [c.name, c.text])).toEqual([['Client', client]]);

    // The number's owner is kept apart; the call becomes an agent's only when one takes it.
    const [call] = await sql('select direction, from_number, to_number, status, agent_id, owner_agent_id, opted_out from calls where call_sid = $1', [p['CallSid']]);
    expect(call).toEqual({ direction: 'inbound', from_number: caller, to_number: number, status: 'ringing', agent_id: null, owner_agent_id: String(agentId), opted_out: false });
    const events = await sql('select kind, call_status, received_count from call_events where call_sid = $1', [p['CallSid']]);
    expect(events).toEqual([{ kind: 'voice', call_status: 'ringing', received_count: 1 }]);
  });

  it('a number nobody owns goes to the fallback number', async () => {
    const p = voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: did() }, env('TWILIO_ACCOUNT_SID'));
    const twiml = parseTwiml(await (await post(p)).text());
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(find(twiml, 'Number')!.text).toBe('+5511955550000');
  });

  it('an opted-out caller is served (OPT_OUT_INBOUND=continue) and the call is marked', async () => {
    const caller = newMobile();
    const db = testDb();
    expect((await db.rpc('opt_out_add', { p_phone: caller, p_reason: 'teste', p_source: 'manual' })).error).toBeNull();
    const p = voiceRequest({ CallSid: newCallSid(), From: caller, To: did() }, env('TWILIO_ACCOUNT_SID'));
    const twiml = parseTwiml(await (await post(p)).text());
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    const [call] = await sql('select opted_out from calls where call_sid = $1', [p['CallSid']]);
    expect(call).toEqual({ opted_out: true });
  });

  it("Twilio's retry of the same webhook leaves one call and counts the repeat", async () => {
    const p = voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: did() }, env('TWILIO_ACCOUNT_SID'));
    expect((await post(p)).status).toBe(200);
    expect((await post(p)).status).toBe(200);
    expect(await sql('select count(*)::int as n from calls where call_sid = $1', [p['CallSid']])).toEqual([{ n: 1 }]);
    expect(await sql('select received_count from call_events where call_sid = $1', [p['CallSid']])).toEqual([{ received_count: 2 }]);
  });

  it('a caller ID that is not a number is served and stored as Twilio sent it', async () => {
    const p = voiceRequest({ CallSid: newCallSid(), From: 'não é número', To: did() }, env('TWILIO_ACCOUNT_SID'));
    const res = await post(p);
    expect(res.status).toBe(200);
    expect(verbNames(parseTwiml(await res.text()))).toEqual(['Play', 'Dial']);
    expect(await sql('select from_number from calls where call_sid = $1', [p['CallSid']])).toEqual([{ from_number: 'não é número' }]);
  });
});
