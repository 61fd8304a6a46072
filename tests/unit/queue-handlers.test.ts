/**
 * The queue's voice URLs with the database down or parameters unusable: the caller always
 * hears something useful (the wait goes on, or the queue's voicemail, or the fallback number),
 * nobody is connected without the opt-out check, and nothing answers an error to Twilio.
 */
import { handler as service } from '../../src/functions/voice/service.protected';
import { handler as queue } from '../../src/functions/voice/queue.protected';
import { handler as wait } from '../../src/functions/voice/queue-wait.protected';
import { handler as key } from '../../src/functions/voice/queue-key.protected';
import { handler as result } from '../../src/functions/voice/queue-result.protected';
import { handler as menu } from '../../src/functions/voice/queue-menu.protected';
import { handler as connect } from '../../src/functions/voice/queue-connect.protected';
import { handler as whisper } from '../../src/functions/voice/queue-whisper.protected';
import { MESSAGES } from '../../src/lib/domain/messages';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { parseTwiml, verbNames } from '../helpers/twiml';

beforeAll(installRuntimeGlobals);
const SID = 'CA' + 'a'.repeat(32);
const ACCOUNT = 'AC0000000000000000000000000000d15c';
const call = { CallSid: SID, AccountSid: ACCOUNT, CallStatus: 'in-progress', Direction: 'inbound', From: '+5521987654321', To: '+551130001000' };
const base = 'https://discador-1234-dev.twil.io';

async function twiml(handler: Parameters<typeof invoke>[0], event: Record<string, unknown>, env: Record<string, string> = {}) {
  const r = await invoke(handler, makeContext(env), event);
  expect(r.status).toBe(200);
  return parseTwiml(r.body);
}

describe('with the database down', () => {
  it('/voice/service: disclaimer, then the fallback number, else the default queue’s voicemail', async () => {
    const withFallback = await twiml(service, call, { FALLBACK_NUMBER: '+5511955550000' });
    expect(verbNames(withFallback)).toEqual(['Play', 'Dial']);
    const without = await twiml(service, call);
    expect(verbNames(without)).toEqual(['Play', 'Say', 'Record']);
    expect(without.children[2]!.attrs['recordingStatusCallback']).toBe(`${base}/webhooks/recording?kind=voicemail&queue=geral`);
  });

  it('/voice/queue, /voice/queue-result, /voice/queue-menu: the queue’s voicemail', async () => {
    for (const [h, extra] of [[queue, {}], [result, { QueueResult: 'leave' }], [menu, { Digits: '1' }]] as const) {
      const t = await twiml(h, { ...call, queue: 'suporte', ...extra });
      expect(verbNames(t)).toEqual(['Say', 'Record']);
      expect(t.children[1]!.attrs['recordingStatusCallback']).toBe(`${base}/webhooks/recording?kind=voicemail&queue=suporte`);
    }
  });

  it('/voice/queue-result: a caller who hung up or was handed over gets nothing', async () => {
    for (const r of ['hangup', 'redirected', 'bridged']) expect(verbNames(await twiml(result, { ...call, queue: 'suporte', QueueResult: r }))).toEqual([]);
  });

  it('/voice/queue-connect: nobody is connected without the opt-out check: voicemail, or for a dialer call the apology', async () => {
    const inbound = await twiml(connect, { ...call, queue: 'suporte', agent: '7' });
    expect(verbNames(inbound)).toEqual(['Say', 'Record']);
    const outbound = await twiml(connect, { ...call, Direction: 'outbound-api', queue: 'suporte', agent: '7' });
    expect(outbound.children.map((c) => [c.name, c.text])).toEqual([['Say', MESSAGES.outboundUnverified], ['Hangup', '']]);
  });

  it('/voice/queue-key: leaves the queue (the action then takes a message)', async () => {
    expect(verbNames(await twiml(key, { ...call, Digits: '2' }))).toEqual(['Leave']);
  });

  it('/voice/queue-wait and /voice/queue-whisper need no database', async () => {
    const w = await twiml(wait, { ...call, QueuePosition: '2', QueueTime: '10', AvgQueueTime: '0', queue: 'suporte', every: '30', max: '300', vm: '2' });
    expect(verbNames(w)).toEqual(['Gather']);
    const say = await twiml(whisper, { queue: 'suporte', waited: '185' });
    expect(say.children.map((c) => c.text)).toEqual(['Cliente aguardando há 3 minutos, fila suporte.']);
    // A caller back after a failed hand-over: the URL's waited/ahead correct Twilio's restarted figures.
    const back = await twiml(wait, { ...call, QueuePosition: '5', QueueTime: '3', AvgQueueTime: '0', queue: 'suporte', every: '30', max: '300', vm: '2', waited: '120', ahead: '0' });
    expect(back.children[0]!.children[0]!.text).toMatch(/^Você é o próximo/);
    const over = await twiml(wait, { ...call, QueuePosition: '5', QueueTime: '3', AvgQueueTime: '0', queue: 'suporte', every: '30', max: '300', vm: '2', waited: '300' });
    expect(verbNames(over)).toEqual(['Leave']);
  });
});

describe('unusable parameters', () => {
  it('the wait document falls back to the defaults; a bad whisper query still says something sensible', async () => {
    const w = await twiml(wait, { ...call, QueuePosition: 'x', QueueTime: '-3', every: '1', max: 'abc', music: '../../etc/passwd', cb: '12' });
    const play = w.children[0]!.children.find((c) => c.name === 'Play')!;
    expect(play.text).toBe(`${base}/queue-music.wav`);
    expect(w.children[0]!.children[0]!.text).not.toContain('ligação de volta');
    const say = await twiml(whisper, { queue: 'NÃO', waited: '-1' });
    expect(say.children.map((c) => c.text)).toEqual(['Cliente aguardando há instantes, fila geral.']);
    const one = await twiml(whisper, { queue: 'geral', waited: '1' });
    expect(one.children.map((c) => c.text)).toEqual(['Cliente aguardando há 1 segundo, fila geral.']);
  });

  it('a request without a CallSid: the wait leaves, the key handler leaves, the others answer TwiML', async () => {
    expect(verbNames(await twiml(wait, {}))).toEqual(['Leave']);
    expect(verbNames(await twiml(key, { Digits: '1' }))).toEqual(['Leave']);
    expect((await invoke(queue, makeContext(), {})).status).toBe(200);
    expect((await invoke(connect, makeContext(), {})).status).toBe(200);
  });
});
