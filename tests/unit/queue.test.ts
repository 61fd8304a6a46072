/**
 * The overflow queue's TwiML and figures, parsed (never matched as strings): the wait document
 * (announcement, music up to the next announcement within the max wait, one-digit Gather, only
 * verbs a waitUrl may hold, <Leave> at the max wait), the estimate, the spoken waits, the
 * Enqueue and what follows the wait, and the URLs' parameters.
 */
import { ALLOWED_VERBS } from '../../emulator/voice/engine';
import {
  addEnqueue,
  announcementText,
  callIsGone,
  estimateWaitSeconds,
  leaveTwiml,
  queueWhisperUrl,
  spokenEstimate,
  spokenWaited,
  waitTwiml,
  type WaitSettings,
} from '../../src/lib/domain/queue';
import { loadConfig } from '../../src/lib/runtime/config';
import twilio from 'twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

const config = loadConfig({ DOMAIN_NAME: 'discador-1234-dev.twil.io', SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-unit-tests-only' });
const base = 'https://discador-1234-dev.twil.io';
const s: WaitSettings = { queue: 'geral', every: 45, max: 300, cb: '1', vm: '2', music: '/queue-music.wav', spc: null };

describe('the wait document', () => {
  it('announces position, estimate and keys, then music up to the next announcement, all inside a one-digit Gather', () => {
    const t = parseTwiml(waitTwiml(config, { ...s, spc: 120 }, { position: 3, queueTime: 0, avgQueueTime: 0 }).toString());
    expect(verbNames(t)).toEqual(['Gather']);
    const g = t.children[0]!;
    expect(g.attrs).toMatchObject({ numDigits: '1', action: `${base}/voice/queue-key?queue=geral`, method: 'POST', timeout: '1', actionOnEmptyResult: 'false' });
    expect(verbNames(g)).toEqual(['Say', 'Play', 'Pause']);
    expect(g.children[0]!.attrs).toMatchObject({ language: 'pt-BR' });
    expect(g.children[0]!.text).toBe(
      // 3 × 120 s, but never more than the 300 s left until the max wait.
      'Há 2 pessoas na sua frente. O tempo estimado de espera é de cerca de 5 minutos. Para receber uma ligação de volta, digite 1. Para deixar um recado, digite 2.',
    );
    // 45 s between announcements: the announcement (about 15 characters a second), whole plays
    // of the 10-second music, a Pause for the rest and the Gather's 1-second timeout make the
    // interval, never more, short of it by less than a second.
    const cycle = g.children[0]!.text.length / 15 + Number(g.children[1]!.attrs['loop']) * 10 + Number(g.children[2]!.attrs['length']) + 1;
    expect(cycle).toBeLessThanOrEqual(45);
    expect(cycle).toBeGreaterThan(44);
    expect(g.children[1]!.text).toBe(`${base}/queue-music.wav`);
  });

  it('every verb is one a waitUrl document may hold (Twilio: Play, Say, Pause, Hangup, Redirect, Leave, Gather)', () => {
    for (const qt of [0, 100, 299, 300, 5000]) {
      const t = parseTwiml(waitTwiml(config, s, { position: 1, queueTime: qt, avgQueueTime: 30 }).toString());
      for (const v of verbNames(t)) expect(ALLOWED_VERBS.wait).toContain(v);
    }
  });

  /** Seconds a wait document lasts: speech, music plays, pause, and the Gather's 1-second timeout. */
  const length = (t: ReturnType<typeof parseTwiml>): number => {
    const g = t.children[0]!;
    if (g.name !== 'Gather') return 0;
    const play = find(g, 'Play');
    const pause = find(g, 'Pause');
    return find(g, 'Say')!.text.length / 15 + (play ? Number(play.attrs['loop']) * 10 : 0) + (pause ? Number(pause.attrs['length']) : 0) + 1;
  };

  it('never plays past the max wait nor past the interval, and leaves at or after the max wait', () => {
    for (const queueTime of [240, 260, 270, 280]) {
      const t = parseTwiml(waitTwiml(config, { ...s, spc: 60 }, { position: 3, queueTime, avgQueueTime: 0 }).toString());
      expect(verbNames(t)).toEqual(['Gather']);
      expect(queueTime + length(t)).toBeLessThanOrEqual(300);
      expect(queueTime + length(t)).toBeGreaterThan(Math.min(300, queueTime + 45) - 1);
    }
    const near = parseTwiml(waitTwiml(config, s, { position: 1, queueTime: 285, avgQueueTime: 0 }).toString());
    expect(find(near, 'Play')).toBeUndefined();
    const far = parseTwiml(waitTwiml(config, { ...s, every: 600 }, { position: 1, queueTime: 0, avgQueueTime: 0 }).toString());
    expect(find(far, 'Play')!.attrs['loop']).toBe('29');
    expect(length(far)).toBeLessThanOrEqual(300);
    const short = parseTwiml(waitTwiml(config, { ...s, every: 15 }, { position: 1, queueTime: 0, avgQueueTime: 0 }).toString());
    expect(length(short)).toBeLessThanOrEqual(15);
    expect(length(short)).toBeGreaterThan(14);
    const at = parseTwiml(waitTwiml(config, s, { position: 1, queueTime: 300, avgQueueTime: 0 }).toString());
    expect(verbNames(at)).toEqual(['Leave']);
    // Less time left than the announcement takes: leave now rather than overshoot.
    const tooShort = parseTwiml(waitTwiml(config, s, { position: 1, queueTime: 295, avgQueueTime: 0 }).toString());
    expect(verbNames(tooShort)).toEqual(['Leave']);
  });

  it('a caller put back after a failed hand-over: time waited and place carried in the URL, not restarted', () => {
    // Twilio restarted QueueTime at 0 and put them last (position 6); they had waited 290 s with 1 ahead.
    const back = parseTwiml(waitTwiml(config, { ...s, waited: 290, ahead: 1 }, { position: 6, queueTime: 5, avgQueueTime: 0 }).toString());
    expect(verbNames(back)).toEqual(['Leave']);
    const earlier = parseTwiml(waitTwiml(config, { ...s, waited: 100, ahead: 1 }, { position: 6, queueTime: 5, avgQueueTime: 0 }).toString());
    expect(find(earlier, 'Say')!.text).toMatch(/^Há 1 pessoa na sua frente\./);
    // Those ahead leave: Twilio's smaller position wins.
    const later = parseTwiml(waitTwiml(config, { ...s, waited: 100, ahead: 3 }, { position: 1, queueTime: 5, avgQueueTime: 0 }).toString());
    expect(find(later, 'Say')!.text).toMatch(/^Você é o próximo/);
  });

  it('no callback campaign: the callback key is not offered; first in line is told so', () => {
    const t = parseTwiml(waitTwiml(config, { ...s, cb: null }, { position: 1, queueTime: 10, avgQueueTime: 0 }).toString());
    expect(find(t, 'Say')!.text).toBe('Você é o próximo a ser atendido. Para deixar um recado, digite 2.');
  });
});

describe('estimates and spoken waits', () => {
  it('our pace first (position × seconds per caller), else Twilio’s AvgQueueTime less the time waited, else none', () => {
    expect(estimateWaitSeconds({ position: 4, secondsPerCaller: 90, avgQueueTime: 10, queueTime: 0 })).toBe(360);
    expect(estimateWaitSeconds({ position: 2, secondsPerCaller: null, avgQueueTime: 200, queueTime: 50 })).toBe(150);
    expect(estimateWaitSeconds({ position: 2, secondsPerCaller: null, avgQueueTime: 40, queueTime: 50 })).toBeNull();
    expect(estimateWaitSeconds({ position: 1, secondsPerCaller: null, avgQueueTime: 0, queueTime: 0 })).toBeNull();
    // Never more than what is left until the max wait.
    expect(estimateWaitSeconds({ position: 10, secondsPerCaller: 120, avgQueueTime: 0, queueTime: 200, remaining: 100 })).toBe(100);
    expect(estimateWaitSeconds({ position: 2, secondsPerCaller: null, avgQueueTime: 500, queueTime: 50, remaining: 250 })).toBe(250);
  });

  it('spoken in pt-BR', () => {
    expect([spokenEstimate(30), spokenEstimate(60), spokenEstimate(61), spokenEstimate(600)]).toEqual([
      'menos de um minuto', 'cerca de 1 minuto', 'cerca de 2 minutos', 'cerca de 10 minutos',
    ]);
    expect([spokenWaited(0), spokenWaited(1), spokenWaited(40), spokenWaited(60), spokenWaited(185)]).toEqual([
      'instantes', '1 segundo', '40 segundos', '1 minuto', '3 minutos',
    ]);
    expect(announcementText({ cb: '1', vm: '2' }, 2, 30)).toBe(
      'Há 1 pessoa na sua frente. O tempo estimado de espera é de menos de um minuto. Para receber uma ligação de volta, digite 1. Para deixar um recado, digite 2.',
    );
  });
});

describe('the Enqueue and what follows it', () => {
  it('Enqueue names the queue, its wait document (settings in the URL) and its action', () => {
    const twiml = new twilio.twiml.VoiceResponse();
    addEnqueue(twiml, config, { ...s, spc: 75 });
    const e = parseTwiml(twiml.toString()).children[0]!;
    expect(e.name).toBe('Enqueue');
    expect(e.text).toBe('geral');
    expect(e.attrs['action']).toBe(`${base}/voice/queue-result?queue=geral`);
    const wait = new URL(e.attrs['waitUrl']!);
    expect(wait.pathname).toBe('/voice/queue-wait');
    expect(Object.fromEntries(wait.searchParams)).toEqual({ queue: 'geral', every: '45', max: '300', cb: '1', vm: '2', music: '/queue-music.wav', spc: '75' });
    const again = new twilio.twiml.VoiceResponse();
    addEnqueue(again, config, { ...s, waited: 130, ahead: 2 });
    const back = new URL(parseTwiml(again.toString()).children[0]!.attrs['waitUrl']!);
    expect([back.searchParams.get('waited'), back.searchParams.get('ahead')]).toEqual(['130', '2']);
  });

  it('voicemail records as the queue’s; callback confirms and hangs up; the menu falls through to voicemail; none says nothing', () => {
    const vm = parseTwiml(leaveTwiml(config, { action: 'voicemail', queue: 'suporte' }).toString());
    expect(verbNames(vm)).toEqual(['Say', 'Record']);
    expect(vm.children[1]!.attrs['recordingStatusCallback']).toBe(`${base}/webhooks/recording?kind=voicemail&queue=suporte`);
    const cb = parseTwiml(leaveTwiml(config, { action: 'callback', queue: 'geral', lead_id: 9 }).toString());
    expect(cb.children.map((c) => [c.name, c.text])).toEqual([['Say', 'Pronto. Vamos ligar para você em breve neste número. Obrigado e até logo.'], ['Hangup', '']]);
    const menu = parseTwiml(leaveTwiml(config, { action: 'menu', queue: 'geral' }, { cb: '1', vm: '2' }).toString());
    expect(verbNames(menu)).toEqual(['Gather', 'Say', 'Record']);
    expect(menu.children[0]!.attrs).toMatchObject({ numDigits: '1', action: `${base}/voice/queue-menu?queue=geral` });
    expect(find(menu.children[0]!, 'Say')!.text).toContain('digite 1');
    expect(verbNames(parseTwiml(leaveTwiml(config, { action: 'none', queue: 'geral' }).toString()))).toEqual([]);
  });

  it('the whisper URL carries the queue and the seconds waited; a call that is over is recognised from Twilio’s errors', () => {
    expect(queueWhisperUrl(config, 'geral', 181.4)).toBe(`${base}/voice/queue-whisper?queue=geral&waited=181`);
    expect(callIsGone({ status: 400, code: 21220 })).toBe(true);
    expect(callIsGone({ status: 404, code: 20404 })).toBe(true);
    expect(callIsGone({ status: 500, code: 20500 })).toBe(false);
    expect(callIsGone(new Error('socket hang up'))).toBe(false);
  });
});
