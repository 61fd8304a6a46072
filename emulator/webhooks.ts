import twilio from 'twilio';
import { randomUUID } from 'node:crypto';
import type { VirtualClock } from './clock';

/** Why the engine is calling the app (used in timelines, faults and expectations). */
export type WebhookPurpose =
  | 'voice' | 'fallback' | 'action' | 'redirect' | 'wait' | 'whisper' | 'status' | 'amd' | 'recording' | 'message-status' | 'sms';

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
        const { readMs } = this.timeouts(req.url);
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
      const rec = await this.once(req, token, 1, fault?.kind);
      this.finish(rec);
      if (fault?.kind === 'duplicate') {
        const dup = await this.once(req, token, 2, fault.kind);
        this.finish(dup);
      }
      return rec;
    } finally {
      this.track(callSid, -1);
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

  private timeouts(url: string): { readMs: number } {
    const frag = url.includes('#') ? url.slice(url.indexOf('#') + 1) : '';
    const rt = /(?:^|&)rt=(\d+)/.exec(frag);
    return { readMs: rt ? Number(rt[1]) : (this.opts.readTimeoutMs ?? 15000) };
  }

  private async once(
    req: { purpose: WebhookPurpose; url: string; method?: string; params: Record<string, string>; authToken: string; callSid?: string },
    token: string,
    attempt: number,
    fault: FaultSpec['kind'] | undefined,
  ): Promise<WebhookRecord> {
    const method = (req.method ?? 'POST').toUpperCase() === 'GET' ? 'GET' : 'POST';
    const bare = req.url.split('#')[0] as string;
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
    const signature = twilio.getExpectedTwilioSignature(req.authToken, target, signParams);
    const { readMs } = this.timeouts(req.url);
    const realTimeout = Math.max(this.opts.clock.toReal(readMs), this.opts.minRealTimeoutMs ?? 10000);
    const sentAt = this.opts.clock.elapsed();
    const rec: WebhookRecord = {
      purpose: req.purpose, method, url: target, params: req.params, callSid: req.callSid ?? req.params.CallSid,
      status: 0, body: '', contentType: '', sentAt, doneAt: sentAt, idempotencyToken: token, attempt, fault,
    };
    try {
      const res = await fetch(target, {
        method,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'User-Agent': 'TwilioProxy/1.1',
          Accept: '*/*',
          'X-Twilio-Signature': signature,
          'I-Twilio-Idempotency-Token': token,
        },
        body,
        signal: AbortSignal.timeout(realTimeout),
      });
      rec.status = res.status;
      rec.contentType = res.headers.get('content-type') ?? '';
      rec.body = await res.text();
      if (res.status < 200 || res.status >= 300) {
        rec.errorCode = 11200;
        rec.error = `HTTP ${res.status}`;
      }
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
      rec.errorCode = timedOut ? 11200 : 11205;
      rec.error = timedOut ? `read timeout after ${Math.round(realTimeout)} ms real` : `connection failure: ${err.cause?.code ?? err.message}`;
    }
    rec.doneAt = this.opts.clock.elapsed();
    return rec;
  }
}
