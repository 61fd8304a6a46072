import twilio from 'twilio';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { VirtualClock } from './clock';

/** Why the engine is calling the app (used in timelines, faults and expectations). */
export type WebhookPurpose =
  | 'voice' | 'fallback' | 'action' | 'redirect' | 'wait' | 'whisper' | 'status' | 'amd' | 'recording' | 'message-status' | 'sms'
  /** Conference status callbacks, and a conference's hold / announcement documents. */
  | 'conference' | 'hold' | 'announce';

/** A fault injected into matching webhooks, on demand per scenario or test. */
export interface FaultSpec {
  /** duplicate: delivered twice; reorder: held back `delaySeconds` so later ones overtake it; retry: delivered, treated as a connection failure and retried with the same I-Twilio-Idempotency-Token; timeout: the answer is ignored and Twilio's 15 s read timeout (virtual) expires. */
  kind: 'duplicate' | 'reorder' | 'retry' | 'timeout';
  /** Only webhooks with these purposes. */
  purpose?: WebhookPurpose | WebhookPurpose[];
  /** Only webhooks whose URL contains this text. */
  url?: string;
  /** Only webhooks whose CallStatus parameter equals this (e.g. `ringing` status callbacks). */
  callStatus?: string;
  /** Only webhooks of this call. */
  callSid?: string;
  /** How many matching webhooks get the fault (default 1; 0 = every one). */
  times?: number;
  /** Hold time for `reorder`, virtual seconds (default 10). */
  delaySeconds?: number;
}

/** One webhook request and what came of it. */
export interface WebhookRecord {
  purpose: WebhookPurpose;
  method: 'GET' | 'POST';
  url: string;
  params: Record<string, string>;
  callSid?: string;
  /** HTTP status the app answered (0 when there was no answer). */
  status: number;
  body: string;
  contentType: string;
  /** Twilio error code when the request failed (11200 HTTP retrieval failure, 11205 connection failure). */
  errorCode?: number;
  error?: string;
  fault?: FaultSpec['kind'];
  /** Virtual ms since clock start when sent and when answered. */
  sentAt: number;
  doneAt: number;
  idempotencyToken: string;
  attempt: number;
}

/** Options for the sender. */
export interface WebhookSenderOptions {
  clock: VirtualClock;
  /** Twilio's read timeout in virtual ms (default 15000). */
  readTimeoutMs?: number;
  /** Real-time floor for timeouts so a slow app under load is not cut off at high speeds (default 10000 ms). */
  minRealTimeoutMs?: number;
  onRecord?: (r: WebhookRecord) => void;
}

/** Sends signed webhooks to the app, applying faults and keeping count of what is in flight. */
export class WebhookSender {
  private readonly faults: { spec: FaultSpec; left: number }[] = [];
  private inflight = 0;
  private readonly perCall = new Map<string, number>();
  /** Every webhook sent, in order of completion. */
  readonly records: WebhookRecord[] = [];

  constructor(private readonly opts: WebhookSenderOptions) {}

  /** Adds a fault for subsequent webhooks. */
  addFault(spec: FaultSpec): void {
    this.faults.push({ spec, left: spec.times === 0 ? Infinity : (spec.times ?? 1) });
  }

  /** Removes all faults. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Number of webhooks in flight (or held back by a fault). */
  pending(callSid?: string): number {
    return callSid ? (this.perCall.get(callSid) ?? 0) : this.inflight;
  }

  /** Picks (and uses up) the fault for a webhook about to be sent; pass it to send() as `fault`. */
  takeFault(purpose: WebhookPurpose, url: string, params: Record<string, string>): FaultSpec | undefined {
    for (const f of this.faults) {
      const s = f.spec;
      if (f.left <= 0) continue;
      const purposes = s.purpose === undefined ? undefined : Array.isArray(s.purpose) ? s.purpose : [s.purpose];
      if (purposes && !purposes.includes(purpose)) continue;
      if (s.url && !url.includes(s.url)) continue;
      if (s.callStatus && params.CallStatus !== s.callStatus) continue;
      if (s.callSid && params.CallSid !== s.callSid && params.ParentCallSid !== s.callSid) continue;
      f.left--;
      return s;
    }
    return undefined;
  }

