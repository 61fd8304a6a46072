/**
 * The agent page: sign-in, status, softphone, screen pop (with the campaign's whisper),
 * the preview card of a preview campaign, disposition (the campaign's list, a callback date),
 * lists (waiting customers, missed calls, voicemails with a player, text messages) and notices. One poll of GET /api/agent/state every 3 s drives what is shown (it is
 * also the agent's presence heartbeat); the buttons call the /api actions and the softphone.
 */
import { Api, ApiError } from './api';
import { DISPOSITION_LABEL, DISPOSITION_OUTCOME, OUTCOME_LABEL, STATUS_LABEL, channelLabel, clip, errorText, formatDateTime, formatDuration, formatPhoneBR, listenErrorText, toLocalInput, waitText } from './format';
import { checkMicrophone } from './mic';
import { Notifier } from './notify';
import { deviceFactory, type DeviceFactory, type SoftCall, type SoftDevice } from './softphone';
import type { CurrentCall, Disposition, MeReply, PreviewLead, StateReply, TextMessage, Voicemail } from './types';
import { whisperText } from './whisper-text';
import { SignInForm } from '../shared/sign-in';

/** How often the page polls the state (the server counts an agent present for 20 s after a poll). */
const POLL_MS = 3000;
/** A customer waiting longer than this is notified. */
const WAITING_ALERT_SECONDS = 30;
/** Refresh the voice token this long before it expires even if the device did not say so. */
const TOKEN_MARGIN_SECONDS = 120;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

const api = new Api();
let me: MeReply | null = null;
let last: StateReply | null = null;
let clockOffsetMs = 0;
let pollTimer: number | undefined;
let tickTimer: number | undefined;
let polling = false;
let firstPoll = true;
let makeDevice: DeviceFactory | null = null;
let device: SoftDevice | null = null;
let tokenTimer: number | undefined;
let shiftLeg: SoftCall | null = null;
let connecting = false;
/** A follow-me call ringing (or talked on) the softphone registered while there is no shift leg. */
let direct: SoftCall | null = null;
/** The device is registered for incoming calls (or registering/unregistering now). */
let registered = false;
let registrationBusy = false;
/** When registering last failed (the page retries a minute later, not on every poll). */
let registrationFailedAt = 0;
let held = false;
/** The customer call the page saw last, kept so its disposition can be asked after it ends. */
let lastCall: CurrentCall | null = null;
/** Calls whose disposition is saved (never asked again). */
const dispositioned = new Set<string>();
/** The call the disposition form is for. */
let dispositionFor: CurrentCall | null = null;
/** The disposition list the form shows (the call's campaign's, else the deployment's). */
let dispositionChoices: Disposition[] = [];
/** The last "next lead" request found nothing to call (until the card changes). */
let previewEmpty = false;
/** The campaign call whose whisper was last announced. */
let whispered: string | null = null;
/** What the voicemail and message lists show now (they are redrawn only when it changes, so focus and playback stay). */
let voicemailsShown = '';
let messagesShown = '';

const notifier = new Notifier($('toasts'), () => renderNotifyButton());

// ---------------------------------------------------------------- small helpers

function announce(text: string): void {
  const el = $('events');
  el.textContent = '';
  // A new text node after clearing makes screen readers read it even when it repeats.
  window.setTimeout(() => (el.textContent = text), 30);
}

function showError(id: string, text: string | null): void {
  const el = $(id);
  el.textContent = text ?? '';
  el.hidden = !text;
}

function describe(e: unknown): string {
  if (e instanceof ApiError) return errorText(e.code, e.retryAfter);
  return e instanceof Error && e.message ? `Erro: ${e.message}` : errorText('internal_error');
}

const serverNow = () => Date.now() + clockOffsetMs;

/** Runs an action from a button: disables it meanwhile, shows an error in `errorId`, signs out on a dead session. */
async function act(button: HTMLButtonElement | null, errorId: string, fn: () => Promise<void>): Promise<void> {
  if (button) button.disabled = true;
  showError(errorId, null);
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired')) return signedOut(errorText(e.code));
    showError(errorId, describe(e));
    announce(describe(e));
  } finally {
    if (button) button.disabled = false;
    render();
  }
}

// ---------------------------------------------------------------- sign-in and sign-out

const signIn = new SignInForm({ api, enter: () => enter(), describe });

/** Loads /api/me and opens the working screen; a non-agent session is refused here. */
async function enter(): Promise<void> {
  const who = await api.me();
  if (who.user.role !== 'agent' || !who.agent) {
    await api.logout().catch(() => undefined);
    throw new ApiError(403, 'forbidden_role', 'forbidden_role');
  }
  me = who;
  firstPoll = true;
  $('agent-name').textContent = who.agent!.name;
  fillSelect($<HTMLSelectElement>('pause-reason'), who.pause_reasons.map((r) => [r, r]));
  fillDispositions(null);
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('who').hidden = false;
  renderNotifyButton();
  announce(`Bem-vindo, ${who.agent!.name}.`);
  $('go-available').focus();
  await poll();
  pollTimer = window.setInterval(() => void poll(), POLL_MS);
  tickTimer = window.setInterval(renderTimers, 1000);
}

function fillSelect(sel: HTMLSelectElement, options: [string, string][]): void {
  sel.replaceChildren(...options.map(([value, text]) => new Option(text, value)));
}

