/**
 * The agent page's voicemails and text messages in Chromium against the real local stack
 * (functions behind their front, Postgres; the emulator in this process). Ana's voicemails
 * show who, when, how long, the queue and the transcription; "Ouvir" asks
 * /api/recordings/listen for a short-lived URL and plays it in the page's player, and a
 * refusal is said in pt-BR (the listen endpoint is intercepted here: the request the page
 * makes is what is checked). Messages sent through the signed /webhooks/sms show with the
 * unread count, sender, time and text; a new one while the page is open raises one desktop
 * notification; "Marcar como lida" writes read_at.
 */
import { randomBytes } from 'node:crypto';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { signedPost, newMobile } from '../helpers/twilio';
import { LOCAL } from '../../stack/defaults';
import { startEmulator, type Emulator } from '../../emulator';
import { formatPhoneBR } from '../../src/web/agent/format';
import { launch, notifications, type TestBrowser } from './browser';

jest.setTimeout(120000);

const ANA = { email: 'ana@discador.local', password: 'demo-ana', did: '+551130001000' };
let s: { emulator: Emulator; stack: StackProcess };
let base: string;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, s.stack.env.DATABASE_URL);

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A text message to one of the account's numbers, through the signed webhook as Twilio sends it. */
async function text(from: string, to: string, body: string): Promise<void> {
  const sid = 'SM' + randomBytes(16).toString('hex');
  const res = await signedPost(`${base}/webhooks/sms`, { AccountSid: LOCAL.accountSid, MessageSid: sid, SmsSid: sid, From: from, To: to, Body: body, NumMedia: '0' }, LOCAL.authToken);
  if (res.status !== 200) throw new Error(`/webhooks/sms answered ${res.status}`);
}

/** A voicemail left for Ana (an inbound call to her and its recording). */
async function voicemail(opts: { duration: number; transcription?: string; queue?: string; ago: string }): Promise<{ id: number; from: string }> {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const from = newMobile('21');
  await sql(`insert into calls (call_sid, direction, from_number, to_number, status, created_at, ended_at) values ($1, 'inbound', $2, $3, 'completed', now() - $4::interval, now())`, [callSid, from, ANA.did, opts.ago]);
  const [r] = await sql<{ id: string }>(
    `insert into recordings (recording_sid, call_sid, source, channels, duration, status, kind, agent_id, queue_name, transcription, created_at)
     values ($1, $2, 'RecordVerb', 1, $3, 'completed', 'voicemail', case when $4::text is null then (select id from agents where client_identity = 'ana') end, $4, $5, now() - $6::interval)
     returning id`,
    ['RE' + randomBytes(16).toString('hex'), callSid, opts.duration, opts.queue ?? null, opts.transcription ?? null, opts.ago],
  );
  return { id: Number(r!.id), from };
}

beforeAll(async () => {
  const emulator = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  const stack = await startStackProcess(['--twilio-url', emulator.url]).catch(async (e: unknown) => {
    await emulator.stop();
    throw e;
  });
  s = { emulator, stack };
  base = stack.env.FUNCTIONS_BASE_URL;
});
afterAll(async () => {
  await s?.stack.stop();
  await s?.emulator.stop();
});