  /**
   * Sends one webhook signed with `authToken` and returns the app's answer. Faults apply here.
   * Never throws: failures come back as a record with `errorCode`.
   */
  async send(req: {
    purpose: WebhookPurpose;
    url: string;
    method?: string;
    params: Record<string, string>;
    authToken: string;
    callSid?: string;
    /** A fault already chosen with takeFault (null: none); undefined lets send choose. */
    fault?: FaultSpec | null;
    /** Waits for this before sending (keeps one call's status callbacks in order); reorder faults skip it. */
    after?: Promise<unknown>;
  }): Promise<WebhookRecord> {
    const callSid = req.callSid ?? req.params.CallSid;
    this.track(callSid, +1);
    try {
      const fault = req.fault === undefined ? this.takeFault(req.purpose, req.url, req.params) : (req.fault ?? undefined);
      if (req.after && fault?.kind !== 'reorder') await req.after;
      const token = randomUUID();
      const { overrides, error } = parseConnectionOverrides(req.url);
      if (error) {
        // Twilio refuses a URL whose connection overrides it cannot read (11243 for a bad retry policy), and sends nothing.
        const t = this.opts.clock.elapsed();
        const rec: WebhookRecord = {
          purpose: req.purpose, method: (req.method ?? 'POST').toUpperCase() === 'GET' ? 'GET' : 'POST', url: req.url.split('#')[0] as string, params: req.params,
          callSid, status: 0, body: '', contentType: '', errorCode: 11243, error: `invalid connection overrides: ${error}`, sentAt: t, doneAt: t, idempotencyToken: token, attempt: 0,
        };
        this.finish(rec);
        return rec;
      }
      if (fault?.kind === 'reorder') {
        await this.opts.clock.sleep((fault.delaySeconds ?? 10) * 1000);
      }
      if (fault?.kind === 'retry') {
        const firstTry = await this.once(req, token, 1, fault.kind);
        firstTry.errorCode = 11205;
        firstTry.error = 'connection failure (injected); retrying';
        this.finish(firstTry);
        const second = await this.once(req, token, 2, fault.kind);
        this.finish(second);
        return second;
      }
      if (fault?.kind === 'timeout') {
        const sentAt = this.opts.clock.elapsed();
        const readMs = overrides.rt;
        const ignored = this.once(req, token, 1, fault.kind);
        await Promise.all([ignored, this.opts.clock.sleep(readMs)]);
        const rec = await ignored;
        rec.status = 0;
        rec.body = '';
        rec.errorCode = 11200;
        rec.error = `read timeout after ${readMs / 1000} s (injected)`;
        rec.sentAt = sentAt;
        rec.doneAt = this.opts.clock.elapsed();
        this.finish(rec);
        return rec;
      }
      const rec = await this.deliver(req, token, overrides, fault?.kind);
      if (fault?.kind === 'duplicate') {
        const dup = await this.once(req, token, 2, fault.kind);
        this.finish(dup);
      }
      return rec;
    } finally {
      this.track(callSid, -1);
    }
  }

  /**
   * Twilio's delivery: the first attempt, then up to `rc` retries (same idempotency token) while the failure is one
   * the retry policy names and the total time `tt` allows.
   */
  private async deliver(
    req: { purpose: WebhookPurpose; url: string; method?: string; params: Record<string, string>; authToken: string; callSid?: string },
    token: string,
    o: ConnectionOverrides,
    fault: FaultSpec['kind'] | undefined,
  ): Promise<WebhookRecord> {
    const deadline = performance.now() + Math.max(o.tt, this.opts.minRealTimeoutMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      const left = deadline - performance.now();
      const rec = await this.once(req, token, attempt, fault, { ctMs: Math.min(o.ct, left), rtMs: Math.min(o.rt, left) });
      const failure = rec.failure;
      delete rec.failure;
      const retry = failure !== undefined && attempt <= o.rc && o.rp.has(failure) && deadline - performance.now() > 0;
      if (retry) rec.error = `${rec.error}; retrying (${attempt}/${o.rc})`;
      this.finish(rec);
      if (!retry) return rec;
    }
  }