/** The disposition list for a call: its campaign's own, else the deployment's codes with their labels. */
function dispositionsFor(call: CurrentCall | null): Disposition[] {
  const own = call?.lead?.campaign?.dispositions;
  if (own && own.length) return own;
  return (me?.disposition_codes ?? []).map((code) => ({ code, label: DISPOSITION_LABEL[code] ?? code, outcome: DISPOSITION_OUTCOME[code] ?? 'done' }));
}

function fillDispositions(call: CurrentCall | null): void {
  dispositionChoices = dispositionsFor(call);
  fillSelect($<HTMLSelectElement>('disposition-code'), [['', 'Escolha o resultado'], ...dispositionChoices.map((d): [string, string] => [d.code, d.label])]);
  renderCallbackBox();
}

/** The callback date is asked (and required) only for a disposition whose outcome is a callback. */
function renderCallbackBox(): void {
  const code = $<HTMLSelectElement>('disposition-code').value;
  const needs = dispositionChoices.find((d) => d.code === code)?.outcome === 'callback';
  const box = $('disposition-callback-box');
  const input = $<HTMLInputElement>('disposition-callback');
  if (needs && box.hidden) {
    input.min = toLocalInput(serverNow());
    if (!input.value) input.value = toLocalInput(serverNow() + 3600_000);
  }
  box.hidden = !needs;
  input.required = needs;
}

/** Back to the sign-in form (session gone or signed out), the softphone closed. */
function signedOut(message: string | null): void {
  window.clearInterval(pollTimer);
  window.clearInterval(tickTimer);
  window.clearTimeout(tokenTimer);
  stopRinging();
  shiftLeg?.disconnect();
  shiftLeg = null;
  direct?.disconnect();
  direct = null;
  registered = false;
  registrationFailedAt = 0;
  device?.destroy();
  device = null;
  api.forget();
  me = null;
  last = null;
  lastCall = null;
  dispositionFor = null;
  previewEmpty = false;
  whispered = null;
  voicemailsShown = '';
  messagesShown = '';
  stopPlayer();
  $('app-view').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  signIn.reset(message);
  $('login-email').focus();
}

async function onLogout(): Promise<void> {
  const button = $<HTMLButtonElement>('logout');
  button.disabled = true;
  try {
    shiftLeg?.disconnect();
    if (last && !['offline', 'busy', 'reserved'].includes(last.agent.status)) await api.setStatus('offline').catch(() => undefined);
    await api.logout().catch(() => undefined);
  } finally {
    button.disabled = false;
    signedOut(null);
    showError('login-error', null);
    announce('Você saiu.');
  }
}

// ---------------------------------------------------------------- polling

async function poll(): Promise<void> {
  if (polling || !me) return;
  polling = true;
  try {
    const state = await api.state();
    clockOffsetMs = Date.parse(state.server_time) - Date.now() || 0;
    onState(state);
    showError('status-error', null);
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired' || e.code === 'forbidden_role')) {
      signedOut(errorText(e.code));
    } else {
      showError('status-error', describe(e));
    }
  } finally {
    polling = false;
  }
}

function onState(state: StateReply): void {
  const prev = last;
  last = state;
  // Notices: an offer, a customer waiting too long, a new voicemail or missed call.
  if (state.offer) {
    notifier.raise({ kind: 'offer', key: `offer:${state.offer.call_sid}`, title: 'Chamada recebida', body: `${formatPhoneBR(state.offer.from)}${state.call?.lead?.name ? ` — ${state.call.lead.name}` : ''}` });
  }
  // An offer that is over no longer says a call is ringing (requireInteraction keeps it up otherwise).
  if (prev?.offer && prev.offer.call_sid !== state.offer?.call_sid) notifier.dismiss(`offer:${prev.offer.call_sid}`);
  for (const w of waitingShown(state)) {
    if (w.wait_seconds >= WAITING_ALERT_SECONDS) {
      notifier.raise({ kind: 'waiting', key: `waiting:${w.call_sid}`, title: 'Cliente aguardando', body: `Um cliente aguarda há ${waitText(w.wait_seconds)}.` });
    }
  }
  for (const v of state.voicemails) {
    const key = `voicemail:${v.recording_id}`;
    if (firstPoll) notifier.remember(key);
    else notifier.raise({ kind: 'voicemail', key, title: v.queue_name ? `Novo recado na fila ${v.queue_name}` : 'Novo recado no correio de voz', body: voicemailText(v) });
  }
  // Each unread text message once; those already there when the page opened are only counted.
  for (const m of state.messages ?? []) {
    if (m.read_at) continue;
    const key = `message:${m.id}`;
    if (firstPoll) notifier.remember(key);
    else notifier.raise({ kind: 'message', key, title: `Nova mensagem (${channelLabel(m.channel)})`, body: `${formatPhoneBR(m.from_number)}: ${clip(m.body, 120) || '(sem texto)'}` });
  }
  // A missed call that left a message the page lists is one event: the voicemail notice says it.
  const listed = new Set(state.voicemails.map((v) => v.call_sid));
  for (const m of state.missed) {
    const key = `missed:${m.call_sid}`;
    if (firstPoll || (m.voicemail && listed.has(m.call_sid))) notifier.remember(key);
    else notifier.raise({ kind: 'missed', key, title: 'Chamada perdida', body: formatPhoneBR(m.from ?? null) });
  }
  firstPoll = false;

  // Ringing while offered (or while a call rings the softphone itself).
  if (state.offer || direct?.status() === 'pending') startRinging();
  else stopRinging();
  void syncRegistration();
  if (state.offer && state.offer.call_sid !== prev?.offer?.call_sid) announce(`Chamada recebida de ${formatPhoneBR(state.offer.from)}. Alt+Shift+A para atender.`);

  // The call the agent is offered, on, or wrapping up: once it ends, ask its disposition.
  const call = state.call;
  if (call) {
    if (call.call_sid !== lastCall?.call_sid) held = false;
    if (call.ended_at && !lastCall?.ended_at) announce('A ligação terminou.');
    if (call.disposition) dispositioned.add(call.call_sid);
    lastCall = call;
    if (call.ended_at) askDisposition(call);
  } else if (lastCall) {
    if (!lastCall.ended_at) announce('A ligação terminou.');
    askDisposition(lastCall);
    lastCall = null;
    held = false;
  }
  if (prev && prev.agent.status !== state.agent.status) announce(`Status: ${STATUS_LABEL[state.agent.status] ?? state.agent.status}.`);
  // A campaign customer reserved for or connected to the agent: say who, with the whisper just heard.
  if (call && call.direction !== 'inbound' && !call.ended_at && call.lead?.campaign && whispered !== call.call_sid && ['reserved', 'busy'].includes(state.agent.status)) {
    whispered = call.call_sid;
    const heard = whisperText(call.lead.campaign.whisper_template, call.lead);
    announce(`Cliente ${call.lead.name ?? formatPhoneBR(call.customer)}.${heard ? ` ${heard}` : ''}`);
  }
  if (state.preview?.id !== prev?.preview?.id) previewEmpty = false;
  render();
}

