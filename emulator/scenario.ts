import { readFileSync } from 'node:fs';
import { createTwilioClient } from '../src/lib/runtime/twilio-client';
import { startDemoApp } from './demo-app';
import { formatTimeline, startEmulator, type Emulator, type EmulatorOptions } from './index';
import type { FaultSpec } from './webhooks';
import type { PartySpec } from './parties';

/** One expectation of a scenario (all fields of one entry must hold). */
export interface Expectation {
  /** Call id from `calls` (the timeline includes the legs it dialed). */
  call?: string;
  /** Final status of the call. */
  status?: string;
  /** The call heard a `<Say>` containing this text (case-insensitive). */
  heard?: string;
  /** The call played a `<Play>` whose URL contains this. */
  played?: string;
  /** The call ran this verb. */
  verb?: string;
  /** A webhook of the call whose URL contains this… */
  webhook?: string;
  /** …was answered with this HTTP status. */
  answered?: number;
  /** AMD result of the call. */
  answeredBy?: string;
  /** The call had no error entries (11200, 12100…). */
  noErrors?: boolean;
  /** No REST request broke Twilio's OpenAPI contract. */
  noContractViolations?: boolean;
  /** Number of recordings made in the whole scenario. */
  recordings?: number;
  /** Message id from `messages`: its SmsUrl request was answered with `answered` (when given)… */
  message?: string;
  /** …and Twilio sent a reply containing this text (case-insensitive). */
  replied?: string;
  /** …and no reply was sent. */
  noReply?: boolean;
}

/** A scenario file (JSON). URLs that start with `/` are relative to `appUrl`. */
export interface Scenario {
  name: string;
  description?: string;
  /** Virtual seconds per real second (default 100). */
  speed?: number;
  /** `"demo"` starts the built-in demo TwiML app (emulator/demo-app.ts) and uses its URL as appUrl. */
  app?: 'demo';
  /** Base URL of the app under test; `--app-url` overrides it. */
  appUrl?: string;
  emulator?: Pick<EmulatorOptions, 'cps' | 'cpsQueueLimit' | 'requireAddressForBR' | 'requireBundleForBR' | 'dialingPermissions' | 'verifiedCallerIds'>;
  parties?: PartySpec[];
  numbers?: { phoneNumber: string; voiceUrl?: string; voiceMethod?: string; statusCallback?: string; smsUrl?: string }[];
  calls: {
    id: string;
    /** Virtual seconds after the start at which the call is placed. */
    at?: number;
    inbound?: { from: string; to: string; forwardedFrom?: string; party?: Partial<PartySpec> };
    /** Calls create parameters in the twilio client's camelCase (to, from, url, statusCallback, machineDetection, record…). */
    outbound?: Record<string, unknown> & { to: string; from: string };
  }[];
  /** Inbound SMS/WhatsApp (`whatsapp:+55…` addresses) sent to the numbers' SmsUrl, in `at` order. */
  messages?: { id: string; at?: number; from: string; to: string; body: string; profileName?: string }[];
  faults?: FaultSpec[];
  expect?: Expectation[];
}

/** Result of running a scenario. */
export interface ScenarioResult {
  ok: boolean;
  failures: string[];
  report: string;
  callSids: Record<string, string>;
  /** What each message of `messages` got: its MessageSid, the SmsUrl's HTTP status, the replies. */
  messages: Record<string, MessageOutcome>;
  wallMs: number;
  virtualMs: number;
}

/** An inbound message of a scenario, once delivered. */
export interface MessageOutcome {
  sid: string;
  status: number;
  replies: { sid: string; from: string; to: string; body: string }[];
  error?: number;
}

/** Loads a scenario file. */
export function loadScenario(file: string): Scenario {
  return JSON.parse(readFileSync(file, 'utf8')) as Scenario;
}

function abs(url: unknown, base: string): unknown {
  return typeof url === 'string' && url.startsWith('/') ? base.replace(/\/$/, '') + url : url;
}