describe('voicemails and messages on the agent page', () => {
  let b: TestBrowser | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('lists voicemails with duration and transcription, plays one through /api/recordings/listen, shows refusals; messages with unread count, notified once, marked read', async () => {
    const maria = await voicemail({ duration: 21, transcription: 'Oi, aqui é a Maria, me liga de volta', ago: '5 minutes' });
    const queued = await voicemail({ duration: 8, queue: 'geral', ago: '10 minutes' });
    const forAna = newMobile('11');
    const forTeam = newMobile('31');
    await text(forAna, ANA.did, 'Bom dia, posso pagar na sexta?');
    await text(forTeam, '+551130002000', 'Quero negociar');
    await text(newMobile('41'), ANA.did, 'SAIR'); // an opt-out: handled, not listed

    b = await launch('voicemails and messages', { notifications: 'granted', origin: base });
    const tb = b;
    const { page } = tb;
    const listens: unknown[] = [];
    const audioUrl = `${base}/disclaimer.mp3?signed=1`;
    await page.route('**/api/recordings/listen', async (route) => {
      const body = JSON.parse(route.request().postData() ?? '{}') as { recording_id?: number };
      listens.push(body);
      if (body.recording_id === maria.id) {
        await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ url: audioUrl, expires_at: new Date(Date.now() + 300_000).toISOString() }) });
      } else {
        await route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'forbidden', message: 'not yours' }) });
      }
    });
    try {
      await page.goto(`${base}/agent.html`);
      await page.fill('#login-email', ANA.email);
      await page.fill('#login-password', ANA.password);
      await page.click('#login-submit');
      await page.waitForSelector('#app-view:not([hidden])');
      await page.waitForSelector(`#voicemail-list li[data-recording-id="${maria.id}"]`);

      // Voicemails: newest first, who, when, duration, the queue's tag, the transcription.
      const items = await page.$$eval('#voicemail-list li', (els) => els.map((el) => ({ id: el.getAttribute('data-recording-id'), text: el.textContent ?? '' })));
      expect(items.map((i) => Number(i.id))).toEqual([maria.id, queued.id]);
      expect(items[0]!.text).toContain(formatPhoneBR(maria.from));
      expect(items[0]!.text).toContain('(0:21)');
      expect(items[0]!.text).toContain('“Oi, aqui é a Maria, me liga de volta”');
      expect(items[1]!.text).toContain('fila geral');
      expect(await page.textContent('#voicemail-count')).toBe('2');

      // Messages: Ana's and the team's, unread, with the count; the opt-out word is not there.
      await page.waitForSelector('#messages-list li.unread');
      const messages = await page.$$eval('#messages-list li', (els) => els.map((el) => el.textContent ?? ''));
      expect(messages).toHaveLength(2);
      expect(messages.find((m) => m.includes('Bom dia, posso pagar na sexta?'))).toContain(formatPhoneBR(forAna));
      expect(messages.find((m) => m.includes('Quero negociar'))).toContain('equipe');
      expect(messages.join(' ')).not.toContain('SAIR');
      expect(await page.textContent('#messages-count')).toBe('2');
      await tb.shot('voicemails and messages');

      // Play: the page asks for the URL with the recording's id and plays it.
      await page.click(`#voicemail-list li[data-recording-id="${maria.id}"] button`);
      await page.waitForSelector('#voicemail-player-box:not([hidden])');
      expect(await page.getAttribute('#voicemail-player', 'src')).toBe(audioUrl);
      expect(await page.isVisible('#voicemail-error')).toBe(false);
      // Refused: said in pt-BR.
      await page.click(`#voicemail-list li[data-recording-id="${queued.id}"] button`);
      await page.waitForSelector('#voicemail-error:not([hidden])');
      expect(await page.textContent('#voicemail-error')).toBe('Você não tem permissão para ouvir este recado.');
      expect(listens).toEqual([{ recording_id: maria.id }, { recording_id: queued.id }]);
      await tb.shot('playing and refused');

      // A new message while the page is open: one notification, however many polls show it.
      const late = newMobile('51');
      await text(late, ANA.did, 'Recebi o boleto, obrigado');
      await page.waitForFunction(`document.getElementById('messages-count').textContent === '3'`, undefined, { timeout: 15000 });
      await new Promise((r) => setTimeout(r, 3500)); // one more poll
      const raised = (await notifications(page)).filter((n) => n.tag.startsWith('message:'));
      expect(raised).toEqual([{ title: 'Nova mensagem (SMS)', body: `${formatPhoneBR(late)}: Recebi o boleto, obrigado`, tag: expect.stringMatching(/^message:\d+$/) }]);

      // Marked read: the button goes, the count drops, the row says when.
      const li = page.locator('#messages-list li', { hasText: 'Bom dia, posso pagar na sexta?' });
      await li.getByRole('button', { name: /Marcar como lida/ }).click();
      await page.waitForFunction(`document.getElementById('messages-count').textContent === '2'`, undefined, { timeout: 10000 });
      expect((await li.getAttribute('class')) ?? '').not.toContain('unread');
      expect(await li.getByRole('button').count()).toBe(0);
      const read = await until('read_at', async () => (await sql<{ read_at: Date | null }>(`select read_at from inbound_messages where from_number = $1`, [forAna]))[0]?.read_at);
      expect(read).toBeInstanceOf(Date);
      await tb.shot('marked read');
    } catch (e) {
      await tb.shot('failure').catch(() => undefined);
      throw e;
    }
  });
});