// ---------------------------------------------------------------- status and the shift leg

async function ensureDevice(): Promise<SoftDevice> {
  if (device) return device;
  if (!me) throw new Error('sem sessão');
  makeDevice ??= await deviceFactory(me.softphone);
  const t = await api.voiceToken();
  const d = makeDevice(t.token);
  d.on('incoming', (call: SoftCall) => onIncoming(call));
  d.on('unregistered', () => (registered = false));
  d.on('tokenWillExpire', () => void refreshToken());
  d.on('error', (err: { message?: string }) => showError('phone-error', `Erro no softphone: ${err?.message ?? 'desconhecido'}`));
  device = d;
  scheduleTokenRefresh(t.ttl_seconds);
  return d;
}

function scheduleTokenRefresh(ttlSeconds: number): void {
  window.clearTimeout(tokenTimer);
  tokenTimer = window.setTimeout(() => void refreshToken(), Math.max(10, ttlSeconds - TOKEN_MARGIN_SECONDS) * 1000);
}

let lastRefresh = 0;

async function refreshToken(): Promise<void> {
  // The device's warning and the timer may both fire; a short-lived token must not loop.
  if (!device || Date.now() - lastRefresh < 10000) return;
  lastRefresh = Date.now();
  try {
    const t = await api.voiceToken();
    device.updateToken(t.token);
    scheduleTokenRefresh(t.ttl_seconds);
  } catch (e) {
    showError('phone-error', `Não foi possível renovar o acesso do softphone: ${describe(e)}`);
    scheduleTokenRefresh(TOKEN_MARGIN_SECONDS + 30);
  }
}

// ---------------------------------------------------------------- calls to the softphone itself

/**
 * While the agent has no shift leg (offline, paused, or not yet connected) the follow-me
 * chain's softphone hop rings this browser (a Dial verb with a Client noun): the device is registered for
 * incoming calls then, and unregistered once a shift leg exists (a browser on a shift call
 * is not rung; the chain skips the hop). Called after every poll.
 */
async function syncRegistration(): Promise<void> {
  if (!me || !last || registrationBusy || !me.agent?.client_identity) return;
  const want = !shiftLeg && !connecting && !last.agent.shift_connected;
  if (want === registered && (!want || device?.state === 'registered' || device?.state === 'registering')) return;
  if (!want && direct) return;
  if (want && Date.now() - registrationFailedAt < 60000) return;
  registrationBusy = true;
  try {
    if (want) {
      const d = await ensureDevice();
      await d.register();
      registered = true;
    } else if (device) {
      registered = false;
      if (device.state === 'registered') await device.unregister();
    }
  } catch (e) {
    registered = false;
    registrationFailedAt = Date.now();
    showError('phone-error', `O softphone não ficou disponível para chamadas: ${describe(e)}`);
  } finally {
    registrationBusy = false;
  }
}

/** A call to the softphone itself (the follow-me's first hop): ring, notify, let the agent answer or refuse. */
function onIncoming(call: SoftCall): void {
  if (direct || shiftLeg) {
    call.reject();
    return;
  }
  direct = call;
  const from = call.parameters['From'] ?? null;
  const key = `direct:${call.parameters['CallSid'] ?? Date.now()}`;
  const shown = from && /^\+\d+$/.test(from) ? formatPhoneBR(from) : (from ?? 'número desconhecido');
  notifier.raise({ kind: 'offer', key, title: 'Chamada recebida no softphone', body: shown });
  announce(`Chamada recebida de ${shown}. Atender ou recusar.`);
  startRinging();
  call.on('accept', () => {
    stopRinging();
    notifier.dismiss(key);
    render();
  });
  const over = () => {
    if (direct !== call) return;
    direct = null;
    stopRinging();
    notifier.dismiss(key);
    render();
    void poll();
  };
  call.on('disconnect', over);
  call.on('cancel', over);
  call.on('reject', over);
  call.on('error', (err: { message?: string }) => showError('phone-error', `Erro na ligação: ${err?.message ?? 'desconhecido'}`));
  render();
}

