/**
 * Listen, whisper and barge from the dashboard in Chromium, end to end: the local stack with
 * the Twilio emulator in this process (real time), an agent on a call with a customer in their
 * room (the agent's softphone and the customer are the emulator's parties, driven through the
 * API as the agent page would), and a supervisor on /dashboard.html whose audio is the
 * browser's softphone (the emulator's stand-in Device, which /api/me names on the local stack).
 *
 * Each step is checked in the emulator (the participant's Muted / Coaching / CallSidToCoach as
 * the REST API shows them, who hears whom, the supervisor's browser holding the leg) and in the
 * database (the monitor row, the action log with the supervisor's identity, and the call, agent
 * and room rows untouched). Then: a call that ends while "Ouvir" is on its way is refused in
 * pt-BR and nothing is created; a supervisor whose microphone is refused is told so and nothing
 * is asked of the server; a supervisor without a softphone listens on a phone, and the page
 * clears the monitoring when the customer hangs up; signing out unregisters the Device.
 */
import { randomBytes } from 'node:crypto';
import type { Page, Route } from 'playwright-core';
import { agentRoomStack } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';
import { hashPassword } from '../../src/lib/domain/auth/password';
import { launch, type TestBrowser, steps } from './browser';

jest.setTimeout(60000);
let s: EmulatedStack;
const { sql, fb, agentWithLogin, until, startShift, api, hears, customerOnCall, roomSnapshot, supervisorLog: logOf } = agentRoomStack(
  { speed: 1, sessionNumber: '+551130009930', didPrefix: '+5511300093' },
  (x) => (s = x),
);

interface Boss {
  id: string;
  email: string;
  password: string;
}

