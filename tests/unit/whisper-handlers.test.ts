/**
 * The campaign call handlers with the database down or the request unusable: the voice URLs
 * still answer TwiML (the whisper plays nothing, the voicemail drop hangs up, the connect step
 * apologises without connecting), the callbacks answer 400 for malformed parameters and 503 when
 * the database cannot be reached; never an error page to Twilio.
 */
import { handler as whisper } from '../../src/functions/voice/whisper.protected';
import { handler as drop } from '../../src/functions/voice/voicemail-drop.protected';
import { handler as outbound } from '../../src/functions/voice/outbound.protected';
import { handler as amd } from '../../src/functions/webhooks/amd.protected';
import { handler as recording } from '../../src/functions/webhooks/recording.protected';
import { MESSAGES } from '../../src/lib/domain/messages';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { parseTwiml } from '../helpers/twiml';

beforeAll(installRuntimeGlobals);
const SID = 'CA' + 'a'.repeat(32);
const ACCOUNT = 'AC0000000000000000000000000000d15c';

describe('voice URLs never fail the call', () => {
  it('/voice/whisper: without ?call= or with the database down, an empty document (nothing announced)', async () => {
    for (const event of [{}, { call: 'nope' }, { call: SID }]) {
      const r = await invoke(whisper, makeContext(), event);
      expect(r.status).toBe(200);
      expect(parseTwiml(r.body).children).toEqual([]);
    }
  });

  it('/voice/voicemail-drop with the database down: hangs up', async () => {
    const r = await invoke(drop, makeContext(), { CallSid: SID, AccountSid: ACCOUNT, CallStatus: 'in-progress', attempt: '7' });
    expect(r.status).toBe(200);
    expect(parseTwiml(r.body).children.map((c) => c.name)).toEqual(['Hangup']);
  });

  it('/voice/outbound?step=connect with the database down: the apology, never a connection', async () => {
    const r = await invoke(outbound, makeContext(), { CallSid: SID, AccountSid: ACCOUNT, CallStatus: 'in-progress', step: 'connect', attempt: '7' });
    const t = parseTwiml(r.body);
    expect(t.children.map((c) => [c.name, c.text])).toEqual([['Say', MESSAGES.outboundUnverified], ['Hangup', '']]);
  });
});

describe('callbacks', () => {
  it('/webhooks/amd: malformed CallSid → 400; database down → 503', async () => {
    expect((await invoke(amd, makeContext(), { CallSid: 'x', AnsweredBy: 'human' })).status).toBe(400);
    expect((await invoke(amd, makeContext(), { CallSid: SID, AccountSid: ACCOUNT, AnsweredBy: 'human', MachineDetectionDuration: '2400', attempt: '7' })).status).toBe(503);
  });

  it('/webhooks/recording: malformed → 400 naming the parameters; database down → 503', async () => {
    const bad = await invoke(recording, makeContext(), { CallSid: SID, RecordingSid: 'RE1', RecordingStatus: 'done' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/RecordingSid/);
    expect(bad.body).toMatch(/RecordingStatus/);
    const ok = { CallSid: SID, AccountSid: ACCOUNT, RecordingSid: 'RE' + 'b'.repeat(32), RecordingStatus: 'completed', RecordingChannels: '2', RecordingDuration: '3' };
    expect((await invoke(recording, makeContext(), ok)).status).toBe(503);
  });
});
