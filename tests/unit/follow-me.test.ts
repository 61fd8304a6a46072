/**
 * Follow-me without a database: the routing decision, each hop's TwiML parsed, the ring-time
 * arithmetic (Twilio's 5-second buffer), the mobile's screening documents (only the verbs a
 * `<Number url>` document may hold), and the handlers' answers with the database down.
 */
import twilio from 'twilio';
import { handler as followMe } from '../../src/functions/voice/follow-me.protected';
import { handler as screen } from '../../src/functions/voice/screen.protected';
import { handler as transcription } from '../../src/functions/webhooks/transcription.protected';
import { handler as voicemail } from '../../src/functions/voice/voicemail.protected';
import {
  addFollowMeStep, dialTimeout, hopOutcome, nextStep, realRingSeconds, screenKeyTwiml, screenTwiml, type FollowMeChain,
} from '../../src/lib/domain/follow-me';
import { MESSAGES } from '../../src/lib/domain/messages';
import { inboundRoute } from '../../src/lib/domain/routing';
import { addVoicemail } from '../../src/lib/domain/twiml';
import { loadConfig } from '../../src/lib/runtime/config';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { find, parseTwiml, verbNames, type TwimlNode } from '../helpers/twiml';

const base = 'https://discador-1234-dev.twil.io';
const config = loadConfig({ SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_ROLE_KEY: 'k'.repeat(40), DOMAIN_NAME: 'discador-1234-dev.twil.io' });
const build = (f: (t: twilio.twiml.VoiceResponse) => void) => {
  const t = new twilio.twiml.VoiceResponse();
  f(t);
  return parseTwiml(t.toString());
};
const chain = (over: Partial<FollowMeChain> = {}): FollowMeChain => ({
  agent_id: 7,
  agent_name: 'Ana Souza',
  hops: [
    { kind: 'softphone', client: 'ana', seconds: 20 },
    { kind: 'mobile', number: '+5511990000001', seconds: 25 },
  ],
  final: { kind: 'voicemail' },
  ...over,
});
const call = {
  CallSid: 'CA' + '3'.repeat(32),
  AccountSid: 'AC0000000000000000000000000000d15c',
  From: '+5511987654321',
  To: '+551130001000',
  CallStatus: 'in-progress',
  Direction: 'inbound',
};
/** Verbs a `<Number url>` document may hold (twilio.com/docs/voice/twiml/number). */
const WHISPER_VERBS = ['Play', 'Say', 'Gather', 'Hangup'];

beforeAll(installRuntimeGlobals);
beforeEach(() => jest.spyOn(console, 'error').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());

describe('ring time: Twilio rings a Dial 5 s longer than its timeout', () => {
  it.each([
    [10, 5],
    [20, 15],
    [25, 20],
    [120, 115],
  ])('%i s configured → Dial timeout %i (rings %i + 5 s)', (seconds, timeout) => {
    expect(dialTimeout(seconds)).toBe(timeout);
    expect(realRingSeconds(dialTimeout(seconds))).toBe(seconds);
  });

  it("never goes under Twilio's minimum timeout (5) nor over its maximum (600)", () => {
    expect(dialTimeout(3)).toBe(5);
    expect(dialTimeout(9)).toBe(5);
    expect(dialTimeout(10_000)).toBe(600);
  });
});