/**
 * The waiting customers to show: the caller being talked to on the softphone itself is not
 * waiting (the database learns that the hop was answered only when it ends).
 */
function waitingShown(state: StateReply): StateReply['waiting'] {
  const talking = direct && direct.status() !== 'pending' ? direct.parameters['From'] : undefined;
  return talking ? state.waiting.filter((w) => w.from !== talking) : state.waiting;
}

function directAnswer(): void {
  if (!direct || direct.status() !== 'pending') return;
  stopRinging();
  direct.accept();
  render();
}

function directReject(): void {
  if (!direct) return;
  stopRinging();
  if (direct.status() === 'pending') direct.reject();
  else direct.disconnect();
}

/** Starts the shift leg: the softphone joins the agent's own room and waits there for customers. */
async function startShiftLeg(): Promise<void> {
  if (shiftLeg || connecting) return;
  connecting = true;
  render();
  try {
    const d = await ensureDevice();
    const leg = await d.connect();
    shiftLeg = leg;
    leg.on('accept', () => {
      announce('Softphone conectado. Aguardando clientes.');
      render();
    });
    leg.on('mute', () => render());
    const ended = () => {
      if (shiftLeg === leg) shiftLeg = null;
      announce('Softphone desconectado.');
      render();
      void poll();
    };
    leg.on('disconnect', ended);
    leg.on('cancel', ended);
    leg.on('error', (err: { message?: string }) => showError('phone-error', `Erro na linha: ${err?.message ?? 'desconhecido'}`));
  } finally {
    connecting = false;
    render();
    void syncRegistration();
  }
}

async function setStatus(status: 'available' | 'paused' | 'offline', button: HTMLButtonElement): Promise<void> {
  await act(button, 'status-error', async () => {
    const reason = status === 'paused' ? $<HTMLSelectElement>('pause-reason').value : undefined;
    await api.setStatus(status, reason);
    if (status === 'available') {
      try {
        await startShiftLeg();
      } catch (e) {
        showError('phone-error', `O softphone não conectou: ${describe(e)}`);
      }
    } else if (status === 'offline') {
      shiftLeg?.disconnect();
      shiftLeg = null;
    }
    if (dispositionFor && status !== 'offline') {
      // Leaving wrap-up by choice keeps the form: the disposition can still be saved.
    }
    await poll();
  });
}

// ---------------------------------------------------------------- call controls

async function answer(): Promise<void> {
  const offer = last?.offer;
  if (!offer) return;
  await act($<HTMLButtonElement>('answer'), 'phone-error', async () => {
    stopRinging();
    await api.answer(offer.call_sid);
    announce('Atendendo.');
    await poll();
  });
}

async function hangup(): Promise<void> {
  const live = last?.call && !last.call.ended_at ? last.call : null;
  const sid = live?.call_sid ?? last?.offer?.call_sid;
  if (!sid) return;
  await act($<HTMLButtonElement>('hangup'), 'phone-error', async () => {
    await api.hangup(sid);
    announce('Ligação encerrada.');
    await poll();
  });
}

function toggleMute(): void {
  if (!shiftLeg) return;
  shiftLeg.mute(!shiftLeg.isMuted());
  announce(shiftLeg.isMuted() ? 'Microfone mudo.' : 'Microfone ativo.');
  render();
}

async function toggleHold(): Promise<void> {
  const sid = last?.call?.call_sid;
  if (!sid || !inCall()) return;
  await act($<HTMLButtonElement>('hold'), 'phone-error', async () => {
    await api.hold(sid, !held);
    held = !held;
    announce(held ? 'Cliente em espera.' : 'Cliente de volta à linha.');
  });
}

function sendDigit(d: string): void {
  if (!shiftLeg) return;
  shiftLeg.sendDigits(d);
  announce(`Tecla ${d}`);
}

async function dial(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const input = $<HTMLInputElement>('dial-to');
  const to = input.value.trim();
  if (!to) {
    showError('phone-error', 'Informe o número para ligar.');
    input.focus();
    return;
  }
  await act($<HTMLButtonElement>('dial-submit'), 'phone-error', async () => {
    if (!shiftLeg) await startShiftLeg();
    const r = await api.call(to);
    announce(`Ligando para ${formatPhoneBR(to)}.`);
    if (r.status) $('phone-state').textContent = `Ligando para ${to}…`;
    input.value = '';
    await poll();
  });
}

const inCall = () => last?.agent.status === 'busy' && !!last.call && !last.call.ended_at;

// ---------------------------------------------------------------- disposition

/** Opens the form for an ended call unless its disposition is saved or the form is already for it. */
function askDisposition(call: CurrentCall): void {
  if (dispositioned.has(call.call_sid) || call.disposition || dispositionFor?.call_sid === call.call_sid) return;
  openDisposition(call);
}