/** Runs a scenario against its app on a fresh in-process emulator and checks its expectations. */
export async function runScenario(
  sc: Scenario,
  o: { appUrl?: string; accountSid?: string; authToken?: string; speed?: number; port?: number; quiet?: boolean; log?: (l: string) => void } = {},
): Promise<ScenarioResult> {
  const started = Date.now();
  const emu: Emulator = await startEmulator({
    ...sc.emulator, speed: o.speed ?? sc.speed ?? 100, accountSid: o.accountSid, authToken: o.authToken, port: o.port ?? 0, log: o.log,
  });
  const demo = !o.appUrl && sc.app === 'demo' ? await startDemoApp(emu.authToken) : undefined;
  const appUrl = o.appUrl ?? demo?.url ?? sc.appUrl;
  if (!appUrl) throw new Error('scenario has no appUrl: set "appUrl", "app": "demo" or pass --app-url');
  const client = createTwilioClient(emu.accountSid, emu.authToken, emu.url);
  const callSids: Record<string, string> = {};
  const messages: Record<string, MessageOutcome> = {};
  const failures: string[] = [];
  try {
    for (const p of sc.parties ?? []) emu.addParty(p);
    for (const f of sc.faults ?? []) emu.addFault(f);
    for (const n of sc.numbers ?? []) {
      await client.incomingPhoneNumbers.create({
        phoneNumber: n.phoneNumber, voiceUrl: abs(n.voiceUrl, appUrl) as string | undefined, voiceMethod: n.voiceMethod,
        statusCallback: abs(n.statusCallback, appUrl) as string | undefined, smsUrl: abs(n.smsUrl, appUrl) as string | undefined,
      });
    }
    const t0 = emu.clock.elapsed();
    const sendMessages = async () => {
      for (const m of [...(sc.messages ?? [])].sort((a, b) => (a.at ?? 0) - (b.at ?? 0))) {
        const wait = t0 + (m.at ?? 0) * 1000 - emu.clock.elapsed();
        if (wait > 0) await emu.clock.sleep(wait);
        messages[m.id] = await emu.sendInboundMessage({ from: m.from, to: m.to, body: m.body, profileName: m.profileName });
      }
    };
    await Promise.all([
      sendMessages(),
      ...sc.calls.map(async (c) => {
        const wait = t0 + (c.at ?? 0) * 1000 - emu.clock.elapsed();
        if (wait > 0) await emu.clock.sleep(wait);
        if (c.inbound) callSids[c.id] = await emu.placeInboundCall(c.inbound);
        else if (c.outbound) {
          const params = Object.fromEntries(Object.entries(c.outbound).map(([k, v]) => [k, /url|callback$/i.test(k) ? abs(v, appUrl) : v]));
          const created = await client.calls.create(params as unknown as Parameters<typeof client.calls.create>[0]);
          callSids[c.id] = created.sid;
        } else throw new Error(`call ${c.id} needs "inbound" or "outbound"`);
      }),
    ]);
    await emu.waitUntilIdle({ timeoutMs: 120000 });
    const lines: string[] = [`Scenario: ${sc.name}`, `App: ${appUrl}   Emulator: ${emu.url}   speed x${emu.clock.speed}`];
    for (const c of sc.calls) {
      const sid = callSids[c.id] as string;
      const view = emu.calls().find((x) => x.sid === sid);
      lines.push('', `Call ${c.id} ${sid} ${view?.direction} ${view?.from} -> ${view?.to}: ${view?.status}${view?.answeredBy ? ` (AnsweredBy ${view.answeredBy})` : ''}`);
      if (!o.quiet) lines.push(formatTimeline(emu.timeline(sid, { children: true })));
    }
    for (const m of sc.messages ?? []) {
      const got = messages[m.id];
      lines.push('', `Message ${m.id} ${got?.sid} ${m.from} -> ${m.to}: ${JSON.stringify(m.body)}; SmsUrl answered ${got?.status}${got?.error ? ` (error ${got.error})` : ''}`);
      for (const r of got?.replies ?? []) lines.push(`  reply ${r.sid} ${r.from} -> ${r.to}: ${JSON.stringify(r.body)}`);
    }
    for (const [i, e] of (sc.expect ?? []).entries()) {
      const why = e.message !== undefined ? checkMessage(e, messages) : check(emu, e, callSids);
      const label = `expect[${i}] ${JSON.stringify(e)}`;
      if (why) failures.push(`${label}: ${why}`);
    }
    const calls = emu.calls();
    const byStatus = calls.reduce<Record<string, number>>((m, c) => ((m[c.status] = (m[c.status] ?? 0) + 1), m), {});
    const hooks = emu.webhooks();
    const hookStatus = hooks.reduce<Record<string, number>>((m, w) => ((m[String(w.status || w.error)] = (m[String(w.status || w.error)] ?? 0) + 1), m), {});
    const virtualMs = emu.clock.elapsed();
    lines.push(
      '',
      'Summary',
      `  call legs: ${calls.length} ${JSON.stringify(byStatus)}`,
      `  webhooks: ${hooks.length} by answer ${JSON.stringify(hookStatus)}`,
      `  recordings: ${emu.recordings().length}   contract violations: ${emu.contractViolations().length}`,
      `  wall ${((Date.now() - started) / 1000).toFixed(2)} s, virtual ${(virtualMs / 1000).toFixed(1)} s`,
      `  expectations: ${(sc.expect ?? []).length - failures.length}/${(sc.expect ?? []).length} passed`,
      ...failures.map((f) => `  FAIL ${f}`),
    );
    return { ok: failures.length === 0, failures, report: lines.join('\n'), callSids, messages, wallMs: Date.now() - started, virtualMs };
  } finally {
    await emu.stop();
    await demo?.close();
  }
}

