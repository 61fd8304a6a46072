/**
 * The agent page in Chromium against the real local stack: the functions behind their front,
 * Postgres, and the Twilio emulator in this process (so the test can place a customer's call;
 * real time, since a person-paced page is on the other end). The softphone is the
 * emulator's stand-in Device, which /api/me names on the local stack.
 *
 * Ana signs in, goes available (her softphone's shift leg joins her room), a customer calls
 * her number, the page rings with a desktop notification and the screen pop shows the lead,
 * she answers, hangs up, saves a disposition (the row is checked) and signs out. Then
 * repeated wrong passwords lock an account and the page says how long to wait.
 */
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { LOCAL } from '../../stack/defaults';
import { startEmulator, type Emulator } from '../../emulator';
import { newCallSid, newMobile } from '../helpers/twilio';
import { statusCallbackUrl, voiceFallbackUrl, voiceInboundUrl } from '../../src/lib/domain/callback-urls';
import { formatPhoneBR } from '../../src/web/agent/format';
import { launch, notifications, type TestBrowser, steps } from './browser';

jest.setTimeout(180000);

const ANA = { email: 'ana@discador.local', password: 'demo-ana', did: '+551130001000' };
let s: { emulator: Emulator; stack: StackProcess };
let base: string;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, s.stack.env.DATABASE_URL);