function openDisposition(call: CurrentCall): void {
  dispositionFor = call;
  $('disposition').hidden = false;
  $('disposition-customer').textContent = call.lead?.name ? `${call.lead.name} (${formatPhoneBR(call.customer)})` : formatPhoneBR(call.customer);
  $<HTMLInputElement>('disposition-callback').value = '';
  fillDispositions(call);
  $<HTMLSelectElement>('disposition-code').value = '';
  $<HTMLTextAreaElement>('disposition-notes').value = '';
  renderCallbackBox();
  showError('disposition-error', null);
  $('disposition-code').focus();
}

async function saveDisposition(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const call = dispositionFor;
  if (!call) return;
  const code = $<HTMLSelectElement>('disposition-code').value;
  if (!code) {
    showError('disposition-error', 'Escolha o resultado da ligação.');
    $('disposition-code').focus();
    return;
  }
  const notes = $<HTMLTextAreaElement>('disposition-notes').value.trim();
  const askingCallback = !$('disposition-callback-box').hidden;
  const callbackLocal = askingCallback ? $<HTMLInputElement>('disposition-callback').value : '';
  const body: { call_sid: string; code: string; notes?: string; callback_at?: string } = { call_sid: call.call_sid, code };
  if (notes) body.notes = notes;
  if (askingCallback && !callbackLocal) {
    showError('disposition-error', 'Informe a data e a hora do retorno.');
    $('disposition-callback').focus();
    return;
  }
  if (callbackLocal) {
    const at = new Date(callbackLocal);
    if (Number.isNaN(at.getTime())) return showError('disposition-error', 'Data de retorno inválida.');
    if (at.getTime() <= serverNow()) {
      showError('disposition-error', 'O retorno precisa ser no futuro.');
      $('disposition-callback').focus();
      return;
    }
    body.callback_at = at.toISOString();
  }
  await act($<HTMLButtonElement>('disposition-submit'), 'disposition-error', async () => {
    await api.disposition(body);
    dispositioned.add(call.call_sid);
    dispositionFor = null;
    $('disposition').hidden = true;
    announce('Tabulação salva.');
    $('go-available').focus();
  });
}

// ---------------------------------------------------------------- preview mode

const previewLead = (): PreviewLead | null => last?.preview ?? null;
const inPreviewCampaign = () => last?.campaign?.mode === 'preview';

async function previewNext(): Promise<void> {
  if (!inPreviewCampaign()) return;
  await act($<HTMLButtonElement>('preview-next'), 'preview-error', async () => {
    const r = await api.previewNext();
    previewEmpty = !r.lead;
    announce(r.lead ? `Próximo cliente: ${r.lead.name ?? formatPhoneBR(r.lead.phone_number)}. Alt+Shift+L para ligar, Alt+Shift+P para pular.` : 'Nenhum cliente para ligar agora.');
    await poll();
    if (r.lead) $('preview-dial').focus();
  });
}

async function previewDial(): Promise<void> {
  const lead = previewLead();
  if (!lead) return;
  await act($<HTMLButtonElement>('preview-dial'), 'preview-error', async () => {
    if (!shiftLeg) await startShiftLeg();
    await api.previewDial(lead.id);
    announce(`Ligando para ${lead.name ?? formatPhoneBR(lead.phone_number)}.`);
    await poll();
  });
}

async function previewSkip(): Promise<void> {
  const lead = previewLead();
  if (!lead) return;
  await act($<HTMLButtonElement>('preview-skip'), 'preview-error', async () => {
    await api.previewSkip(lead.id);
    const r = await api.previewNext();
    previewEmpty = !r.lead;
    announce(r.lead ? `Cliente pulado. Próximo: ${r.lead.name ?? formatPhoneBR(r.lead.phone_number)}.` : 'Cliente pulado. Nenhum outro para ligar agora.');
    await poll();
    $(r.lead ? 'preview-dial' : 'preview-next').focus();
  });
}

function renderPreview(): void {
  const box = $('preview-box');
  // Hidden while a customer is offered, on the line or being wrapped up (the form is open).
  box.hidden = !inPreviewCampaign() || !!last?.call || !!dispositionFor;
  if (box.hidden) return;
  const lead = previewLead();
  $('preview-lead').hidden = !lead;
  $('preview-none').hidden = !!lead || !previewEmpty;
  $('preview-next').hidden = !!lead;
  const busy = last?.agent.status === 'reserved' || last?.agent.status === 'busy';
  $<HTMLButtonElement>('preview-dial').disabled = busy;
  $<HTMLButtonElement>('preview-next').disabled = busy || last?.agent.status === 'offline';
  if (!lead) return;
  $('preview-name').textContent = lead.name ?? 'Cliente sem nome';
  $('preview-number').textContent = formatPhoneBR(lead.phone_number);
  const parts = [lead.attempts === 0 ? 'Primeira tentativa' : `${lead.attempts} tentativa${lead.attempts === 1 ? '' : 's'} antes`];
  if (lead.outcome) parts.push(`último resultado: ${OUTCOME_LABEL[lead.outcome] ?? DISPOSITION_LABEL[lead.outcome] ?? lead.outcome}`);
  if (lead.callback_at) parts.push(`retorno marcado para ${formatDateTime(lead.callback_at)}`);
  $('preview-attempts').textContent = parts.join(' — ');
  renderFields($('preview-fields'), lead.fields);
}

// ---------------------------------------------------------------- ringing

let ringCtx: AudioContext | null = null;
let ringTimer: number | undefined;

