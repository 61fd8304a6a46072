import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VirtualClock } from '../clock';
import type { ContractValidator, ContractViolation } from '../openapi';
import { classifyBr, describeBr, isDiallable, searchBr, type BrNumberType } from '../numbers';
import { synthMp3, wavRange, wavSize } from '../audio';
import { type Account, type AccountOptions, type IncomingNumber, type Message, type Store, accountJson, accountPath, recordingJson, snake } from '../state';
import { API_VERSION, countryOf, isE164, newSid, parseForm, rfc2822 } from '../util';
import { parseMessagingTwiml, parseTwiml } from '../twiml';
import type { VoiceEngine, Queue } from '../voice/engine';
import type { WebhookSender } from '../webhooks';
import { TwilioError, notFound, page, readBody, sendJson } from './http';
import { applicationRoutes } from './applications';
import { conferenceRoutes } from './conferences';
import { callRecordingRoutes } from './call-recordings';

type Params = Record<string, unknown>;
/** One REST request, matched to its spec operation and account. */
export interface Ctx {
  auth: Account;
  account: Account;
  path: Record<string, string>;
  query: Params;
  body: Params;
  pathname: string;
}
/** A REST operation's implementation. */
export type Handler = (c: Ctx) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

/** Global REST behaviour switches. */
export interface RestOptions {
  requireAddressForBR: boolean;
  requireBundleForBR: boolean;
  /** Default outbound calls per second per account. */
  cps: number;
  /** Queued calls allowed before 20429 (default unlimited). */
  cpsQueueLimit?: number;
  /** Recording media requires Basic auth (Twilio's "enforce HTTP auth on media URLs"; default false). */
  recordingMediaAuth: boolean;
}

/** Twilio's 2010-04-01 REST API over the emulator's state, with every request checked against the OpenAPI contract. */
export class RestApi {
  /** Requests that broke the contract, in order. */
  readonly violations: ContractViolation[] = [];
  /** Background work started by REST calls (message delivery) that is still running. */
  pending = 0;
  private readonly handlers = new Map<string, Handler>();

  constructor(
    private readonly d: {
      clock: VirtualClock;
      store: Store;
      engine: VoiceEngine;
      validator: ContractValidator;
      webhooks: WebhookSender;
      options: RestOptions;
      baseUrl: () => string;
    },
  ) {
    this.routes();
  }

  private on(method: string, template: string, h: Handler) {
    this.handlers.set(`${method} /${API_VERSION}${template}`, h);
  }

  private opts(a: Account): AccountOptions & RestOptions {
    const owner = this.d.store.accounts.get(a.ownerSid);
    return { ...this.d.options, ...owner?.options, ...a.options } as AccountOptions & RestOptions;
  }

  /** Handles one HTTP request (REST or recording media). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      const media = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Recordings\/(RE[0-9a-f]{32})(\.mp3|\.wav)?$/i.exec(url.pathname);
      if (media && method === 'GET') return this.media(req, res, media[1] as string, media[2] as string, (media[3] ?? '.wav').toLowerCase());
      const text = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
      const ctype = req.headers['content-type'] ?? '';
      if (text && !ctype.includes('application/x-www-form-urlencoded')) {
        throw this.violation(method, url.pathname, undefined, [`body: Content-Type must be application/x-www-form-urlencoded, got ${ctype || 'none'}`]);
      }
      const auth = this.authenticate(req);
      const op = this.d.validator.match(method, url.pathname);
      if (!op) {
        const why = this.d.validator.hasPath(url.pathname) ? `method ${method} is not defined for this path` : 'no such path in twilio_api_v2010.json';
        this.violations.push({ method, path: url.pathname, errors: [why] });
        throw new TwilioError(this.d.validator.hasPath(url.pathname) ? 405 : 404, 20404, `Contract violation: ${method} ${url.pathname}: ${why}`);
      }
      const query = parseForm(url.search.slice(1)) as Params;
      const body = parseForm(text) as Params;
      const errors = this.d.validator.validate(op, method, query, body);
      if (errors.length) throw this.violation(method, url.pathname, op.operationId, errors);
      const acctSid = op.pathParams.AccountSid ?? (op.template === '/2010-04-01/Accounts/{Sid}.json' ? op.pathParams.Sid : undefined);
      let account = auth;
      if (acctSid) {
        const target = this.d.store.accounts.get(acctSid);
        const allowed = target && (target.sid === auth.sid || (auth.ownerSid === auth.sid && target.ownerSid === auth.sid));
        if (!target || !allowed) throw new TwilioError(404, 20404, `The requested resource ${url.pathname} was not found`);
        account = target;
      }
      const h = this.handlers.get(`${method} ${op.template}`);
      if (!h) throw new TwilioError(501, 20404, `${method} ${op.template} is in Twilio's API but not implemented by the emulator`);
      const out = await h({ auth, account, path: op.pathParams, query, body, pathname: url.pathname });
      if (out.status === 204) {
        res.writeHead(204);
        res.end();
      } else sendJson(res, out.status, out.body);
    } catch (e) {
      if (e instanceof TwilioError) return sendJson(res, e.status, e.body());
      sendJson(res, 500, { code: 20500, message: `emulator error: ${(e as Error).message}`, more_info: 'https://www.twilio.com/docs/errors/20500', status: 500 });
    }
  }

  /** Refuses an outbound call when the account's CPS queue is full (HTTP 429, 20429). */
  private checkCpsBacklog(account: Account): void {
    const o = this.opts(account);
    const E = this.d.engine;
    if (o.cpsQueueLimit !== undefined && E.cpsBacklog(account.sid) >= o.cpsQueueLimit) {
      throw new TwilioError(429, 20429, `Too Many Requests: ${E.cpsBacklog(account.sid)} calls already queued at ${o.cps ?? this.d.options.cps} CPS`);
    }
  }