/** Polls fn until it returns a truthy value (or throws the last failure after `ms`). */
async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`${what}: got ${JSON.stringify(v)}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw last;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The emulator here, at real-time speed, and a stack using it (which makes the softphone's API
 * key and TwiML App on it and names the emulator's stand-in script to the page). Voice tokens
 * live 60 s, the least the functions allow, so the page renews them during the test.
 */
beforeAll(async () => {
  const emulator = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  const stack = await startStackProcess(['--twilio-url', emulator.url, '--functions-env', 'VOICE_TOKEN_TTL_SECONDS=60']).catch(async (e: unknown) => {
    await emulator.stop();
    throw e;
  });
  s = { emulator, stack };
  base = stack.env.FUNCTIONS_BASE_URL;
  const at = { baseUrl: base };
  emulator.addNumber({ phoneNumber: ANA.did, voiceUrl: voiceInboundUrl(at), voiceFallbackUrl: voiceFallbackUrl(at), statusCallback: statusCallbackUrl(at) });
});
afterAll(async () => {
  await s?.stack.stop();
  await s?.emulator.stop();
});

describe('the agent page', () => {
  let b: TestBrowser | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('serves a pt-BR sign-in form that refuses empty fields', async () => {
    b = await launch('sign-in form');
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      const res = await page.goto(`${base}/agent.html`);
      expect(res?.status()).toBe(200);
      await page.waitForSelector('#login-form');
      expect(await page.getAttribute('html', 'lang')).toBe('pt-BR');
      expect(await page.isVisible('#app-view')).toBe(false);
      // Not signed in is not an error.
      await page.waitForLoadState('networkidle');
      expect(await page.isVisible('#login-error')).toBe(false);
      await tb.shot('sign-in form');
      await page.click('#login-submit');
      await page.waitForSelector('#login-error:not([hidden])');
      expect(await page.textContent('#login-error')).toBe('Informe e-mail e senha.');
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('login-email');
      await tb.shot('empty fields refused');
    });
  });

  it('a whole call: sign in, available, a customer rings, screen pop, answer, hang up, disposition, sign out', async () => {
    // The customer is a lead of the demo campaign with one earlier call that has a disposition.
    const customer = newMobile('21');
    const [lead] = await sql<{ id: string }>(
      `insert into leads (campaign_id, phone_number, name, data)
       values ((select id from campaigns order by id limit 1), $1, 'Marina Teste', '{"contrato": "CT-4471", "saldo": "1.250,00", "dias_atraso": 33}')
       returning id`,
      [customer],
    );
    const earlier = newCallSid();
    await sql(
      `insert into calls (call_sid, direction, from_number, to_number, status, agent_id, lead_id, campaign_id, started_at, answered_at, ended_at, duration)
       values ($1, 'outbound-api', '+551130001000', $2, 'completed', (select id from agents where client_identity = 'ana'), $3,
               (select id from campaigns order by id limit 1), now() - interval '2 days', now() - interval '2 days', now() - interval '2 days' + interval '95 seconds', 95)`,
      [earlier, customer, lead!.id],
    );
    await sql(`insert into call_dispositions (call_sid, agent_id, code, notes) values ($1, (select id from agents where client_identity = 'ana'), 'retornar', 'Pediu retorno')`, [earlier]);

    b = await launch('whole call', { notifications: 'granted', origin: base });
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      const tokens: number[] = [];
      page.on('response', (r) => {
        if (new URL(r.url()).pathname === '/api/voice-token') tokens.push(r.status());
      });
      await page.goto(`${base}/agent.html`);
      await page.fill('#login-email', ANA.email);
      await page.fill('#login-password', ANA.password);
      await tb.shot('sign-in filled');
      await page.click('#login-submit');
      await page.waitForSelector('#app-view:not([hidden])');
      expect(await page.textContent('#agent-name')).toBe('Ana Souza');
      // Notifications granted: the permission button is not offered.
      expect(await page.isVisible('#notify-permission')).toBe(false);
      await tb.shot('signed in');

      await page.click('#go-available');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Conectado — aguardando clientes'`, undefined, { timeout: 20000 });
      expect(await page.textContent('#status-badge')).toBe('Disponível');
      const [agent] = await until('Ana routable', async () => {
        const rows = await sql<{ status: string; shift_call_sid: string | null }>(`select status, shift_call_sid from agents where client_identity = 'ana'`);
        return rows[0]?.status === 'available' && rows[0]?.shift_call_sid ? rows : undefined;
      });
      expect(agent!.shift_call_sid).toMatch(/^CA[0-9a-f]{32}$/);
      await tb.shot('available');

      // The customer calls Ana's number: disclaimer, then the page rings.
      s.emulator.addParty({ number: customer, hangupAfter: 300 });
      const customerSid = await s.emulator.placeInboundCall({ from: customer, to: ANA.did });
      await page.waitForSelector('#offer-box:not([hidden])', { timeout: 30000 });
      expect(await page.textContent('#offer-from')).toBe(formatPhoneBR(customer));
      expect(await page.textContent('#pop-number')).toBe(formatPhoneBR(customer));
      expect(await page.textContent('#pop-name')).toBe('Marina Teste');
      const fields = await page.$$eval('#pop-fields dt, #pop-fields dd', (els) => els.map((e) => e.textContent));
      expect(fields).toEqual(expect.arrayContaining(['Contrato', 'CT-4471', 'Saldo', '1.250,00', 'Dias atraso', '33']));
      const history = await page.$$eval('#pop-history tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
      expect(history).toEqual([[expect.any(String), 'Efetuada', expect.any(String), 'Retornar depois']]);
      await tb.shot('ringing with screen pop');

      // Keyboard: Alt+Shift+A answers.
      await page.keyboard.press('Alt+Shift+KeyA');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Em ligação'`, undefined, { timeout: 20000 });
      expect(await page.textContent('#status-badge')).toBe('Em ligação');
      expect(await sql(`select status, current_call_sid from agents where client_identity = 'ana'`)).toEqual([{ status: 'busy', current_call_sid: customerSid }]);
      await tb.shot('in call');

      // Mute is the softphone's own (the emulator sees the shift leg muted), hold puts the
      // customer on hold music in the room, the keypad sends digits on the shift leg.
      const shiftSid = agent!.shift_call_sid!;
      const muted = () => s.emulator.softphone.calls().find((c) => c.callSid === shiftSid)?.muted;
      await page.keyboard.press('Alt+Shift+KeyM');
      await until('shift leg muted', async () => muted() === true);
      expect(await page.getAttribute('#mute', 'aria-pressed')).toBe('true');
      await page.click('#mute');
      await until('shift leg unmuted', async () => muted() === false);
      await page.click('#hold');
      // On hold the customer hears nobody and the room plays them the hold music.
      await until('customer on hold', async () =>
        s.emulator.hears(customerSid).size === 0 && s.emulator.timeline(customerSid).some((e) => e.type === 'conference' && /plays hold:\S+\/hold-music\.mp3/.test(e.text)),
      );
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Em ligação (cliente em espera)'`);
      await tb.shot('customer on hold');
      await page.click('#hold');
      await until('customer back', async () => s.emulator.hears(customerSid).has(shiftSid));
      await page.click('.keypad button[data-digit="5"]');
      await until('digit on the shift leg', async () => s.emulator.timeline(shiftSid).some((e) => e.type === 'party' && e.content === '5'));

      await page.click('#hangup');
      await page.waitForSelector('#disposition:not([hidden])', { timeout: 20000 });
      expect(await page.textContent('#disposition-customer')).toBe(`Marina Teste (${formatPhoneBR(customer)})`);
      await until('customer leg ended', async () => s.emulator.calls().find((c) => c.sid === customerSid)?.status === 'completed');
      await tb.shot('wrap-up with disposition form');

      await page.selectOption('#disposition-code', 'promessa_pagamento');
      await page.fill('#disposition-notes', 'Paga dia 10');
      await page.click('#disposition-submit');
      await page.waitForSelector('#disposition', { state: 'hidden' });
      expect(await sql(`select d.code, d.notes, d.agent_id = a.id as by_ana from call_dispositions d, agents a where a.client_identity = 'ana' and d.call_sid = $1`, [customerSid])).toEqual([
        { code: 'promessa_pagamento', notes: 'Paga dia 10', by_ana: true },
      ]);
      await tb.shot('disposition saved');

      // The 60 s voice token was renewed while the shift leg stayed up (first token, then renewals).
      expect(tokens.length).toBeGreaterThanOrEqual(2);
      expect(tokens.every((st) => st === 200)).toBe(true);

      // Exactly one desktop notification: the offered call, once, however many polls showed it.
      expect(await notifications(page)).toEqual([{ title: 'Chamada recebida', body: `${formatPhoneBR(customer)} — Marina Teste`, tag: `offer:${customerSid}` }]);

      // Click-to-call: an opted-out number is refused and nothing is dialed.
      await page.waitForFunction(`!document.getElementById('go-available').disabled`);
      const optedOut = newMobile('11');
      await sql(`select opt_out_add($1, 'teste', 'manual')`, [optedOut]);
      await page.fill('#dial-to', formatPhoneBR(optedOut));
      await page.click('#dial-submit');
      await page.waitForSelector('#phone-error:not([hidden])', { timeout: 15000 });
      expect(await page.textContent('#phone-error')).toBe('Este número está na lista de não ligar. A ligação não foi feita.');
      expect(await sql(`select count(*)::int as n from calls where to_number = $1`, [optedOut])).toEqual([{ n: 0 }]);
      await tb.shot('click-to-call refused');

      // Click-to-call a customer: from Ana's own number, into her room.
      const callee = newMobile('11');
      s.emulator.addParty({ number: callee, answerAfter: 1, gather: [null], hangupAfter: 300 });
      await page.fill('#dial-to', formatPhoneBR(callee));
      await page.click('#dial-submit');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Em ligação'`, undefined, { timeout: 30000 });
      expect(await page.textContent('#pop-number')).toBe(formatPhoneBR(callee));
      const [placed] = await sql<{ call_sid: string; from_number: string; by_ana: boolean }>(
        `select c.call_sid, c.from_number, c.agent_id = a.id as by_ana from calls c, agents a where a.client_identity = 'ana' and c.to_number = $1`,
        [callee],
      );
      expect(placed).toMatchObject({ from_number: ANA.did, by_ana: true });
      await tb.shot('click-to-call in call');
      await page.keyboard.press('Alt+Shift+KeyD');
      await page.waitForSelector('#disposition:not([hidden])', { timeout: 20000 });
      await page.selectOption('#disposition-code', 'sem_interesse');
      await page.click('#disposition-submit');
      await page.waitForSelector('#disposition', { state: 'hidden' });
      expect(await sql(`select code from call_dispositions where call_sid = $1`, [placed!.call_sid])).toEqual([{ code: 'sem_interesse' }]);

      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
      await tb.shot('signed out');
      const sessions = await sql<{ open: number }>(
        `select count(*)::int as open from sessions se join users u on u.id = se.user_id where u.email = $1 and se.revoked_at is null`,
        [ANA.email],
      );
      expect(sessions).toEqual([{ open: 0 }]);
      expect(await sql(`select status from agents where client_identity = 'ana'`)).toEqual([{ status: 'offline' }]);
    });
  });

  it("follow-me's softphone hop rings the open page of an agent without a shift leg; Atender bridges the caller", async () => {
    const [ana] = await sql<{ id: string; status: string }>(`select id, status from agents where client_identity = 'ana'`);
    if (ana!.status !== 'offline') await sql(`select agent_transition($1, 'offline', null, 'system', null)`, [ana!.id]);
    await sql(`update agents set shift_call_sid = null where id = $1`, [ana!.id]);
    b = await launch('follow-me on the page', { notifications: 'granted', origin: base });
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      await page.goto(`${base}/agent.html`);
      await page.fill('#login-email', ANA.email);
      await page.fill('#login-password', ANA.password);
      await page.click('#login-submit');
      await page.waitForSelector('#app-view:not([hidden])');
      // Offline, no shift leg: the page registers the softphone for incoming calls.
      await until('softphone registered', async () => s.emulator.softphone.registered().includes('ana'));

      const customer = newMobile('21');
      s.emulator.addParty({ number: customer, hangupAfter: 300 });
      const customerSid = await s.emulator.placeInboundCall({ from: customer, to: ANA.did });
      await page.waitForSelector('#direct-box:not([hidden])', { timeout: 30000 });
      expect(await page.textContent('#direct-from')).toBe(formatPhoneBR(customer));
      expect(await page.isVisible('#direct-answer')).toBe(true);
      expect(await page.isVisible('#direct-reject')).toBe(true);
      await tb.shot('follow-me ringing the page');
      expect(await notifications(page)).toEqual([expect.objectContaining({ title: 'Chamada recebida no softphone', body: formatPhoneBR(customer) })]);

      // Ringing, the caller is waiting for Ana; once she talks to them, not any more.
      await page.waitForFunction(`document.getElementById('waiting-count').textContent === '1'`, undefined, { timeout: 20000 });
      await page.click('#direct-answer');
      await page.waitForSelector('#direct-hangup:not([hidden])', { timeout: 20000 });
      await page.waitForFunction(`document.getElementById('waiting-count').textContent === '0'`, undefined, { timeout: 5000 });
      const clientLeg = await until('bridged to the softphone', async () =>
        s.emulator.calls().find((c) => c.parentCallSid === customerSid && c.to === 'client:ana' && c.status === 'in-progress'),
      );
      expect(s.emulator.calls().find((c) => c.sid === customerSid)?.status).toBe('in-progress');
      expect(clientLeg.from).toBe(customer);
      // Still not waiting after more polls.
      await page.waitForTimeout(4000);
      expect(await page.textContent('#waiting-count')).toBe('0');
      await tb.shot('follow-me call answered on the page');
      await page.click('#direct-hangup');
      await page.waitForSelector('#direct-box', { state: 'hidden', timeout: 20000 });
      await until('customer leg ended', async () => s.emulator.calls().find((c) => c.sid === customerSid)?.status === 'completed');
      await until('hop logged answered', async () => {
        const rows = await sql<{ outcome: string }>(
          `select params->>'follow_me_outcome' as outcome from call_events where call_sid = $1 and dedupe_key = 'dial:follow-me:softphone'`, [customerSid]);
        return rows[0]?.outcome === 'answered';
      });
      expect(await sql(`select agent_id = $2 as by_ana, follow_me_answered_at is not null as answered from calls where call_sid = $1`, [customerSid, ana!.id])).toEqual([{ by_ana: true, answered: true }]);
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
    });
  });

  it('notices: once each as desktop notifications when allowed, in the page when not; the microphone check', async () => {
    const bruno = { email: 'bruno@discador.local', password: 'demo-bruno', did: '+551130001001' };
    /** An inbound call to Bruno's number as the call webhooks leave it. */
    const inbound = async (o: { status: string; ended: boolean; startedSecondsAgo?: number }) => {
      const sid = newCallSid();
      const from = newMobile('31');
      await sql(
        `insert into calls (call_sid, direction, from_number, to_number, status, agent_id, started_at, ended_at)
         values ($1, 'inbound', $2, $3, $4, (select id from agents where client_identity = 'bruno'),
                 now() - make_interval(secs => $5), case when $6 then now() end)`,
        [sid, from, bruno.did, o.status, o.startedSecondsAgo ?? 5, o.ended],
      );
      return { sid, from };
    };
    const signIn = async (tb: TestBrowser) => {
      await tb.page.goto(`${base}/agent.html`);
      await tb.page.fill('#login-email', bruno.email);
      await tb.page.fill('#login-password', bruno.password);
      await tb.page.click('#login-submit');
      await tb.page.waitForSelector('#app-view:not([hidden])');
    };
    const count = (page: TestBrowser['page'], list: string, n: number) =>
      page.waitForFunction(`document.getElementById('${list}-count').textContent === '${n}'`, undefined, { timeout: 15000 });

    // A missed call from before the page opened is listed, not notified.
    const before = await inbound({ status: 'no-answer', ended: true });
    b = await launch('notices desktop', { notifications: 'granted', origin: base });
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      await signIn(tb);
      await count(page, 'missed', 1);

      const missed = await inbound({ status: 'no-answer', ended: true });
      const waiting = await inbound({ status: 'in-progress', ended: false, startedSecondsAgo: 45 });
      const withMessage = await inbound({ status: 'completed', ended: true });
      const recordingSid = `RE${newCallSid().slice(2)}`;
      const [recording] = await sql<{ id: string }>(
        `insert into recordings (recording_sid, call_sid, source, channels, duration, status) values ($1, $2, 'RecordVerb', 1, 12, 'completed') returning id`,
        [recordingSid, withMessage.sid],
      );
      const recordingId = recording!.id;
      await count(page, 'waiting', 1);
      await count(page, 'voicemail', 1);
      await count(page, 'missed', 3);
      // Three more polls: nothing is raised twice.
      await page.waitForTimeout(10000);
      const raised = await notifications(page);
      expect(raised).toHaveLength(3);
      expect(raised).toEqual(
        expect.arrayContaining([
          { title: 'Chamada perdida', body: formatPhoneBR(missed.from), tag: `missed:${missed.sid}` },
          { title: 'Cliente aguardando', body: expect.stringMatching(/^Um cliente aguarda há \d+ segundos\.$/), tag: `waiting:${waiting.sid}` },
          { title: 'Novo recado no correio de voz', body: expect.stringMatching(/\(0:12\)$/), tag: `voicemail:${recordingId}` },
        ]),
      );
      expect(raised.find((n) => n.tag.startsWith('voicemail:'))?.body).toContain(formatPhoneBR(withMessage.from));
      expect(raised.map((n) => n.tag)).not.toContain(`missed:${before.sid}`);
      expect(await page.textContent('#missed-list')).toContain(formatPhoneBR(missed.from));
      expect(await page.textContent('#waiting-list')).toContain(formatPhoneBR(waiting.from));
      // Desktop notifications: nothing in the page's toast list.
      expect(await page.$$('#toasts li')).toHaveLength(0);
      await tb.shot('lists and notifications');

      // The microphone check hears Chromium's fake microphone (a beep).
      await page.click('#mic-check');
      await page.waitForFunction(`document.getElementById('mic-message').dataset.ok !== undefined`, undefined, { timeout: 15000 });
      expect(await page.textContent('#mic-message')).toBe('Microfone funcionando.');
      await tb.shot('microphone works');
      await sql(`update calls set status = 'completed', ended_at = now() where call_sid = $1`, [waiting.sid]);
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
    });
    await b.close();

    // Notifications not allowed and the microphone refused: both said in the page.
    b = await launch('notices in page', { microphone: 'refused' });
    const tb2 = b;
    await steps(tb2, async () => {
      const { page } = tb2;
      await signIn(tb2);
      expect(await page.isVisible('#notify-permission')).toBe(true);
      expect(await page.textContent('#notify-permission')).toBe('Ativar notificações');
      // The four earlier ones (the waiting customer ended unanswered, a missed call too).
      await count(page, 'missed', 4);
      const missed = await inbound({ status: 'busy', ended: true });
      await page.waitForSelector(`#toasts li[data-key="missed:${missed.sid}"]`, { timeout: 15000 });
      expect(await page.textContent(`#toasts li[data-key="missed:${missed.sid}"]`)).toBe(`Chamada perdida${formatPhoneBR(missed.from)}Fechar`);
      expect(await notifications(page)).toEqual([]);
      await tb2.shot('notice in the page');

      await page.click('#mic-check');
      await page.waitForFunction(`document.getElementById('mic-message').dataset.ok !== undefined`, undefined, { timeout: 15000 });
      expect(await page.textContent('#mic-message')).toMatch(/^O acesso ao microfone foi negado\./);
      await tb2.shot('microphone refused');
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
    });
  });

  it('repeated wrong passwords lock the account and the page says how long to wait', async () => {
    b = await launch('lockout');
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      await page.goto(`${base}/agent.html`);
      await page.fill('#login-email', 'bruno@discador.local');
      // Each failure past the free ones locks for twice as long: fail until the wait is a few seconds.
      const seen: string[] = [];
      for (let i = 0; i < 15; i++) {
        await page.fill('#login-password', `errada-${i}`);
        // Hide the previous answer so the next one is seen even when it repeats.
        await page.evaluate(`document.getElementById('login-error').hidden = true`);
        await page.click('#login-submit');
        await page.waitForSelector('#login-error:not([hidden])');
        const text = (await page.textContent('#login-error')) ?? '';
        seen.push(text);
        if (i === 0) await tb.shot('wrong password');
        const wait = /^Muitas tentativas sem sucesso\. Tente novamente em (\d+) segundos?\.$/.exec(text);
        if (wait && Number(wait[1]) >= 4) break;
        await page.waitForFunction(`!document.getElementById('login-submit').disabled`, undefined, { timeout: 30000 });
      }
      expect(seen[0]).toBe('E-mail ou senha incorretos.');
      expect(seen.slice(0, 5)).toEqual(Array(5).fill('E-mail ou senha incorretos.'));
      expect(seen[seen.length - 1]).toMatch(/^Muitas tentativas sem sucesso\. Tente novamente em \d+ segundos\.$/);
      // The form waits out the lock: the button stays off until then.
      expect(await page.isDisabled('#login-submit')).toBe(true);
      await tb.shot('locked out');
      const [throttle] = await sql<{ locked: boolean }>(`select bool_or(locked_until > now()) as locked from login_throttle`);
      expect(throttle).toEqual({ locked: true });
    });
  });
});