function startRinging(): void {
  if (ringTimer !== undefined) return;
  const beep = () => {
    try {
      ringCtx ??= new AudioContext();
      const o = ringCtx.createOscillator();
      const g = ringCtx.createGain();
      o.frequency.value = 440;
      g.gain.value = 0.08;
      o.connect(g).connect(ringCtx.destination);
      o.start();
      o.stop(ringCtx.currentTime + 0.8);
    } catch {
      // No audio output: the notice and the page still show the call.
    }
  };
  beep();
  ringTimer = window.setInterval(beep, 2500);
}

function stopRinging(): void {
  window.clearInterval(ringTimer);
  ringTimer = undefined;
}

// ---------------------------------------------------------------- rendering

function renderNotifyButton(): void {
  const b = $<HTMLButtonElement>('notify-permission');
  const p = notifier.permission;
  b.hidden = p === 'granted';
  b.disabled = p === 'denied' || p === 'unsupported';
  b.textContent = p === 'denied' ? 'Notificações bloqueadas (avisos na página)' : p === 'unsupported' ? 'Sem notificações (avisos na página)' : 'Ativar notificações';
}

function render(): void {
  if (!me || !last) return;
  const s = last.agent.status;
  const label = STATUS_LABEL[s] ?? s;
  const badge = $('status-badge');
  badge.textContent = label;
  badge.dataset['status'] = s;
  $('status-now').textContent = s === 'paused' && last.agent.pause_reason ? `${label} — ${last.agent.pause_reason}` : label;
  const locked = s === 'reserved' || s === 'busy';
  for (const id of ['go-available', 'go-paused', 'go-offline']) {
    const b = $<HTMLButtonElement>(id);
    b.disabled = locked;
    b.setAttribute('aria-pressed', String(b.dataset['status'] === s));
  }

  // A call to the softphone itself.
  $('direct-box').hidden = !direct;
  if (direct) {
    const from = direct.parameters['From'] ?? '';
    const ringing = direct.status() === 'pending';
    $('direct-title').textContent = ringing ? 'Chamada no softphone' : 'Em ligação no softphone';
    $('direct-from').textContent = /^\+\d+$/.test(from) ? formatPhoneBR(from) : from || 'número desconhecido';
    $('direct-answer').hidden = !ringing;
    $('direct-reject').hidden = !ringing;
    $('direct-hangup').hidden = ringing;
  }

  // Softphone line.
  const offer = last.offer;
  $('offer-box').hidden = !offer;
  if (offer) $('offer-from').textContent = formatPhoneBR(offer.from);
  $<HTMLButtonElement>('answer').disabled = !offer;
  $<HTMLButtonElement>('hangup').disabled = !((last.call && !last.call.ended_at) || offer);
  const mute = $<HTMLButtonElement>('mute');
  mute.disabled = !shiftLeg;
  mute.setAttribute('aria-pressed', String(!!shiftLeg?.isMuted()));
  mute.textContent = shiftLeg?.isMuted() ? 'Tirar do mudo' : 'Mudo';
  const hold = $<HTMLButtonElement>('hold');
  hold.disabled = !inCall();
  hold.setAttribute('aria-pressed', String(held));
  hold.textContent = held ? 'Retomar' : 'Espera';
  for (const k of document.querySelectorAll<HTMLButtonElement>('.keypad button')) k.disabled = !shiftLeg;
  $('phone-state').textContent = connecting
    ? 'Conectando o softphone…'
    : offer
      ? 'Tocando…'
      : inCall()
        ? held
          ? 'Em ligação (cliente em espera)'
          : 'Em ligação'
        : last.call?.ended_at
          ? 'Ligação encerrada'
          : s === 'reserved' && last.call && last.call.direction !== 'inbound'
            ? `Chamando ${last.call.lead?.name ?? formatPhoneBR(last.call.customer)}…`
            : shiftLeg
              ? 'Conectado — aguardando clientes'
              : s === 'available'
                ? 'Desconectado — clique em Disponível para conectar'
                : 'Desconectado';

  const campaign = last.campaign;
  $('campaign-line').hidden = !campaign;
  if (campaign) $('campaign-line').textContent = `Campanha: ${campaign.name}${campaign.mode === 'preview' ? ' (prévia)' : ''}${campaign.status !== 'active' ? ' — parada' : ''}`;
  renderPreview();
  renderPop(last.call, offer?.from ?? null);
  renderList('waiting', waitingShown(last).map((w) => `${formatPhoneBR(w.from)} — aguardando há ${waitText(w.wait_seconds)}`));
  renderList('missed', last.missed.map((m) => listedText(m) + (m.voicemail ? ' — deixou recado' : '')));
  renderVoicemails(last.voicemails);
  renderMessages(last.messages ?? [], last.messages_unread ?? 0);
  renderTimers();
}

function listedText(c: { from: string | null; at: string; duration?: number | null }): string {
  const when = formatDateTime(c.at);
  const dur = typeof c.duration === 'number' ? ` (${formatDuration(c.duration)})` : '';
  return `${formatPhoneBR(c.from ?? null)}${when ? ` — ${when}` : ''}${dur}`;
}

function renderList(name: string, items: string[]): void {
  $(`${name}-count`).textContent = String(items.length);
  const ul = $(`${name}-list`);
  ul.replaceChildren(
    ...(items.length ? items : ['Nenhum.']).map((t) => {
      const li = document.createElement('li');
      li.textContent = t;
      if (!items.length) li.className = 'hint';
      return li;
    }),
  );
}

