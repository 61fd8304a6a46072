/**
 * Preview mode on the agent page in Chromium against the real local stack (the Twilio
 * emulator in this process, real time). Ana works a preview campaign with its own disposition
 * list and whisper template: she asks for a lead from the keyboard, skips it, dials the next,
 * the customer answers and joins her room, the screen pop shows the lead and the whisper, the
 * customer hangs up, and she schedules a callback with the date-time picker (required for a
 * callback outcome); the lead's row says so.
 */
import { randomBytes } from 'node:crypto';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { LOCAL } from '../../stack/defaults';
import { startEmulator, type Emulator } from '../../emulator';
import { newMobile } from '../helpers/twilio';
import { statusCallbackUrl, voiceFallbackUrl, voiceInboundUrl } from '../../src/lib/domain/callback-urls';
import { formatPhoneBR } from '../../src/web/agent/format';
import { launch, type TestBrowser } from './browser';

jest.setTimeout(180000);

const ANA = { email: 'ana@discador.local', password: 'demo-ana', did: '+551130001000' };
let s: { emulator: Emulator; stack: StackProcess };
let base: string;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, s.stack.env.DATABASE_URL);

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 30000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const emulator = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  const stack = await startStackProcess(['--twilio-url', emulator.url]).catch(async (e: unknown) => {
    await emulator.stop();
    throw e;
  });
  s = { emulator, stack };
  base = stack.env.FUNCTIONS_BASE_URL;
  const at = { baseUrl: base };
  // Ana's number and the caller-ID pool, owned by the emulated account.
  for (const { phone_number } of await sql<{ phone_number: string }>(`select phone_number from phone_numbers where is_active`)) {
    emulator.addNumber({ phoneNumber: phone_number, voiceUrl: voiceInboundUrl(at), voiceFallbackUrl: voiceFallbackUrl(at), statusCallback: statusCallbackUrl(at) });
  }
});
afterAll(async () => {
  await s?.stack.stop();
  await s?.emulator.stop();
});