  private track(callSid: string | undefined, d: number) {
    this.inflight += d;
    if (callSid) {
      const n = (this.perCall.get(callSid) ?? 0) + d;
      if (n <= 0) this.perCall.delete(callSid);
      else this.perCall.set(callSid, n);
    }
  }

  /** Called with every finished webhook (the engine mirrors them into call timelines). */
  onRecord?: (r: WebhookRecord) => void;

  private finish(rec: WebhookRecord) {
    this.records.push(rec);
    this.opts.onRecord?.(rec);
    this.onRecord?.(rec);
  }

  private async once(
    req: { purpose: WebhookPurpose; url: string; method?: string; params: Record<string, string>; authToken: string; callSid?: string },
    token: string,
    attempt: number,
    fault: FaultSpec['kind'] | undefined,
    limits?: { ctMs: number; rtMs: number },
  ): Promise<WebhookRecord & { failure?: RetryClass }> {
    const method = (req.method ?? 'POST').toUpperCase() === 'GET' ? 'GET' : 'POST';
    const { bare, overrides } = parseConnectionOverrides(req.url);
    let target = bare;
    let signParams: Record<string, string> = req.params;
    let body: string | undefined;
    if (method === 'GET') {
      const u = new URL(bare);
      for (const [k, v] of Object.entries(req.params)) u.searchParams.append(k, v);
      target = u.toString();
      signParams = {};
    } else {
      body = new URLSearchParams(req.params).toString();
    }
    // The fragment never reaches the server, so the signature covers the URL without it: the one the app sees.
    const signature = twilio.getExpectedTwilioSignature(req.authToken, target, signParams);
    const floor = this.opts.minRealTimeoutMs ?? 0;
    const ctMs = Math.max(limits?.ctMs ?? overrides.ct, floor);
    const rtMs = Math.max(limits?.rtMs ?? overrides.rt, floor);
    const sentAt = this.opts.clock.elapsed();
    const rec: WebhookRecord & { failure?: RetryClass } = {
      purpose: req.purpose, method, url: target, params: req.params, callSid: req.callSid ?? req.params.CallSid,
      status: 0, body: '', contentType: '', sentAt, doneAt: sentAt, idempotencyToken: token, attempt, fault,
    };
    // The app's latency is real time: the clock runs at 1x until the answer is in.
    const release = this.opts.clock.hold();
    try {
      const out = await httpExchange(target, method, {
        'Content-Type': 'application/x-www-form-urlencoded',
        'User-Agent': 'TwilioProxy/1.1',
        Accept: '*/*',
        'X-Twilio-Signature': signature,
        'I-Twilio-Idempotency-Token': token,
      }, body, ctMs, rtMs);
      if ('failure' in out) {
        rec.failure = out.failure;
        rec.errorCode = out.failure === 'ct' ? 11205 : 11200;
        rec.error = out.message;
      } else {
        rec.status = out.status;
        rec.contentType = out.contentType;
        rec.body = out.body;
        if (out.tooLarge) {
          rec.errorCode = 11750;
          rec.error = `response body larger than ${MAX_BODY_BYTES / 1024} kB`;
        } else if (out.status < 200 || out.status >= 300) {
          rec.errorCode = 11200;
          rec.error = `HTTP ${out.status}`;
          if (out.status >= 400 && out.status < 500) rec.failure = '4xx';
          else if (out.status >= 500) rec.failure = '5xx';
        }
      }
    } finally {
      release();
    }
    rec.doneAt = this.opts.clock.elapsed();
    return rec;
  }
}

/** Failure classes of Twilio's retry policy (`rp`). */
export type RetryClass = '4xx' | '5xx' | 'ct' | 'rt';