/** "(11) 98765-4321 — 26/11 10:42 (0:21)" of a voicemail. */
function voicemailText(v: Voicemail): string {
  return listedText({ from: v.from_number, at: v.at, duration: v.duration });
}

function emptyItem(): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = 'Nenhum.';
  li.className = 'hint';
  return li;
}

function smallButton(text: string, label: string, onClick: (b: HTMLButtonElement) => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary small';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', () => onClick(b));
  return b;
}

function tag(text: string): HTMLSpanElement {
  const t = document.createElement('span');
  t.className = 'tag';
  t.textContent = text;
  return t;
}

/** The voicemail list: who, when, how long, the queue, the transcription, and "Ouvir". */
function renderVoicemails(items: Voicemail[]): void {
  $('voicemail-count').textContent = String(items.length);
  const shown = JSON.stringify(items.map((v) => [v.recording_id, v.duration, v.transcription, v.queue_name]));
  if (shown === voicemailsShown) return;
  voicemailsShown = shown;
  $('voicemail-list').replaceChildren(
    ...(items.length
      ? items.map((v) => {
          const li = document.createElement('li');
          li.dataset['recordingId'] = String(v.recording_id);
          const line = document.createElement('div');
          line.className = 'item-line';
          const text = document.createElement('span');
          text.className = 'item-text';
          text.textContent = voicemailText(v);
          if (v.queue_name) text.append(tag(`fila ${v.queue_name}`));
          line.append(text, smallButton('Ouvir', `Ouvir o recado de ${formatPhoneBR(v.from_number)}`, (b) => void listen(v, b)));
          li.append(line);
          if (v.transcription) {
            const p = document.createElement('p');
            p.className = 'transcription';
            p.textContent = `“${v.transcription}”`;
            li.append(p);
          }
          return li;
        })
      : [emptyItem()]),
  );
}

function stopPlayer(): void {
  const audio = $<HTMLAudioElement>('voicemail-player');
  audio.pause();
  audio.removeAttribute('src');
  $('voicemail-player-box').hidden = true;
  showError('voicemail-error', null);
}

/** Asks /api/recordings/listen for a short-lived URL and plays it in the page's player. */
async function listen(v: Voicemail, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  showError('voicemail-error', null);
  try {
    const { url } = await api.listen(v.recording_id);
    const audio = $<HTMLAudioElement>('voicemail-player');
    audio.src = url;
    $('voicemail-playing').textContent = `Recado de ${voicemailText(v)}`;
    $('voicemail-player-box').hidden = false;
    announce(`Tocando o recado de ${formatPhoneBR(v.from_number)}.`);
    // A browser may refuse to start playing by itself: the player's own button is there.
    await audio.play().catch(() => undefined);
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired')) return signedOut(errorText(e.code));
    const text = e instanceof ApiError ? listenErrorText(e.status, e.code, e.retryAfter) : describe(e);
    showError('voicemail-error', text);
    announce(text);
  } finally {
    button.disabled = false;
  }
}

/** The text messages: unread first (bold, with "Marcar como lida"), sender, time, channel, text. */
function renderMessages(items: TextMessage[], unread: number): void {
  $('messages-count').textContent = String(unread);
  const shown = JSON.stringify(items.map((m) => [m.id, m.read_at]));
  if (shown === messagesShown) return;
  messagesShown = shown;
  $('messages-list').replaceChildren(
    ...(items.length
      ? items.map((m) => {
          const li = document.createElement('li');
          li.dataset['messageId'] = String(m.id);
          if (!m.read_at) li.className = 'unread';
          const line = document.createElement('div');
          line.className = 'item-line';
          const text = document.createElement('span');
          text.className = 'item-text';
          const when = formatDateTime(m.at);
          text.textContent = `${formatPhoneBR(m.from_number)}${when ? ` — ${when}` : ''}`;
          text.append(tag(channelLabel(m.channel)));
          if (m.for_team) text.append(tag('equipe'));
          line.append(text);
          if (!m.read_at) line.append(smallButton('Marcar como lida', `Marcar como lida a mensagem de ${formatPhoneBR(m.from_number)}`, (b) => void markRead(m, b)));
          const body = document.createElement('p');
          body.className = 'message-body';
          body.textContent = m.body || '(mensagem sem texto)';
          li.append(line, body);
          return li;
        })
      : [emptyItem()]),
  );
}

async function markRead(m: TextMessage, button: HTMLButtonElement): Promise<void> {
  await act(button, 'messages-error', async () => {
    await api.markMessageRead(m.id);
    notifier.dismiss(`message:${m.id}`);
    announce('Mensagem marcada como lida.');
    await poll();
  });
}