/** A supervisor of this test, with a password to sign in on the page. */
async function supervisor(): Promise<Boss> {
  const tag = randomBytes(5).toString('hex');
  const email = `monitor_${tag}@discador.test`;
  const password = `senha-${tag}`;
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, password_hash, password_changed_at) values ($1, $2, 'supervisor', $3, now()) returning id`, [
    email,
    `Supervisora ${tag}`,
    await hashPassword(password),
  ]);
  return { id: u!.id, email, password };
}

async function monitors(userId: string) {
  return sql<{ id: string; status: string; mode: string; endpoint: string; participant_call_sid: string | null }>(
    `select id, status, mode, endpoint, participant_call_sid from supervisor_monitors where user_id = $1 order by id`,
    [userId],
  );
}

async function signIn(page: Page, boss: Boss): Promise<void> {
  await page.goto(`${fb()}/dashboard.html`);
  await page.fill('#login-email', boss.email);
  await page.fill('#login-password', boss.password);
  await page.click('#login-submit');
  await page.waitForSelector('#board-body:not([hidden])');
}

const text = (page: Page, sel: string) => page.textContent(sel).then((t) => t ?? '');

describe('monitoring from the dashboard', () => {
  const browsers: TestBrowser[] = [];
  afterAll(async () => {
    for (const b of browsers) await b.close();
  });

  it('listen, whisper, barge and leave in the browser; a call ending meanwhile, a refused microphone, a phone', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await customerOnCall(agent, { hangupAfter: 300 });
    const boss = await supervisor();
    const identity = `supervisor-${boss.id}`;
    const before = await roomSnapshot(agent.id, sid);
    const room = s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}` && c.status === 'in-progress')!;
    const participant = (leg: string) => s.twilio.conferences(room.sid).participants(leg).fetch();

    const b = await launch('dashboard monitor');
    browsers.push(b);
    const { page } = b;
    const requests: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path === '/api/voice-token' || path.startsWith('/api/supervisor/')) requests.push(path);
    });
    await steps(b, async () => {
      await signIn(page, boss);
      const row = `tr[data-testid="call-${sid}"]`;
      await page.waitForSelector(row);
      // Watching the board registers nothing: no token, no Device.
      expect(requests).toEqual([]);
      expect(s.emulator.softphone.registered()).not.toContain(identity);
      await b.shot('the call on the board');

      // Ouvir: the Device registers as supervisor-<id>, the server adds the leg muted, the browser accepts it.
      await page.click(`${row} button[data-action="listen"]`);
      await page.waitForFunction(`document.getElementById('monitor-audio').textContent === 'Áudio: no navegador'`, undefined, { timeout: 20000 });
      expect(requests.slice(0, 2)).toEqual(['/api/voice-token', '/api/supervisor/monitor']);
      expect(s.emulator.softphone.registered()).toContain(identity);
      const [m] = await monitors(boss.id);
      expect(m).toMatchObject({ mode: 'listen', endpoint: `client:${identity}` });
      const leg = await until('the leg joined', async () => {
        const [r] = await monitors(boss.id);
        return r?.status === 'joined' && r.participant_call_sid ? r.participant_call_sid : undefined;
      });
      expect(s.emulator.calls().find((c) => c.sid === leg)?.to).toBe(`client:${identity}`);
      expect(s.emulator.softphone.calls().filter((c) => c.identity === identity)).toEqual([
        { callSid: leg, identity, direction: 'incoming', state: 'open', muted: false },
      ]);
      const p1 = await participant(leg);
      expect([p1.label, p1.muted, p1.coaching, p1.endConferenceOnExit]).toEqual([`supervisor-${m!.id}`, true, false, false]);
      await until('listening', async () => (hears(leg, sid) && hears(leg, shift) ? true : undefined));
      expect([hears(sid, leg), hears(shift, leg), hears(sid, shift), hears(shift, sid)]).toEqual([false, false, true, true]);
      expect(await text(page, '#monitor-text')).toMatch(/^Monitorando \(Ouvir\): Agente \w+ com /);
      expect(await text(page, '[data-testid="action-ok"]')).toBe('Monitoria iniciada: Ouvir (áudio no navegador).');
      expect(await page.isVisible(`${row} [data-action="listen"]`)).toBe(false);
      await b.shot('listening');

      // Sussurrar: the agent hears the supervisor, the customer does not.
      await page.click('#monitor-bar [data-monitor-mode="whisper"]');
      await page.waitForSelector('#monitor-bar [data-monitor-mode="whisper"][aria-pressed="true"]');
      const p2 = await participant(leg);
      expect([p2.muted, p2.coaching, p2.callSidToCoach]).toEqual([false, true, shift]);
      await until('whispering', async () => (hears(shift, leg) ? true : undefined));
      expect([hears(sid, leg), hears(leg, sid), hears(leg, shift), hears(sid, shift)]).toEqual([false, true, true, true]);
      await b.shot('whispering');

      // Entrar na ligação: asked first, then heard by all.
      await page.click('#monitor-bar [data-monitor-mode="barge"]');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForSelector('#monitor-bar [data-monitor-mode="barge"][aria-pressed="true"]');
      const p3 = await participant(leg);
      expect([p3.muted, p3.coaching]).toEqual([false, false]);
      await until('barging', async () => (hears(sid, leg) && hears(shift, leg) ? true : undefined));
      expect([hears(leg, sid), hears(leg, shift), hears(sid, shift), hears(shift, sid)]).toEqual([true, true, true, true]);
      await b.shot('barging');

      // Sair: the participant is removed, the browser's call ends, the room goes on.
      await page.click('#monitor-stop');
      await page.waitForSelector('[data-testid="monitor-bar"]', { state: 'hidden' });
      await s.emulator.waitForCall(leg);
      await until('the browser call over', async () => (s.emulator.softphone.calls().some((c) => c.identity === identity) ? undefined : true));
      await until('the monitor ended', async () => ((await monitors(boss.id))[0]!.status === 'ended' ? true : undefined));
      expect(new Set(s.emulator.conferences().find((c) => c.sid === room.sid)!.participants)).toEqual(new Set([shift, sid]));
      expect([hears(sid, shift), hears(shift, sid)]).toEqual([true, true]);
      expect(await text(page, '[data-testid="action-ok"]')).toBe('Monitoria encerrada.');
      await b.shot('left');

      // The monitoring changed nothing of the call, the agent or the room; the log says who did what.
      expect(await roomSnapshot(agent.id, sid)).toEqual(before);
      expect(await sql(`select 1 from calls where call_sid = $1`, [leg])).toEqual([]);
      const log = await logOf(boss.id);
      expect(log.map((r) => [r.action, r.target, r.result])).toEqual([
        ['monitor_start', `call:${sid}`, 'ok'],
        ['monitor_mode', `monitor:${m!.id}`, 'ok'],
        ['monitor_mode', `monitor:${m!.id}`, 'ok'],
        ['monitor_stop', `monitor:${m!.id}`, 'ok'],
      ]);
      expect(log.every((r) => r.user_email === boss.email && r.role === 'supervisor')).toBe(true);
      expect(log.slice(1, 3).map((r) => [r.detail['from_mode'], r.detail['mode']])).toEqual([['listen', 'whisper'], ['whisper', 'barge']]);
    });

    // A refused microphone: said in pt-BR, nothing asked of the server.
    const refused = await launch('dashboard monitor microphone refused', { microphone: 'refused' });
    browsers.push(refused);
    const refusedRequests: string[] = [];
    refused.page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path === '/api/voice-token' || path.startsWith('/api/supervisor/')) refusedRequests.push(path);
    });
    await steps(refused, async () => {
      await signIn(refused.page, boss);
      await refused.page.click(`tr[data-testid="call-${sid}"] button[data-action="listen"]`);
      await refused.page.waitForSelector('[data-testid="action-error"]:not([hidden])');
      expect(await text(refused.page, '[data-testid="action-error"]')).toBe(
        'O acesso ao microfone foi negado. Libere o microfone nas permissões do navegador (ícone ao lado do endereço) e tente de novo. Para ouvir agora, escolha "telefone" e informe um número.',
      );
      expect(refusedRequests).toEqual([]);
      expect(await refused.page.isVisible('[data-testid="monitor-bar"]')).toBe(false);
      await refused.shot('microphone refused');
    });
    expect(await monitors(boss.id)).toHaveLength(1);

    // A phone instead of the browser: the server rings it; the customer hangs up and the page clears the monitoring.
    await steps(b, async () => {
      const phone = newMobile('11');
      await page.check('#monitor-via-phone');
      await page.fill('#monitor-phone', '11 9');
      await page.click(`tr[data-testid="call-${sid}"] button[data-action="listen"]`);
      expect(await text(page, '[data-testid="action-error"]')).toBe('Telefone inválido para a monitoria: informe DDD e número, por exemplo (11) 91234-5678.');
      await page.fill('#monitor-phone', phone.slice(3));
      await page.click(`tr[data-testid="call-${sid}"] button[data-action="listen"]`);
      await page.waitForSelector('[data-testid="monitor-bar"]:not([hidden])');
      const leg = await until('the phone leg joined', async () => {
        const r = (await monitors(boss.id))[1];
        return r?.status === 'joined' && r.participant_call_sid ? r.participant_call_sid : undefined;
      });
      expect(s.emulator.calls().find((c) => c.sid === leg)?.to).toBe(phone);
      expect(await text(page, '#monitor-audio')).toMatch(/^Áudio: no telefone \(11\) 9\d{4}-\d{4}$/);
      await until('listening on the phone', async () => (hears(leg, sid) && !hears(sid, leg) ? true : undefined));
      await b.shot('listening on a phone');
      expect((await api('/api/agent/hangup', agent.token, { call_sid: sid })).status).toBe(200);
      await page.waitForSelector('[data-testid="monitor-bar"]', { state: 'hidden', timeout: 15000 });
      expect(await text(page, '[data-testid="action-ok"]')).toBe('Monitoria encerrada: a ligação terminou.');
      await s.emulator.waitForCall(leg);
      expect((await monitors(boss.id))[1]!.status).toBe('ended');
      await page.check('#monitor-via-browser');
    });

    // A call that ends while "Ouvir" is on its way: 409 call_ended in pt-BR, nothing created.
    const agent2 = await agentWithLogin();
    const shift2 = await startShift(agent2);
    const sid2 = await customerOnCall(agent2, { hangupAfter: 300 });
    await steps(b, async () => {
      const row = `tr[data-testid="call-${sid2}"]`;
      await page.waitForSelector(row);
      const callsBefore = s.emulator.calls().length;
      await page.route('**/api/supervisor/monitor', async (route: Route) => {
        expect((await api('/api/agent/hangup', agent2.token, { call_sid: sid2 })).status).toBe(200);
        await until('the call ended', async () => ((await sql<{ ended_at: Date | null }>(`select ended_at from calls where call_sid = $1`, [sid2]))[0]?.ended_at ? true : undefined));
        await route.continue();
      });
      await page.click(`${row} button[data-action="listen"]`);
      await page.waitForSelector('[data-testid="action-error"]:not([hidden])', { timeout: 20000 });
      expect(await text(page, '[data-testid="action-error"]')).toBe('A ligação já terminou; nada foi feito. (the call has ended)');
      expect(await page.isVisible('[data-testid="monitor-bar"]')).toBe(false);
      await b.shot('call ended meanwhile');
      await page.unroute('**/api/supervisor/monitor');
      // Nothing created: no monitor, no leg to the browser (the customer's own end is the only new emulator activity).
      expect(await monitors(boss.id)).toHaveLength(2);
      expect(s.emulator.calls().slice(callsBefore).filter((c) => c.to === `client:${identity}`)).toEqual([]);
      expect(s.emulator.softphone.calls().filter((c) => c.identity === identity)).toEqual([]);
      expect((await logOf(boss.id)).at(-1)).toMatchObject({ action: 'monitor_start', target: `call:${sid2}`, result: 'call_ended', user_email: boss.email });

      // Signing out takes the Device away: nothing rings this browser for the supervisor any more.
      expect(s.emulator.softphone.registered()).toContain(identity);
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
      await until('the Device unregistered', async () => (s.emulator.softphone.registered().includes(identity) ? undefined : true));
    });
    expect(s.emulator.contractViolations()).toEqual([]);
  });
});