describe('the chain', () => {
  it('goes softphone → mobile → final, skipping hops the agent lacks', () => {
    const c = chain();
    expect(nextStep(c)).toMatchObject({ kind: 'softphone' });
    expect(nextStep(c, 'softphone')).toMatchObject({ kind: 'mobile' });
    expect(nextStep(c, 'mobile')).toEqual({ kind: 'voicemail' });
    const mobileOnly = chain({ hops: [{ kind: 'mobile', number: '+5511990000001', seconds: 25 }], final: { kind: 'queue', queue: 'geral' } });
    expect(nextStep(mobileOnly)).toMatchObject({ kind: 'mobile' });
    expect(nextStep(mobileOnly, 'softphone')).toMatchObject({ kind: 'mobile' });
    expect(nextStep(chain({ hops: [] }))).toEqual({ kind: 'voicemail' });
  });

  it('hop 1: the softphone, its own timeout, and the action naming the hop', () => {
    const t = build((x) => addFollowMeStep(x, config, chain({ hops: [{ kind: 'softphone', client: 'ana', seconds: 12 }, { kind: 'mobile', number: '+5511990000001', seconds: 30 }] })));
    expect(verbNames(t)).toEqual(['Dial']);
    const dial = find(t, 'Dial')!;
    expect(dial.attrs).toMatchObject({ timeout: '7', action: `${base}/voice/follow-me?agent=7&hop=softphone`, method: 'POST', record: 'record-from-answer-dual' });
    expect(dial.children.map((c) => [c.name, c.text])).toEqual([['Client', 'ana']]);
  });

  it('hop 2: the mobile, screened by /voice/screen', () => {
    const t = build((x) => addFollowMeStep(x, config, chain(), 'softphone'));
    const dial = find(t, 'Dial')!;
    expect(dial.attrs).toMatchObject({ timeout: '20', action: `${base}/voice/follow-me?agent=7&hop=mobile` });
    expect(dial.children.map((c) => [c.name, c.text, c.attrs['url']])).toEqual([['Number', '+5511990000001', `${base}/voice/screen?agent=7`]]);
  });

  it("final hop: the agent's voicemail, recorded as theirs", () => {
    const t = build((x) => addFollowMeStep(x, config, chain(), 'mobile'));
    expect(verbNames(t)).toEqual(['Say', 'Record']);
    expect(find(t, 'Record')!.attrs).toMatchObject({
      playBeep: 'true', maxLength: '120', trim: 'trim-silence',
      recordingStatusCallback: `${base}/webhooks/recording?kind=voicemail&agent=7`,
    });
  });

  it('final hop: the service queue, by Redirect (no disclaimer again), marked as the agent\'s follow-me', () => {
    const t = build((x) => addFollowMeStep(x, config, chain({ final: { kind: 'queue', queue: 'cobranca-sp' } }), 'mobile'));
    expect(verbNames(t)).toEqual(['Redirect']);
    expect(find(t, 'Redirect')).toMatchObject({ text: `${base}/voice/queue?queue=cobranca-sp&agent=7`, attrs: { method: 'POST' } });
  });

  it.each([
    ['completed', 'answered'],
    ['answered', 'answered'],
    ['no-answer', 'no-answer'],
    ['busy', 'busy'],
    ['failed', 'failed'],
    ['canceled', 'canceled'],
    [undefined, 'no-answer'],
    ['strange', 'no-answer'],
  ])('DialCallStatus %p is the hop outcome %p', (status, outcome) => {
    expect(hopOutcome(status)).toBe(outcome);
  });
});

describe('the routing decision', () => {
  const agent = { id: 7, name: 'Ana', phone_number: '+5511990000001', client_identity: 'ana', status: 'offline' };
  it('follow-me with its chain; offer as before; an old database still works', () => {
    expect(inboundRoute({ opted_out: false, route: 'follow-me', agent, follow_me: chain() }, config)).toEqual({ kind: 'follow-me', chain: chain() });
    expect(inboundRoute({ opted_out: false, route: 'offer', agent }, config)).toEqual({ kind: 'offer', agentId: 7 });
    expect(inboundRoute({ opted_out: false, route: 'voicemail', agent }, config)).toEqual({ kind: 'voicemail', agentId: 7 });
    expect(inboundRoute({ opted_out: false, route: 'follow-me', agent, follow_me: null }, config)).toEqual({ kind: 'voicemail', agentId: 7 });
  });

  it('an opted-out caller keeps OPT_OUT_INBOUND before any follow-me', () => {
    const d = { opted_out: true, route: 'follow-me' as const, agent, follow_me: chain() };
    expect(inboundRoute(d, { ...config, OPT_OUT_INBOUND: 'reject' })).toEqual({ kind: 'reject' });
    expect(inboundRoute(d, { ...config, OPT_OUT_INBOUND: 'message' })).toEqual({ kind: 'opted-out-message' });
    expect(inboundRoute(d, { ...config, OPT_OUT_INBOUND: 'continue' })).toMatchObject({ kind: 'follow-me' });
  });
});