function renderPop(call: CurrentCall | null, offeredFrom: string | null): void {
  const number = call?.customer ?? offeredFrom;
  $('pop-empty').hidden = !!number;
  $('pop-body').hidden = !number;
  if (!number) return;
  $('pop-number').textContent = formatPhoneBR(number);
  $('pop-direction').textContent = call ? (call.direction === 'inbound' ? 'Recebida' : 'Efetuada') : 'Recebida';
  const lead = call?.lead ?? null;
  $('pop-name').textContent = lead?.name ?? 'Cliente não identificado';
  const campaign = lead?.campaign;
  $('pop-campaign').textContent = campaign ? `Campanha: ${typeof campaign === 'string' ? campaign : campaign.name ?? campaign.id ?? ''}` : '';
  renderFields($('pop-fields'), lead?.fields ?? {});
  // The whisper the agent heard (or is hearing) for a campaign call.
  const heard = call && call.direction !== 'inbound' && lead?.campaign ? whisperText(lead.campaign.whisper_template, lead) : '';
  $('pop-whisper').hidden = !heard;
  $('pop-whisper-text').textContent = heard;
  const history = call?.history ?? [];
  $('pop-history-empty').hidden = history.length > 0;
  $('pop-history-table').hidden = history.length === 0;
  $('pop-history').replaceChildren(
    ...history.map((h) => {
      const tr = document.createElement('tr');
      for (const text of [
        formatDateTime(h.at),
        h.direction === 'inbound' ? 'Recebida' : 'Efetuada',
        typeof h.duration === 'number' ? formatDuration(h.duration) : '—',
        h.disposition ? DISPOSITION_LABEL[h.disposition] ?? h.disposition : '—',
      ]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** A lead's imported fields as a definition list. */
function renderFields(list: HTMLElement, fields: Record<string, unknown>): void {
  list.replaceChildren(
    ...Object.entries(fields).flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      // Imported column names as words: dias_atraso → Dias atraso.
      const words = k.replace(/[_-]+/g, ' ').trim();
      dt.textContent = words.charAt(0).toUpperCase() + words.slice(1);
      const dd = document.createElement('dd');
      dd.textContent = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return [dt, dd];
    }),
  );
}

/** The once-a-second parts: the time in status and the wrap-up countdown. */
function renderTimers(): void {
  if (!last) return;
  const since = Date.parse(last.agent.status_since);
  const until = last.agent.status === 'wrap_up' && last.agent.wrap_up_until ? Date.parse(last.agent.wrap_up_until) : NaN;
  const left = Number.isNaN(until) ? '' : `${formatDuration((until - serverNow()) / 1000)} restantes`;
  // In wrap-up the status shows the time left; otherwise the time in the status.
  $('status-timer').textContent = left || (Number.isNaN(since) ? '' : formatDuration((serverNow() - since) / 1000));
  $('wrapup-timer').textContent = left ? `Pós-atendimento: ${left}` : '';
}

// ---------------------------------------------------------------- wiring

function onKey(ev: KeyboardEvent): void {
  if (!me || !ev.altKey || !ev.shiftKey || ev.ctrlKey || ev.metaKey) return;
  const actions: Record<string, () => void> = {
    KeyA: () => void answer(),
    KeyD: () => void hangup(),
    KeyM: toggleMute,
    KeyE: () => void toggleHold(),
    KeyL: () => void previewDial(),
    KeyP: () => void previewSkip(),
    KeyN: () => void previewNext(),
  };
  const run = actions[ev.code];
  if (run) {
    ev.preventDefault();
    run();
  }
}

async function micCheck(): Promise<void> {
  const button = $<HTMLButtonElement>('mic-check');
  const meter = $<HTMLMeterElement>('mic-level');
  button.disabled = true;
  $('mic-message').textContent = 'Fale algo: medindo o microfone…';
  try {
    const r = await checkMicrophone((level) => (meter.value = level));
    $('mic-message').textContent = r.message;
    $('mic-message').dataset['ok'] = String(r.ok);
  } finally {
    button.disabled = false;
  }
}

function wire(): void {
  signIn.wire();
  $('logout').addEventListener('click', () => void onLogout());
  $('notify-permission').addEventListener('click', () => void notifier.requestPermission());
  for (const id of ['go-available', 'go-paused', 'go-offline']) {
    const b = $<HTMLButtonElement>(id);
    b.addEventListener('click', () => void setStatus(b.dataset['status'] as 'available' | 'paused' | 'offline', b));
  }
  $('answer').addEventListener('click', () => void answer());
  $('direct-answer').addEventListener('click', directAnswer);
  $('direct-reject').addEventListener('click', directReject);
  $('direct-hangup').addEventListener('click', directReject);
  $('hangup').addEventListener('click', () => void hangup());
  $('mute').addEventListener('click', toggleMute);
  $('hold').addEventListener('click', () => void toggleHold());
  for (const k of document.querySelectorAll<HTMLButtonElement>('.keypad button')) k.addEventListener('click', () => sendDigit(k.dataset['digit']!));
  $('dial-form').addEventListener('submit', (e) => void dial(e as SubmitEvent));
  $('disposition-form').addEventListener('submit', (e) => void saveDisposition(e as SubmitEvent));
  $('disposition-code').addEventListener('change', renderCallbackBox);
  $('preview-next').addEventListener('click', () => void previewNext());
  $('preview-dial').addEventListener('click', () => void previewDial());
  $('preview-skip').addEventListener('click', () => void previewSkip());
  $('mic-check').addEventListener('click', () => void micCheck());
  document.addEventListener('keydown', onKey);
}

async function boot(): Promise<void> {
  wire();
  renderNotifyButton();
  // A session may live in the cookie alone (HttpOnly): ask /api/me before showing the form.
  // Without a token of ours, a failure just means "not signed in": the form, no error.
  const hadToken = api.signedIn;
  try {
    await enter();
  } catch (e) {
    const quiet = !hadToken || (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired'));
    signedOut(quiet ? null : describe(e));
  }
}

void boot();