function checkMessage(e: Expectation, messages: Record<string, MessageOutcome>): string | undefined {
  const got = messages[e.message as string];
  if (!got) return `no message with id ${e.message}`;
  if (e.answered !== undefined && got.status !== e.answered) return `SmsUrl answered ${got.status}`;
  if (e.replied !== undefined && !got.replies.some((r) => r.body.toLowerCase().includes((e.replied as string).toLowerCase()))) {
    return `no reply containing "${e.replied}" (replies: ${JSON.stringify(got.replies.map((r) => r.body))})`;
  }
  if (e.noReply && got.replies.length) return `replied ${JSON.stringify(got.replies.map((r) => r.body))}`;
  if (e.noErrors && got.error) return `error ${got.error}`;
  return undefined;
}

function check(emu: Emulator, e: Expectation, sids: Record<string, string>): string | undefined {
  if (e.noContractViolations) {
    const v = emu.contractViolations();
    if (v.length) return `${v.length} contract violation(s): ${v.map((x) => x.errors.join('; ')).join(' | ')}`;
  }
  if (e.recordings !== undefined && emu.recordings().length !== e.recordings) return `${emu.recordings().length} recordings`;
  if (!e.call) return undefined;
  const sid = sids[e.call];
  if (!sid) return `no call with id ${e.call}`;
  const view = emu.calls().find((c) => c.sid === sid);
  const tl = emu.timeline(sid, { children: true });
  if (e.status && view?.status !== e.status) return `status is ${view?.status}`;
  if (e.answeredBy && view?.answeredBy !== e.answeredBy) return `AnsweredBy is ${view?.answeredBy}`;
  if (e.heard && !tl.some((x) => x.verb === 'Say' && x.type === 'verb' && (x.content ?? '').toLowerCase().includes((e.heard as string).toLowerCase()))) {
    return `no Say containing "${e.heard}"`;
  }
  if (e.played && !tl.some((x) => x.verb === 'Play' && (x.content ?? '').includes(e.played as string))) return `no Play of "${e.played}"`;
  if (e.verb && !tl.some((x) => x.type === 'verb' && x.verb === e.verb)) return `verb ${e.verb} never ran`;
  if (e.webhook) {
    const hooks = tl.filter((x) => (x.type === 'webhook' || x.type === 'error') && (x.url ?? '').includes(e.webhook as string));
    if (!hooks.length) return `no webhook to ${e.webhook}`;
    if (e.answered !== undefined && !hooks.some((h) => h.httpStatus === e.answered)) return `webhook ${e.webhook} answered ${hooks.map((h) => h.httpStatus).join(', ')}`;
  }
  if (e.noErrors) {
    const errs = tl.filter((x) => x.type === 'error');
    if (errs.length) return `errors: ${errs.map((x) => x.text).join(' | ')}`;
  }
  return undefined;
}