/** Connection settings of one webhook URL: Twilio's defaults, overridden by the URL's fragment. */
export interface ConnectionOverrides {
  /** Connect timeout, ms (100–10000, default 5000). */
  ct: number;
  /** Read timeout: to the first byte of the answer and between packets, ms (100–15000, default 15000). */
  rt: number;
  /** Total time for every attempt, retries included, ms (100–15000, default 15000). */
  tt: number;
  /** Retries after the first attempt (0–5, default 1). */
  rc: number;
  /** Failures that are retried (default: ct, a connection that could not be made). */
  rp: Set<RetryClass>;
  /** Edge and SNI are accepted and have no effect here. */
  e?: string;
  sni?: string;
}

const RANGES: Record<'ct' | 'rt' | 'tt' | 'rc', [number, number, number]> = {
  ct: [100, 10000, 5000], rt: [100, 15000, 15000], tt: [100, 15000, 15000], rc: [0, 5, 1],
};

/** Largest answer body Twilio accepts from a webhook (error 11750 above it). */
export const MAX_BODY_BYTES = 64 * 1024;

/** Splits a webhook URL into the URL requested and its connection overrides (`#ct=…&rt=…&tt=…&rc=…&rp=…&e=…&sni=…`). */
export function parseConnectionOverrides(url: string): { bare: string; overrides: ConnectionOverrides; error?: string } {
  const hash = url.indexOf('#');
  const bare = hash >= 0 ? url.slice(0, hash) : url;
  const o: ConnectionOverrides = { ct: 5000, rt: 15000, tt: 15000, rc: 1, rp: new Set(['ct']) };
  if (hash < 0) return { bare, overrides: o };
  const errors: string[] = [];
  for (const [k, v] of new URLSearchParams(url.slice(hash + 1))) {
    if (k === 'ct' || k === 'rt' || k === 'tt' || k === 'rc') {
      const [min, max] = RANGES[k];
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min || n > max) errors.push(`${k}=${v} is outside ${min}–${max}`);
      else o[k] = n;
    } else if (k === 'rp') {
      const parts = v.split(',').map((x) => x.trim());
      const bad = parts.filter((x) => !['4xx', '5xx', 'ct', 'rt', 'all'].includes(x));
      if (bad.length || !parts.length) errors.push(`rp=${v}: unknown retry policy ${bad.join(',')}`);
      else o.rp = new Set(parts.includes('all') ? ['4xx', '5xx', 'ct', 'rt'] : (parts as RetryClass[]));
    } else if (k === 'e') o.e = v;
    else if (k === 'sni') o.sni = v;
  }
  return { bare, overrides: o, error: errors.length ? errors.join('; ') : undefined };
}

type Exchange = { status: number; contentType: string; body: string; tooLarge: boolean } | { failure: 'ct' | 'rt'; message: string };

/** One HTTP request with Twilio's two timeouts: connect (`ct`) and read (`rt`, to the first byte and between packets). */
function httpExchange(target: string, method: string, headers: Record<string, string>, body: string | undefined, ctMs: number, rtMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const u = new URL(target);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    let connected = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (r: Exchange) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(r);
    };
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
    const req = send(u, { method, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      arm('rt');
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
        arm('rt');
      });
      res.on('end', () => finish({
        status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8'), tooLarge: size > MAX_BODY_BYTES,
      }));
      res.on('error', (e) => finish({ failure: 'rt', message: `connection lost while reading: ${e.message}` }));
    });
    const arm = (kind: 'ct' | 'rt') => {
      if (timer) clearTimeout(timer);
      const ms = kind === 'ct' ? ctMs : rtMs;
      timer = setTimeout(() => {
        finish({ failure: kind, message: kind === 'ct' ? `connect timeout after ${ms} ms` : `read timeout after ${ms / 1000} s` });
        req.destroy();
      }, ms);
    };
    arm('ct');
    req.on('socket', (sock) => {
      sock.once('connect', () => {
        connected = true;
        arm('rt');
      });
    });
    req.on('error', (e: Error & { code?: string }) => {
      finish(connected ? { failure: 'rt', message: `connection lost: ${e.code ?? e.message}` } : { failure: 'ct', message: `connection failure: ${e.code ?? e.message}` });
    });
    req.end(body);
  });
}