  private violation(method: string, path: string, operation: string | undefined, errors: string[]): TwilioError {
    this.violations.push({ method, path, operation, errors });
    return new TwilioError(400, 20001, `Contract violation (${operation ?? `${method} ${path}`}): ${errors.join('; ')}`);
  }

  private authenticate(req: IncomingMessage): Account {
    const h = req.headers.authorization ?? '';
    const m = /^Basic\s+(.+)$/i.exec(h);
    if (!m) throw new TwilioError(401, 20003, 'Authenticate');
    const [sid, token] = Buffer.from(m[1] as string, 'base64').toString('utf8').split(':');
    const a = sid ? this.d.store.accounts.get(sid) : undefined;
    if (!a || a.authToken !== token || a.status === 'closed') throw new TwilioError(401, 20003, 'Authenticate');
    return a;
  }

  /**
   * Recording media. WAV is made on the fly and streamed (a one-hour dual-channel file is
   * 115 MB), with single byte ranges (`Range: bytes=N-` / `N-M` → 206 + Content-Range; a
   * range starting at or after the end → 416 + `Content-Range: bytes *\/<length>`).
   * Media faults answer the next requests with an error status instead (Twilio may answer 404
   * for a recording that just completed, for a moment: support.twilio.com article 44750147594523
   * "Intermittent 404 Errors When Accessing Media URLs").
   */
  private media(req: IncomingMessage, res: ServerResponse, acctSid: string, sid: string, ext: string) {
    const log = { sid, status: 0, range: req.headers.range };
    this.mediaLog.push(log);
    try {
      if (this.d.options.recordingMediaAuth || req.headers.authorization) {
        const a = this.authenticate(req);
        if (a.sid !== acctSid && !(a.ownerSid === a.sid && this.d.store.accounts.get(acctSid)?.ownerSid === a.sid)) throw notFound(req.url ?? '');
      }
      const fault = this.mediaFaults.find((f) => f.times > 0 && (f.recordingSid === undefined || f.recordingSid === sid));
      if (fault) {
        fault.times--;
        throw new TwilioError(fault.status, 20404, `The requested resource ${req.url ?? ''} was not found (injected media fault)`);
      }
      const rec = this.d.store.recordings.get(sid);
      if (!rec || rec.accountSid !== acctSid || rec.status !== 'completed') throw notFound(req.url ?? '');
      if (ext === '.mp3') {
        const buf = synthMp3(rec.durationS, rec.channels);
        log.status = 200;
        res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': buf.length });
        res.end(buf);
        return;
      }
      const total = wavSize(rec.durationS, rec.channels);
      let start = 0;
      let end = total;
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (m && Number(m[1]) >= total) {
        // A range that starts at or after the end is unsatisfiable (RFC 9110 §14.1.2, §15.5.17;
        // S3's GetObject answers the same, InvalidRange): 416 with "bytes */<length>".
        log.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${total}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      if (m) {
        start = Number(m[1]);
        end = m[2] ? Math.min(total, Number(m[2]) + 1) : total;
        log.status = 206;
        res.writeHead(206, { 'Content-Type': 'audio/x-wav', 'Content-Length': end - start, 'Content-Range': `bytes ${start}-${end - 1}/${total}`, 'Accept-Ranges': 'bytes' });
      } else {
        log.status = 200;
        res.writeHead(200, { 'Content-Type': 'audio/x-wav', 'Content-Length': total, 'Accept-Ranges': 'bytes' });
      }
      const CHUNK = 1024 * 1024;
      let at = start;
      const pump = () => {
        while (at < end) {
          const next = Math.min(end, at + CHUNK);
          const ok = res.write(wavRange(rec.durationS, rec.channels, at, next));
          at = next;
          if (!ok) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (at = end));
      pump();
    } catch (e) {
      if (e instanceof TwilioError) {
        log.status = e.status;
        return sendJson(res, e.status, e.body());
      }
      throw e;
    }
  }

  /** Faults for media requests: the next `times` GETs (of one recording, or any) answer `status`. */
  readonly mediaFaults: { recordingSid?: string; status: number; times: number }[] = [];
  /** Every media request: recording, status answered, Range asked. */
  readonly mediaLog: { sid: string; status: number; range?: string }[] = [];

  // ------------------------------------------------------------------ routes

  private routes() {
    const S = this.d.store;
    const E = this.d.engine;
    const now = () => this.d.clock.now();

    // Accounts
    this.on('POST', '/Accounts.json', (c) => {
      if (c.auth.ownerSid !== c.auth.sid) throw new TwilioError(403, 20003, 'Subaccounts cannot create subaccounts');
      const a = S.createAccount({ friendlyName: c.body.FriendlyName as string | undefined, owner: c.auth.sid, now: now() });
      return { status: 201, body: accountJson(a) };
    });
    this.on('GET', '/Accounts.json', (c) => {
      let all = [...S.accounts.values()].filter((a) => a.sid === c.auth.sid || (c.auth.ownerSid === c.auth.sid && a.ownerSid === c.auth.sid));
      if (c.query.FriendlyName) all = all.filter((a) => a.friendlyName === c.query.FriendlyName);
      if (c.query.Status) all = all.filter((a) => a.status === c.query.Status);
      return { status: 200, body: page(all.map(accountJson), 'accounts', c.pathname, c.query) };
    });
    this.on('GET', '/Accounts/{Sid}.json', (c) => ({ status: 200, body: accountJson(c.account) }));
    this.on('POST', '/Accounts/{Sid}.json', (c) => {
      if (c.body.FriendlyName !== undefined) c.account.friendlyName = String(c.body.FriendlyName);
      if (c.body.Status !== undefined) c.account.status = c.body.Status as Account['status'];
      c.account.dateUpdated = now();
      return { status: 200, body: accountJson(c.account) };
    });

    // AvailablePhoneNumbers
    for (const type of ['Local', 'Mobile', 'TollFree'] as BrNumberType[]) {
      this.on('GET', `/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/${type}.json`, (c) => {
        if (c.path.CountryCode !== 'BR') {
          throw new TwilioError(404, 20404, `The emulator only stocks Brazilian numbers (asked for ${c.path.CountryCode})`);
        }
        const limit = Math.min(1000, Number(c.query.PageSize ?? 50));
        const found = searchBr({
          type, areaCode: c.query.AreaCode as number | undefined, contains: c.query.Contains as string | undefined,
          smsEnabled: c.query.SmsEnabled as boolean | undefined, voiceEnabled: c.query.VoiceEnabled as boolean | undefined,
          limit, taken: (n) => !!S.numberByAddress(n),
        });
        return { status: 200, body: { ...page(found, 'available_phone_numbers', c.pathname, { ...c.query, PageSize: limit }), next_page_uri: null } };
      });
    }

    // IncomingPhoneNumbers
    const numberJson = (n: IncomingNumber) => n.json;
    const buy = (c: Ctx, type?: BrNumberType) => {
      const b = c.body;
      let num = b.PhoneNumber as string | undefined;
      if (!num && b.AreaCode !== undefined) {
        const found = searchBr({ type: 'Local', areaCode: b.AreaCode as string, limit: 1, taken: (n) => !!S.numberByAddress(n) });
        if (!found[0]) throw new TwilioError(400, 21452, `No phone numbers found in area code ${String(b.AreaCode)}`);
        num = found[0].phone_number;
      }
      if (!num) throw new TwilioError(400, 21421, 'PhoneNumber or AreaCode is required');
      if (!isE164(num)) throw new TwilioError(400, 21421, `PhoneNumber ${num} is invalid`);
      const br = num.startsWith('+55') ? classifyBr(num) : undefined;
      if (num.startsWith('+55') && !br) throw new TwilioError(400, 21422, `PhoneNumber ${num} is not available (not a valid Brazilian number)`);
      if (type && br && br !== type) throw new TwilioError(400, 21422, `PhoneNumber ${num} is not a ${type} number`);
      if (S.numberByAddress(num)) throw new TwilioError(400, 21422, `PhoneNumber ${num} is not available`);
      const o = this.opts(c.account);
      if (br && br !== 'TollFree' && o.requireAddressForBR && !b.AddressSid) {
        throw new TwilioError(400, 21631, `Phone Number Requires an Address: ${num} needs an AddressSid (Brazil, ${br})`);
      }
      if (br && br !== 'TollFree' && o.requireBundleForBR && !b.BundleSid) {
        throw new TwilioError(400, 21649, `Phone Number Requires a Bundle: ${num} needs a BundleSid (Brazil, ${br})`);
      }
      const sid = newSid('PN');
      const base = `${accountPath(c.account.sid)}/IncomingPhoneNumbers/${sid}`;
      const desc = br ? describeBr(num) : undefined;
      const json: Record<string, unknown> = {
        account_sid: c.account.sid, address_sid: null, address_requirements: desc?.address_requirements ?? 'none', api_version: API_VERSION,
        beta: false, capabilities: { voice: true, sms: desc?.capabilities.SMS ?? true, mms: false, fax: false },
        date_created: rfc2822(now()), date_updated: rfc2822(now()), friendly_name: num, identity_sid: null, phone_number: num, origin: 'twilio',
        sid, sms_application_sid: '', sms_fallback_method: 'POST', sms_fallback_url: '', sms_method: 'POST', sms_url: '',
        status_callback: '', status_callback_method: 'POST', trunk_sid: null, uri: `${base}.json`, voice_receive_mode: 'voice',
        voice_application_sid: '', voice_caller_id_lookup: false, voice_fallback_method: 'POST', voice_fallback_url: '', voice_method: 'POST',
        voice_url: '', emergency_status: 'Inactive', emergency_address_sid: null, emergency_address_status: 'unregistered',
        bundle_sid: null, status: 'in-use', subresource_uris: { assigned_add_ons: `${base}/AssignedAddOns.json` },
      };
      const n: IncomingNumber = { sid, accountSid: c.account.sid, phoneNumber: num, json };
      applyNumberUpdate(n, b);
      n.json.date_updated = rfc2822(now());
      S.numbers.set(sid, n);
      return { status: 201, body: numberJson(n) };
    };
    const listNumbers = (c: Ctx, type?: BrNumberType) => {
      let all = [...S.numbers.values()].filter((n) => n.accountSid === c.account.sid);
      if (type) all = all.filter((n) => classifyBr(n.phoneNumber) === type);
      if (c.query.PhoneNumber) {
        const want = String(c.query.PhoneNumber).replace(/[^\d+]/g, '');
        all = all.filter((n) => n.phoneNumber.includes(want));
      }
      if (c.query.FriendlyName) all = all.filter((n) => n.json.friendly_name === c.query.FriendlyName);
      return { status: 200, body: page(all.map(numberJson), 'incoming_phone_numbers', c.pathname, c.query) };
    };
    this.on('POST', '/Accounts/{AccountSid}/IncomingPhoneNumbers.json', (c) => buy(c));
    this.on('GET', '/Accounts/{AccountSid}/IncomingPhoneNumbers.json', (c) => listNumbers(c));
    for (const type of ['Local', 'Mobile', 'TollFree'] as BrNumberType[]) {
      this.on('POST', `/Accounts/{AccountSid}/IncomingPhoneNumbers/${type}.json`, (c) => buy(c, type));
      this.on('GET', `/Accounts/{AccountSid}/IncomingPhoneNumbers/${type}.json`, (c) => listNumbers(c, type));
    }
    const getNumber = (c: Ctx) => {
      const n = S.numbers.get(c.path.Sid as string);
      if (!n || n.accountSid !== c.account.sid) throw notFound(c.pathname);
      return n;
    };
    this.on('GET', '/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json', (c) => ({ status: 200, body: numberJson(getNumber(c)) }));
    this.on('POST', '/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json', (c) => {
      const n = getNumber(c);
      const { AccountSid: moveTo, ...rest } = c.body;
      if (moveTo !== undefined && moveTo !== n.accountSid) {
        const target = S.accounts.get(String(moveTo));
        if (!target || target.ownerSid !== c.auth.ownerSid || c.auth.ownerSid !== c.auth.sid) throw new TwilioError(400, 20003, `Cannot transfer the number to ${String(moveTo)}`);
        n.accountSid = target.sid;
        n.json.account_sid = target.sid;
        const base = `${accountPath(target.sid)}/IncomingPhoneNumbers/${n.sid}`;
        n.json.uri = `${base}.json`;
      }
      applyNumberUpdate(n, rest);
      n.json.date_updated = rfc2822(now());
      return { status: 200, body: numberJson(n) };
    });
    this.on('DELETE', '/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json', (c) => {
      S.numbers.delete(getNumber(c).sid);
      return { status: 204 };
    });

    // Calls
    this.on('POST', '/Accounts/{AccountSid}/Calls.json', (c) => {
      const b = c.body;
      const to = String(b.To);
      const from = String(b.From);
      if (b.Url === undefined && b.Twiml === undefined && b.ApplicationSid === undefined) {
        throw new TwilioError(400, 21205, 'Url, Twiml or ApplicationSid is required');
      }
      if (b.ApplicationSid !== undefined && b.Url === undefined && b.Twiml === undefined) {
        // "The SID of the Application resource that will handle the call" (Calls create, OpenAPI): its voice URLs answer it.
        const app = S.applications.get(String(b.ApplicationSid));
        if (!app || app.accountSid !== c.account.sid) throw new TwilioError(400, 21218, `Invalid ApplicationSid ${String(b.ApplicationSid)}`);
        const j = app.json;
        if (!j.voice_url) throw new TwilioError(400, 21205, `Application ${app.sid} has no VoiceUrl`);
        Object.assign(b, { Url: j.voice_url || undefined, Method: j.voice_method, FallbackUrl: j.voice_fallback_url || undefined, FallbackMethod: j.voice_fallback_method });
        if (j.status_callback) Object.assign(b, { StatusCallback: j.status_callback, StatusCallbackMethod: j.status_callback_method });
      }
      checkCallEndpoints(S, c.account.sid, to, from);
      if (b.Twiml !== undefined && b.Url === undefined) checkTwimlParam(String(b.Twiml));
      this.checkCpsBacklog(c.account);
      const leg = E.startOutbound({ accountSid: c.account.sid, from, to, params: b });
      return { status: 201, body: leg.json() };
    });
    this.on('GET', '/Accounts/{AccountSid}/Calls.json', (c) => {
      let legs = [...E.legs.values()].filter((l) => l.accountSid === c.account.sid);
      const q = c.query;
      if (q.To) legs = legs.filter((l) => l.to === q.To);
      if (q.From) legs = legs.filter((l) => l.from === q.From);
      if (q.ParentCallSid) legs = legs.filter((l) => l.parentSid === q.ParentCallSid);
      if (q.Status) legs = legs.filter((l) => l.status === q.Status);
      // StartTime / EndTime (a date-time, as Twilio's OpenAPI types them; a bare YYYY-MM-DD is
      // midnight UTC, as its docs describe): `StartTime` alone matches that instant (a bare date:
      // that day), `StartTime>` on or after, `StartTime<` on or before. A call without a start
      // (still queued) or an end (still live) does not match a filter on it.
      for (const [field, at] of [['StartTime', (l: (typeof legs)[number]) => l.startMs], ['EndTime', (l: (typeof legs)[number]) => l.endMs]] as const) {
        for (const op of ['', '>', '<'] as const) {
          const raw = q[field + op];
          if (raw === undefined) continue;
          const v = String(raw);
          const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(v);
          const t = Date.parse(dateOnly ? `${v}T00:00:00Z` : v);
          if (Number.isNaN(t)) throw new TwilioError(400, 20001, `Invalid value for ${field}${op}: ${v}`);
          legs = legs.filter((l) => {
            const ms = at(l);
            if (ms === undefined) return false;
            if (op === '>') return ms >= t;
            if (op === '<') return ms <= t;
            return dateOnly ? ms >= t && ms < t + 86_400_000 : ms === t;
          });
        }
      }
      legs.sort((a, b) => b.createdMs - a.createdMs);
      return { status: 200, body: page(legs.map((l) => l.json()), 'calls', c.pathname, q) };
    });
    const getCall = (c: Ctx) => {
      const leg = E.legs.get(c.path.Sid as string);
      if (!leg || leg.accountSid !== c.account.sid) throw notFound(c.pathname);
      return leg;
    };
    this.on('GET', '/Accounts/{AccountSid}/Calls/{Sid}.json', (c) => ({ status: 200, body: getCall(c).json() }));
    this.on('POST', '/Accounts/{AccountSid}/Calls/{Sid}.json', (c) => {
      const leg = getCall(c);
      const b = c.body;
      if (b.Twiml !== undefined) checkTwimlParam(String(b.Twiml));
      if (b.StatusCallback !== undefined) leg.statusCallback = String(b.StatusCallback);
      if (b.StatusCallbackMethod !== undefined) leg.statusCallbackMethod = String(b.StatusCallbackMethod);
      if (b.FallbackUrl !== undefined) leg.fallbackUrl = String(b.FallbackUrl);
      if (b.TimeLimit !== undefined) leg.timeLimitS = Number(b.TimeLimit);
      const err = E.update(leg, {
        url: b.Url as string | undefined, method: b.Method as string | undefined, twiml: b.Twiml as string | undefined, status: b.Status as string | undefined,
      });
      if (err) throw new TwilioError(400, 21220, err);
      return { status: 200, body: leg.json() };
    });
    this.on('DELETE', '/Accounts/{AccountSid}/Calls/{Sid}.json', (c) => {
      const leg = getCall(c);
      if (!leg.ended) throw new TwilioError(400, 20009, 'Cannot delete a call that is in progress');
      E.legs.delete(leg.sid);
      return { status: 204 };
    });

    // Queues
    const queueJson = (q: Queue) => {
      const base = `${accountPath(q.accountSid)}/Queues/${q.sid}`;
      return {
        date_updated: rfc2822(q.dateUpdated), current_size: q.members.length, friendly_name: q.friendlyName, uri: `${base}.json`,
        account_sid: q.accountSid, average_wait_time: E.avgWait(q), sid: q.sid, date_created: rfc2822(q.dateCreated), max_size: q.maxSize,
        subresource_uris: { members: `${base}/Members.json` },
      };
    };
    const getQueue = (c: Ctx, key = 'Sid') => {
      const q = E.queues.get(c.path[key] as string);
      if (!q || q.accountSid !== c.account.sid) throw notFound(c.pathname);
      return q;
    };
    this.on('POST', '/Accounts/{AccountSid}/Queues.json', (c) => {
      const name = String(c.body.FriendlyName);
      if ([...E.queues.values()].some((q) => q.accountSid === c.account.sid && q.friendlyName === name)) {
        throw new TwilioError(400, 22003, `A queue named ${name} already exists`);
      }
      const max = c.body.MaxSize === undefined ? 1000 : Number(c.body.MaxSize);
      if (max < 1 || max > 5000) throw new TwilioError(400, 22002, 'MaxSize must be between 1 and 5000');
      return { status: 201, body: queueJson(E.createQueue(c.account.sid, name, max)) };
    });
    this.on('GET', '/Accounts/{AccountSid}/Queues.json', (c) => ({
      status: 200, body: page([...E.queues.values()].filter((q) => q.accountSid === c.account.sid).map(queueJson), 'queues', c.pathname, c.query),
    }));
    this.on('GET', '/Accounts/{AccountSid}/Queues/{Sid}.json', (c) => ({ status: 200, body: queueJson(getQueue(c)) }));
    this.on('POST', '/Accounts/{AccountSid}/Queues/{Sid}.json', (c) => {
      const q = getQueue(c);
      if (c.body.FriendlyName !== undefined) q.friendlyName = String(c.body.FriendlyName);
      if (c.body.MaxSize !== undefined) q.maxSize = Number(c.body.MaxSize);
      q.dateUpdated = now();
      return { status: 200, body: queueJson(q) };
    });
    this.on('DELETE', '/Accounts/{AccountSid}/Queues/{Sid}.json', (c) => {
      const q = getQueue(c);
      if (q.members.length) throw new TwilioError(400, 22004, 'Cannot delete a queue with members');
      E.queues.delete(q.sid);
      return { status: 204 };
    });
    const memberJson = (q: Queue, i: number) => {
      const m = q.members[i];
      if (!m) throw new Error('no member');
      return {
        call_sid: m.leg.sid, date_enqueued: rfc2822(m.enqueuedMs), position: i + 1,
        uri: `${accountPath(q.accountSid)}/Queues/${q.sid}/Members/${m.leg.sid}.json`,
        wait_time: Math.round((now() - m.enqueuedMs) / 1000), queue_sid: q.sid,
      };
    };
    this.on('GET', '/Accounts/{AccountSid}/Queues/{QueueSid}/Members.json', (c) => {
      const q = getQueue(c, 'QueueSid');
      return { status: 200, body: page(q.members.map((_, i) => memberJson(q, i)), 'queue_members', c.pathname, c.query) };
    });
    const findMember = (c: Ctx) => {
      const q = getQueue(c, 'QueueSid');
      const id = c.path.CallSid as string;
      const i = id === 'Front' ? (q.members.length ? 0 : -1) : q.members.findIndex((m) => m.leg.sid === id);
      if (i < 0) throw notFound(c.pathname);
      return { q, i };
    };
    this.on('GET', '/Accounts/{AccountSid}/Queues/{QueueSid}/Members/{CallSid}.json', (c) => {
      const { q, i } = findMember(c);
      return { status: 200, body: memberJson(q, i) };
    });
    this.on('POST', '/Accounts/{AccountSid}/Queues/{QueueSid}/Members/{CallSid}.json', (c) => {
      const { q, i } = findMember(c);
      const body = memberJson(q, i);
      const m = q.members[i];
      if (m) E.dequeueToUrl(q, m, String(c.body.Url), String(c.body.Method ?? 'POST'));
      return { status: 200, body };
    });

    // Recordings
    const recordingsOf = (c: Ctx) => [...S.recordings.values()].filter((r) => r.accountSid === c.account.sid);
    const getRecording = (c: Ctx) => {
      const r = S.recordings.get(c.path.Sid as string);
      if (!r || r.accountSid !== c.account.sid) throw notFound(c.pathname);
      return r;
    };
    this.on('GET', '/Accounts/{AccountSid}/Recordings.json', (c) => {
      let all = recordingsOf(c);
      if (c.query.CallSid) all = all.filter((r) => r.callSid === c.query.CallSid);
      all.sort((a, b) => b.dateCreated - a.dateCreated);
      return { status: 200, body: page(all.map((r) => recordingJson(r, this.d.baseUrl())), 'recordings', c.pathname, c.query) };
    });
    this.on('GET', '/Accounts/{AccountSid}/Recordings/{Sid}.json', (c) => ({ status: 200, body: recordingJson(getRecording(c), this.d.baseUrl()) }));
    const del = (c: Ctx) => {
      S.deleteRecording(getRecording(c).sid, now());
      return { status: 204 };
    };
    this.on('DELETE', '/Accounts/{AccountSid}/Recordings/{Sid}.json', del);

    // A call's own recordings (start, pause / resume / stop)
    callRecordingRoutes((method, template, h) => this.on(method, template, h), { store: S, engine: E });

    // Applications (TwiML Apps) and API Keys
    applicationRoutes((method, template, h) => this.on(method, template, h), { store: S, now });

    // Messages
    this.on('POST', '/Accounts/{AccountSid}/Messages.json', (c) => this.sendMessage(c));
    this.on('GET', '/Accounts/{AccountSid}/Messages.json', (c) => {
      let all = [...S.messages.values()].filter((m) => m.accountSid === c.account.sid).map((m) => m.json);
      if (c.query.To) all = all.filter((m) => m.to === c.query.To);
      if (c.query.From) all = all.filter((m) => m.from === c.query.From);
      all.reverse();
      return { status: 200, body: page(all, 'messages', c.pathname, c.query) };
    });
    // Fetch one message (its status as it moves: queued, sent, delivered; or failed with an error_code).
    this.on('GET', '/Accounts/{AccountSid}/Messages/{Sid}.json', (c) => {
      const m = S.messages.get(c.path.Sid as string);
      if (!m || m.accountSid !== c.account.sid) throw notFound(c.pathname);
      return { status: 200, body: { ...m.json } };
    });
    // Delete a message's record (its log, body included): 204; an unknown SID 404. Messages
    // here are final once stored, so Twilio's 20009 ("not yet complete") never happens.
    this.on('DELETE', '/Accounts/{AccountSid}/Messages/{Sid}.json', (c) => {
      const m = S.messages.get(c.path.Sid as string);
      if (!m || m.accountSid !== c.account.sid) throw notFound(c.pathname);
      S.messages.delete(m.sid);
      return { status: 204 };
    });

    conferenceRoutes((m, t, h) => this.on(m, t, h), {
      store: S, engine: E, clock: this.d.clock, baseUrl: this.d.baseUrl, checkCps: (a) => this.checkCpsBacklog(a), checkEndpoints: checkCallEndpoints,
    });
  }

  private sendMessage(c: Ctx) {
    const b = c.body;
    const to = String(b.To);
    const from = b.From === undefined ? undefined : String(b.From);
    const wa = to.startsWith('whatsapp:');
    if (!from && !b.MessagingServiceSid) throw new TwilioError(400, 21603, "A 'From' phone number is required");
    if (b.Body === undefined && b.MediaUrl === undefined && b.ContentSid === undefined) throw new TwilioError(400, 21602, 'Message body is required');
    const content = contentOf(b.ContentSid, b.ContentVariables);
    const bareTo = to.replace(/^whatsapp:/, '');
    if (!isDiallable(bareTo)) throw new TwilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
    if (from) {
      if (from.startsWith('whatsapp:') !== wa) throw new TwilioError(400, 63007, `To and From must both be whatsapp: addresses or both be phone numbers (${from} -> ${to})`);
      const owned = this.d.store.numberByAddress(from);
      if (!owned || owned.accountSid !== c.account.sid) throw new TwilioError(400, 21212, `Invalid 'From' Number: ${from} is not a number of account ${c.account.sid}`);
    }
    const sid = newSid(b.MediaUrl ? 'MM' : 'SM');
    const t = this.d.clock.now();
    const body = String(b.Body ?? '');
    const json: Record<string, unknown> = {
      body, num_segments: String(Math.max(1, Math.ceil(body.length / 153))), direction: 'outbound-api', from: from ?? null, to,
      date_updated: rfc2822(t), price: null, error_message: null, uri: `${accountPath(c.account.sid)}/Messages/${sid}.json`,
      account_sid: c.account.sid, num_media: String([b.MediaUrl ?? []].flat().length), status: 'queued',
      messaging_service_sid: (b.MessagingServiceSid as string | undefined) ?? null, sid, date_sent: null, date_created: rfc2822(t),
      error_code: null, price_unit: 'USD', api_version: API_VERSION,
      subresource_uris: { media: `${accountPath(c.account.sid)}/Messages/${sid}/Media.json`, feedback: `${accountPath(c.account.sid)}/Messages/${sid}/Feedback.json` },
    };
    const msg: Message = { sid, accountSid: c.account.sid, json, ...(content ? { content } : {}) };
    this.d.store.messages.set(sid, msg);
    const token = c.account.authToken;
    const cb = b.StatusCallback as string | undefined;
    // WhatsApp free-form (a Body, no ContentSid) outside the 24-hour customer service window
    // (no message from the recipient to this sender in the last 24 h) is accepted, then fails
    // with 63016 (twilio.com/docs/api/errors/63016).
    const dayAgo = t - 24 * 3600_000;
    const outsideWindow =
      wa && !content && from !== undefined &&
      ![...this.d.store.messages.values()].some(
        (m) => m.accountSid === c.account.sid && m.json.direction === 'inbound' && m.json.from === to && m.json.to === from && Date.parse(String(m.json.date_created)) >= dayAgo,
      );
    const steps: readonly (readonly [string, number])[] = outsideWindow ? [['failed', 500]] : [['sent', 500], ['delivered', 1500]];
    this.pending++;
    void (async () => {
      for (const [status, delay] of steps) {
        await this.d.clock.sleep(delay);
        json.status = status;
        json.date_updated = rfc2822(this.d.clock.now());
        if (status === 'sent') json.date_sent = json.date_updated;
        if (status === 'failed') {
          json.error_code = 63016;
          json.error_message = 'Failed to send freeform message because you are outside the allowed window. Please use a Template.';
        }
        if (cb) {
          await this.d.webhooks.send({
            purpose: 'message-status', url: cb, authToken: token,
            params: {
              AccountSid: c.account.sid, ApiVersion: API_VERSION, From: from ?? '', To: to, MessageSid: sid, SmsSid: sid, MessageStatus: status, SmsStatus: status,
              ...(status === 'failed' ? { ErrorCode: '63016' } : {}),
            },
          });
        }
      }
    })().finally(() => this.pending--);
    return { status: 201, body: { ...json } };
  }
}

/**
 * A Content Template send (ContentSid + ContentVariables), checked as Twilio does: ContentVariables
 * without ContentSid is 21654; a ContentSid not shaped ^HX[0-9a-fA-F]{32}$ is 21655; ContentVariables
 * that is not a JSON object of non-empty values is 21656 (twilio.com/docs/api/errors/21654, 21655,
 * 21656). The emulator has no Content API, so the template is not rendered: the message's body
 * stays empty and the send is recorded on the message (`emu.messages()`).
 */
function contentOf(sid: unknown, variables: unknown): Message['content'] | undefined {
  if (sid === undefined) {
    if (variables !== undefined) throw new TwilioError(400, 21654, 'A ContentSid must be specified if ContentVariables are provided in the request');
    return undefined;
  }
  if (!/^HX[0-9a-fA-F]{32}$/.test(String(sid))) throw new TwilioError(400, 21655, `The ContentSid is Invalid: ${String(sid)}`);
  if (variables === undefined) return { sid: String(sid), variables: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(variables));
  } catch {
    throw new TwilioError(400, 21656, 'The ContentVariables Parameter is invalid: not a JSON string');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TwilioError(400, 21656, 'The ContentVariables Parameter is invalid: not a JSON object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v === null || v === '' || (typeof v !== 'string' && typeof v !== 'number')) throw new TwilioError(400, 21656, `The ContentVariables Parameter is invalid: variable ${k} is null, empty or not text`);
    out[k] = String(v);
  }
  return { sid: String(sid), variables: out };
}

/**
 * Refuses an outbound call's endpoints the way Calls create does: a `To` that is not diallable (21211),
 * a `From` the account does not own or verify (21210; a Brazilian toll-free number too), a country
 * outside the geographic permissions (21215). `client:` and `sip:` addresses pass.
 */
export function checkCallEndpoints(S: Store, accountSid: string, to: string, from: string): void {
  const isAddr = (x: string) => /^(client:.+|sip:.+)$/.test(x);
  if (!isAddr(to) && !isDiallable(to)) throw new TwilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
  if (!isAddr(from)) {
    if (!isE164(from) || !S.ownsCallerId(accountSid, from)) {
      throw new TwilioError(400, 21210, `The source phone number provided, ${from}, is not yet verified for your account ${accountSid}: use one of its numbers or a verified caller ID`);
    }
    if (classifyBr(from) === 'TollFree') throw new TwilioError(400, 21210, `Brazilian toll-free ${from} cannot be the caller ID of an outbound call`);
  }
  if (!isAddr(to) && !S.mayCall(accountSid, to)) {
    throw new TwilioError(400, 21215, `Account not authorized to call ${to}: enable ${countryOf(to) || 'its country'} in the Voice geographic permissions`);
  }
}

/** Twilio's limit on the `Twiml` parameter of Calls create and update. */
export const MAX_TWIML_PARAM_CHARS = 4000;

/** Refuses a `Twiml` parameter that is too long (32018) or not valid TwiML (21232); nothing is created or changed. */
function checkTwimlParam(twiml: string): void {
  if (twiml.length > MAX_TWIML_PARAM_CHARS) {
    throw new TwilioError(400, 32018, `Twiml size exceeded maximum allowed value of ${MAX_TWIML_PARAM_CHARS} characters (got ${twiml.length})`);
  }
  try {
    parseTwiml(twiml);
  } catch (e) {
    throw new TwilioError(400, 21232, `Invalid Twiml: ${(e as Error).message}`);
  }
}

function applyNumberUpdate(n: IncomingNumber, b: Params) {
  for (const [k, v] of Object.entries(b)) {
    if (k === 'PhoneNumber' || k === 'AreaCode') continue;
    n.json[snake(k)] = typeof v === 'boolean' ? v : String(v);
  }
}

/** A message Twilio sent back because the SmsUrl answered `<Message>`. */
export interface InboundReply {
  sid: string;
  from: string;
  to: string;
  body: string;
}

/**
 * Sends an inbound SMS/WhatsApp to the SmsUrl of the number it is addressed to. WhatsApp
 * addresses keep their `whatsapp:` prefix in From/To and add WaId (the sender's digits) and
 * ProfileName (https://www.twilio.com/docs/messaging/guides/webhook-request). A 2xx answer's
 * `<Message>` elements are sent as replies (direction outbound-reply, from the number written
 * to, to the sender, on the same channel); a non-2xx answer or unreadable TwiML is an
 * error (11200 / 12100) and sends nothing.
 */
export async function deliverInboundMessage(
  d: { store: Store; webhooks: WebhookSender; clock: VirtualClock },
  m: { from: string; to: string; body: string; profileName?: string },
): Promise<{ sid: string; status: number; replies: InboundReply[]; error?: number }> {
  const num = d.store.numberByAddress(m.to);
  if (!num) throw new Error(`${m.to} is not an IncomingPhoneNumber of any account in the emulator`);
  const acct = d.store.accounts.get(num.accountSid) as Account;
  const sid = newSid('SM');
  const t = d.clock.now();
  const record = (id: string, json: Record<string, unknown>) =>
    d.store.messages.set(id, {
      sid: id, accountSid: acct.sid,
      json: {
        num_segments: '1', date_updated: rfc2822(t), price: null, error_message: null,
        uri: `${accountPath(acct.sid)}/Messages/${id}.json`, account_sid: acct.sid, num_media: '0', messaging_service_sid: null,
        sid: id, date_sent: rfc2822(t), date_created: rfc2822(t), error_code: null, price_unit: 'USD', api_version: API_VERSION, subresource_uris: {},
        ...json,
      },
    });
  record(sid, { body: m.body, direction: 'inbound', from: m.from, to: m.to, status: 'received' });
  const url = num.json.sms_url as string;
  if (!url) return { sid, status: 0, replies: [] };
  const whatsapp = m.from.startsWith('whatsapp:');
  const rec = await d.webhooks.send({
    purpose: 'sms', url, method: (num.json.sms_method as string) || 'POST', authToken: acct.authToken,
    params: {
      AccountSid: acct.sid, ApiVersion: API_VERSION, Body: m.body, From: m.from, To: m.to, MessageSid: sid, SmsSid: sid, SmsMessageSid: sid,
      SmsStatus: 'received', NumMedia: '0', NumSegments: '1',
      ...(whatsapp
        ? { WaId: m.from.replace(/\D/g, ''), ProfileName: m.profileName ?? 'Cliente', MessageType: 'text' }
        : { FromCountry: 'BR', ToCountry: 'BR' }),
    },
  });
  if (rec.status < 200 || rec.status >= 300) return { sid, status: rec.status, replies: [], error: 11200 };
  let asked: { body: string; to?: string; from?: string }[];
  try {
    asked = /xml/i.test(rec.contentType) || rec.body.trim().startsWith('<') ? parseMessagingTwiml(rec.body) : [];
  } catch {
    return { sid, status: rec.status, replies: [], error: 12100 };
  }
  const replies = asked.map((a) => {
    const reply: InboundReply = { sid: newSid('SM'), from: a.from ?? m.to, to: a.to ?? m.from, body: a.body };
    record(reply.sid, { body: reply.body, direction: 'outbound-reply', from: reply.from, to: reply.to, status: 'sent' });
    return reply;
  });
  return { sid, status: rec.status, replies };
}