describe("the mobile's screening", () => {
  const allowed = (t: TwimlNode) => verbNames(t).every((v) => WHISPER_VERBS.includes(v));

  it('names the agent and asks for 1 inside one Gather; no key hangs up', () => {
    const t = parseTwiml(screenTwiml(config, 'Ana Souza', `${base}/voice/screen?agent=7&step=key`).toString());
    expect(allowed(t)).toBe(true);
    expect(verbNames(t)).toEqual(['Gather', 'Hangup']);
    const gather = find(t, 'Gather')!;
    expect(gather.attrs).toMatchObject({ numDigits: '1', action: `${base}/voice/screen?agent=7&step=key`, input: 'dtmf' });
    expect(gather.children[0]!.text).toBe('Ligação para Ana Souza; digite 1 para atender.');
  });

  it('1 connects (a word, then the document ends); another key hangs up', () => {
    const one = parseTwiml(screenKeyTwiml(config, '1').toString());
    expect(verbNames(one)).toEqual(['Say']);
    expect(one.children[0]!.text).toBe(MESSAGES.followMeConnecting);
    for (const k of ['2', '9', '*', '', undefined]) expect(verbNames(parseTwiml(screenKeyTwiml(config, k).toString()))).toEqual(['Hangup']);
  });
});

describe('with the database down', () => {
  it('/voice/follow-me after a hop: the agent\'s voicemail, never an error', async () => {
    const res = await invoke(followMe, makeContext({}), { ...call, agent: '7', hop: 'softphone', DialCallStatus: 'no-answer' });
    expect(res.status).toBe(200);
    const t = parseTwiml(res.body);
    expect(verbNames(t)).toEqual(['Say', 'Record']);
    expect(find(t, 'Record')!.attrs['recordingStatusCallback']).toBe(`${base}/webhooks/recording?kind=voicemail&agent=7`);
  });

  it('/voice/follow-me after an answered hop: the call ends', async () => {
    const res = await invoke(followMe, makeContext({}), { ...call, agent: '7', hop: 'mobile', DialCallStatus: 'completed' });
    expect(verbNames(parseTwiml(res.body))).toEqual(['Hangup']);
  });

  it('/voice/screen: the prompt without the name; the key still decides', async () => {
    const child = { ...call, CallSid: 'CA' + '4'.repeat(32), ParentCallSid: call.CallSid, Direction: 'outbound-dial' };
    const prompt = parseTwiml((await invoke(screen, makeContext({}), { ...child, agent: '7' })).body);
    expect(verbNames(prompt)).toEqual(['Gather', 'Hangup']);
    expect(find(prompt, 'Gather')!.children[0]!.text).toBe('Ligação de cliente; digite 1 para atender.');
    expect(verbNames(parseTwiml((await invoke(screen, makeContext({}), { ...child, agent: '7', step: 'key', Digits: '1' })).body))).toEqual(['Say']);
    expect(verbNames(parseTwiml((await invoke(screen, makeContext({}), { ...child, agent: '7', step: 'key', Digits: '3' })).body))).toEqual(['Hangup']);
  });

  it("/voice/voicemail?agent=<id> records the agent's voicemail", async () => {
    const res = await invoke(voicemail, makeContext({}), { ...call, agent: '7', DialCallStatus: 'no-answer' });
    expect(find(parseTwiml(res.body), 'Record')!.attrs['recordingStatusCallback']).toBe(`${base}/webhooks/recording?kind=voicemail&agent=7`);
  });
});

describe('voicemail transcription', () => {
  it('is off by default: no transcribe attribute', () => {
    const t = build((x) => addVoicemail(x, config, { agentId: 7 }));
    expect(find(t, 'Record')!.attrs['transcribe']).toBeUndefined();
  });

  it('VOICEMAIL_TRANSCRIBE=on asks Twilio for it, posted to /webhooks/transcription', () => {
    const t = build((x) => addVoicemail(x, { ...config, VOICEMAIL_TRANSCRIBE: 'on' }, { agentId: 7 }));
    expect(find(t, 'Record')!.attrs).toMatchObject({ transcribe: 'true', transcribeCallback: `${base}/webhooks/transcription` });
  });

  it('/webhooks/transcription refuses a malformed callback (400) before any write', async () => {
    const res = await invoke(transcription, makeContext({}), { RecordingSid: 'nope', TranscriptionStatus: 'completed', TranscriptionText: 'x' });
    expect(res.status).toBe(400);
    const res2 = await invoke(transcription, makeContext({}), { RecordingSid: 'RE' + 'a'.repeat(32), TranscriptionStatus: 'done' });
    expect(res2.status).toBe(400);
  });
});