describe('the agent page in a preview campaign', () => {
  let b: TestBrowser | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('next, skip, dial, screen pop with the whisper, a callback with the date-time picker', async () => {
    const dispositions = [
      { code: 'pagou', label: 'Pagou', outcome: 'done' },
      { code: 'ligar_de_novo', label: 'Ligar de novo em…', outcome: 'callback' },
    ];
    const [k] = await sql<{ id: string }>(
      `insert into campaigns (name, mode, status, window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday, sunday_start, sunday_end, skip_holidays, whisper_template, dispositions)
       values ($1, 'preview', 'active', 'custom', '00:00', '23:59', '00:00', '23:59', true, '00:00', '23:59', false, 'Cliente {nome}, {dias_atraso} dias de atraso', $2) returning id`,
      [`Prévia ${randomBytes(4).toString('hex')}`, JSON.stringify(dispositions)],
    );
    const skipped = newMobile('11');
    const called = newMobile('21');
    await sql(`insert into leads (campaign_id, phone_number, name, data, priority) values ($1, $2, 'Paulo Pulado', '{"dias_atraso": 5}', 2), ($1, $3, 'Rita Retorno', '{"dias_atraso": 41, "contrato": "CT-9"}', 1)`, [
      k!.id,
      skipped,
      called,
    ]);
    await sql(`update agents set campaign_id = $1 where client_identity = 'ana'`, [k!.id]);

    b = await launch('preview campaign');
    const tb = b;
    const { page } = tb;
    try {
      await page.goto(`${base}/agent.html`);
      await page.fill('#login-email', ANA.email);
      await page.fill('#login-password', ANA.password);
      await page.click('#login-submit');
      await page.waitForSelector('#app-view:not([hidden])');
      await page.click('#go-available');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Conectado — aguardando clientes'`, undefined, { timeout: 20000 });
      await page.waitForSelector('#preview-box:not([hidden])');
      expect(await page.textContent('#campaign-line')).toMatch(/^Campanha: Prévia [0-9a-f]{8} \(prévia\)$/);
      await tb.shot('preview card empty');

      // Alt+Shift+N asks for a lead: the highest priority one.
      await page.keyboard.press('Alt+Shift+KeyN');
      await page.waitForSelector('#preview-lead:not([hidden])');
      expect(await page.textContent('#preview-name')).toBe('Paulo Pulado');
      expect(await page.textContent('#preview-number')).toBe(formatPhoneBR(skipped));
      expect(await page.textContent('#preview-attempts')).toBe('Primeira tentativa');
      await tb.shot('preview lead');

      // Alt+Shift+P skips it: the next lead is shown.
      await page.keyboard.press('Alt+Shift+KeyP');
      await page.waitForFunction(`document.getElementById('preview-name').textContent === 'Rita Retorno'`, undefined, { timeout: 15000 });
      const fields = await page.$$eval('#preview-fields dt, #preview-fields dd', (els) => els.map((e) => e.textContent));
      expect(fields).toEqual(expect.arrayContaining(['Dias atraso', '41', 'Contrato', 'CT-9']));
      expect(await sql(`select status from leads where phone_number = $1`, [skipped])).toEqual([{ status: 'pending' }]);

      // Ligar: the customer answers after the disclaimer and joins Ana's room.
      s.emulator.addParty({ number: called, answerAfter: 1, gather: [null], hangupAfter: 25 });
      await page.click('#preview-dial');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Em ligação'`, undefined, { timeout: 40000 });
      expect(await page.isVisible('#preview-box')).toBe(false);
      expect(await page.textContent('#pop-name')).toBe('Rita Retorno');
      expect(await page.textContent('#pop-whisper-text')).toBe('Cliente Rita Retorno, 41 dias de atraso');
      const [call] = await sql<{ call_sid: string; campaign_id: string; agent_ok: boolean }>(
        `select c.call_sid, c.campaign_id, c.agent_id = a.id as agent_ok from calls c, agents a where a.client_identity = 'ana' and c.to_number = $1`,
        [called],
      );
      expect(call).toMatchObject({ campaign_id: k!.id, agent_ok: true });
      await tb.shot('in call with whisper');

      // The customer hangs up: the campaign's list, and a callback needs its date-time.
      await page.waitForSelector('#disposition:not([hidden])', { timeout: 40000 });
      const options = await page.$$eval('#disposition-code option', (els) => els.map((o) => (o as unknown as { value: string }).value));
      expect(options).toEqual(['', 'pagou', 'ligar_de_novo']);
      expect(await page.isVisible('#disposition-callback')).toBe(false);
      await page.selectOption('#disposition-code', 'ligar_de_novo');
      await page.waitForSelector('#disposition-callback:visible');
      await page.fill('#disposition-callback', '');
      await page.click('#disposition-submit');
      await page.waitForSelector('#disposition-error:not([hidden])');
      expect(await page.textContent('#disposition-error')).toBe('Informe a data e a hora do retorno.');
      expect(await sql(`select count(*)::int as n from call_dispositions where call_sid = $1`, [call!.call_sid])).toEqual([{ n: 0 }]);

      // Tomorrow at 10:00, São Paulo time (the browser's zone).
      const tomorrow = new Date(Date.now() + 86_400_000).toLocaleDateString('sv-SE', { timeZone: 'America/Sao_Paulo' });
      await page.fill('#disposition-callback', `${tomorrow}T10:00`);
      await tb.shot('callback picked');
      await page.click('#disposition-submit');
      await page.waitForSelector('#disposition', { state: 'hidden' });
      const [lead] = await sql<{ status: string; outcome: string; callback_at: Date; by_ana: boolean }>(
        `select l.status, l.outcome, l.callback_at, l.callback_agent_id = a.id as by_ana from leads l, agents a where a.client_identity = 'ana' and l.phone_number = $1`,
        [called],
      );
      expect(lead).toMatchObject({ status: 'pending', outcome: 'ligar_de_novo', by_ana: true });
      expect(lead!.callback_at.toISOString()).toBe(new Date(`${tomorrow}T10:00:00-03:00`).toISOString());
      // The disposition ended the wrap-up: Ana is available for the next lead.
      await until('Ana available', async () => (await sql<{ status: string }>(`select status from agents where client_identity = 'ana'`))[0]!.status === 'available');
      await page.waitForSelector('#preview-next:not([hidden])');
      await tb.shot('callback saved');
    } catch (e) {
      await tb.shot('failure').catch(() => undefined);
      throw e;
    }
  });
});
