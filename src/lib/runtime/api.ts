/**
 * The glue every /api function shares: session token from the cookie or a bearer header,
 * the session and role check (one RPC), the JSON body parsed against a shape, and every
 * failure answered as JSON `{ error: <stable code>, message }`.
 *
 * What the Functions runtime gives a function (twilio-run and the hosted runtime alike):
 * `event` is the query string and the parsed body (JSON or form) merged into one object,
 * plus `event.request` with the headers (lower-cased names; x-forwarded-* and x-real-ip
 * removed) and the cookies. It does not give the HTTP method, the client's address or the
 * raw body. Hence:
 *  - a body that is not JSON never reaches the function (the runtime's body parser refuses
 *    it); the local front answers that case as `invalid_json` (stack/functions.ts);
 *  - the client's address comes from the header named by CLIENT_ADDRESS_HEADER, which the
 *    front in front of the runtime must set itself (the local front does; without it only the
 *    per-account lockout applies);
 *  - an endpoint with a body requires `Content-Type: application/json`: an HTML form or a GET
 *    with query parameters cannot call it (the browser must preflight a cross-site JSON POST).
 */
import type { Context, ServerlessCallback, TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import { ConfigError, loadConfig, type Config } from './config';
import { DbUnavailable, getDb, unwrap, type Db } from './db';
import { HttpError, httpResponse } from './http';
import { Field, FieldError, parseShape, type Infer, type Shape } from './validate';
import { sessionTokenHash } from '../domain/auth/token';
import type twilio from 'twilio';
import { noteDbAvailable, noteDbUnavailable, outageOpen, probeDb } from '../domain/alerts/db-outage';
import { twilioClientOptions } from './twilio-client';

export type Role = 'admin' | 'supervisor' | 'agent';
export const ROLES: readonly Role[] = ['admin', 'supervisor', 'agent'];

/** The signed-in user of a request, as auth_session returns it. */
export interface ApiSession {
  sessionId: string;
  tokenHash: string;
  user: { id: string; email: string; name: string; role: Role; agent_id: number | null };
}

/** The name of the session cookie. */
export const SESSION_COOKIE = 'discador_session';

/** Largest JSON body an /api function accepts (its Content-Length): the pages send a few hundred bytes. */
export const API_MAX_BODY_BYTES = 64 * 1024;

/** Time an /api function may take before it answers 503 (Functions stop at 10 s). */
const API_DEADLINE_MS = 8000;

/** A session token: 32 random bytes in base64url without padding. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

// --- Errors -------------------------------------------------------------------------------

/** 401: no session token was sent, or it is not a token at all. */
export class Unauthenticated extends HttpError {
  constructor(message = 'sign in first') {
    super(401, 'unauthenticated', message);
  }
}

/** 401: the token is not (or no longer) a live session: expired, revoked, or its user disabled. */
export class SessionExpired extends HttpError {
  constructor(message = 'the session has expired or was ended; sign in again') {
    super(401, 'session_expired', message);
  }
}

/** 401: wrong e-mail or password (the same answer for both, and for a disabled user). */
export class InvalidCredentials extends HttpError {
  constructor(message = 'e-mail or password is wrong') {
    super(401, 'invalid_credentials', message);
  }
}

/** 429: too many failed sign-ins; `retryAfter` seconds until the next attempt is even checked. */
export class AccountLocked extends HttpError {
  constructor(readonly retryAfter: number, message = `too many failed sign-ins; try again in ${retryAfter} s`) {
    super(429, 'account_locked', message);
  }
}

/** 403: signed in, but this endpoint is not for the user's role. */
export class ForbiddenRole extends HttpError {
  constructor(message = 'this is not available to your role') {
    super(403, 'forbidden_role', message);
  }
}

/** Any other refusal, for handlers: `new ApiError(409, 'conflict', '...')`. */
export class ApiError extends HttpError {}

/** 404: the thing asked about does not exist (or is not this user's). */
export class NotFound extends HttpError {
  constructor(message = 'not found') {
    super(404, 'not_found', message);
  }
}

/** 409: the request conflicts with the current state. */
export class Conflict extends HttpError {
  constructor(message: string, code: 'conflict' | 'agent_busy' = 'conflict') {
    super(409, code, message);
  }
}

/** 400 with code weak_password: the new password breaks the policy (the message says how). */
export class WeakPassword extends HttpError {
  constructor(message: string) {
    super(400, 'weak_password', message);
  }
}

// --- Replies ------------------------------------------------------------------------------

/** A handler's answer when it needs more than 200 + JSON: another status, or cookies to set. */
export class ApiReply {
  constructor(
    readonly body: object,
    readonly opts: { status?: number; cookies?: string[]; headers?: Record<string, string> } = {},
  ) {}
}

/** A handler's answer that is a file to download (a CSV export), not JSON: its text, type and headers. */
export class FileReply {
  constructor(
    readonly body: string,
    readonly contentType: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/**
 * The Set-Cookie value of the session cookie: HttpOnly (no script reads it), Secure (only
 * over https; browsers treat http://localhost and 127.0.0.1 as secure for this), SameSite=Strict
 * (never sent on a request another site starts), Path=/, living as long as the session.
 */
export function sessionCookie(token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${token}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; Path=/; HttpOnly; Secure; SameSite=Strict`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict`;
}

/** A JSON answer; never cached (it is about one signed-in user). */
export function jsonResponse(status: number, body: object, opts: { cookies?: string[]; headers?: Record<string, string> } = {}): TwilioResponse {
  const res = httpResponse(status, body);
  res.appendHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(opts.headers ?? {})) res.appendHeader(k, v);
  for (const c of opts.cookies ?? []) res.appendHeader('Set-Cookie', c);
  return res;
}

/** The JSON answer of a refused request. */
export function apiErrorResponse(err: HttpError): TwilioResponse {
  if (err instanceof AccountLocked) {
    return jsonResponse(err.status, { error: err.code, message: err.message, retry_after: err.retryAfter }, { headers: { 'Retry-After': String(err.retryAfter) } });
  }
  return jsonResponse(err.status, { error: err.code, message: err.message });
}

// --- Request pieces -----------------------------------------------------------------------

type RequestInfo = { headers: Record<string, string | string[] | undefined>; cookies: Record<string, string | undefined> };

/** The runtime's `event.request` (headers and cookies), or empty ones. */
export function requestOf(event: Record<string, unknown>): RequestInfo {
  const r = event['request'];
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, never>) : {});
  return { headers: obj((r as { headers?: unknown } | undefined)?.headers), cookies: obj((r as { cookies?: unknown } | undefined)?.cookies) };
}

/** One header's value (the first, when it was sent more than once). */
export function header(req: RequestInfo, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : typeof v === 'string' ? v : undefined;
}

/** SHA-256 (hex) of a session token: the only form in which the database knows it. */
export function tokenHash(token: string): string {
  return sessionTokenHash(token);
}

/**
 * The session token a request carries: `Authorization: Bearer <token>` first, else the
 * cookie. `undefined` when none was sent; `null` when one was sent but is not shaped like a
 * token (so it cannot be a session and the database is not asked).
 */
export function requestToken(req: RequestInfo): string | null | undefined {
  const auth = header(req, 'authorization');
  if (auth !== undefined && auth.trim() !== '') {
    const m = /^Bearer +(\S+)\s*$/i.exec(auth);
    return m && TOKEN.test(m[1]!) ? m[1]! : null;
  }
  const cookie = req.cookies[SESSION_COOKIE];
  if (cookie === undefined || cookie === '') return undefined;
  return TOKEN.test(cookie) ? cookie : null;
}

/** A client address as a front writes it (IPv4, IPv6, at most 64 characters), else null. */
export function clientAddress(req: RequestInfo, headerName: string | undefined): string | null {
  if (!headerName) return null;
  const v = header(req, headerName)?.trim();
  return v && v.length <= 64 && /^[0-9A-Fa-f.:]+$/.test(v) ? v : null;
}

/** The User-Agent, cut to what sessions.user_agent holds. */
export function userAgentOf(req: RequestInfo): string | null {
  const v = header(req, 'user-agent');
  return v ? v.slice(0, 512) : null;
}

// --- Body -----------------------------------------------------------------------------------

/** A JSON boolean (or the text "true"/"false", as a form sends it). */
export function bool(): Field<boolean> {
  return new Field((raw) => {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new FieldError(raw === undefined ? 'is required' : 'must be true or false');
  });
}

/**
 * The request's body fields as the shapes read them: strings as sent, JSON numbers and
 * booleans as their JSON text, null as absent. Objects and arrays are refused (no endpoint
 * takes one), and so is text with NUL (the database cannot store it).
 */
export function bodyFields(shape: Shape, event: Record<string, unknown>): Record<string, string | undefined> {
  const raw: Record<string, string | undefined> = {};
  const problems: string[] = [];
  for (const name of Object.keys(shape)) {
    if (!Object.prototype.hasOwnProperty.call(event, name)) continue;
    const v = event[name];
    if (v === null || v === undefined) continue;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) problems.push(`${name} must not contain NUL characters`);
      else raw[name] = v;
    } else if (typeof v === 'number' || typeof v === 'boolean') raw[name] = String(v);
    else problems.push(`${name} must be a string, a number or a boolean`);
  }
  if (problems.length) throw new HttpError(400, 'bad_request', `invalid body: ${problems.join('; ')}`);
  return raw;
}

/** Parses the body against the shape, or throws the 400/413 answer. */
export function parseBody<S extends Shape>(shape: S, event: Record<string, unknown>): Infer<S> {
  const req = requestOf(event);
  const length = Number(header(req, 'content-length') ?? '0');
  if (length > API_MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `the body must be at most ${API_MAX_BODY_BYTES} bytes`);
  const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(400, 'bad_request', 'send the body as JSON (Content-Type: application/json)');
  const parsed = parseShape(shape, bodyFields(shape, event));
  if (!parsed.ok) throw new HttpError(400, 'bad_request', `invalid body: ${parsed.problems.join('; ')}`);
  return parsed.value;
}

// --- The wrapper ----------------------------------------------------------------------------

/** What an /api handler gets. */
export interface ApiInput<B> {
  config: Config;
  db: Db;
  /** The checked session ('checked' endpoints), else null. */
  session: ApiSession | null;
  /** SHA-256 of the token sent, or null when none (or none shaped like a token) was sent. */
  tokenHash: string | null;
  body: B;
  context: Context;
  /** The client's address from CLIENT_ADDRESS_HEADER, when a front set it. */
  address: string | null;
  userAgent: string | null;
}

export interface ApiSpec<S extends Shape> {
  /** Who may call: these roles (a session is required), or 'public' (no session needed). */
  roles: Role[] | 'public';
  /** The JSON body's fields; without it the endpoint reads no body. */
  body?: S;
  /**
   * 'checked' (default): apiFunction checks the session and role (one RPC) before the handler.
   * 'token-only': the handler checks the session itself inside its own RPC (one round trip);
   * apiFunction only requires that a token shaped like one was sent, and passes its hash.
   */
  session?: 'checked' | 'token-only';
}

function dbFor(config: Config): Db {
  return getDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: config.DB_TIMEOUT_MS });
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbUnavailable(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** The user JSON auth_session / auth_login_finish return. */
export interface SessionRow {
  session_id: string;
  user: ApiSession['user'];
}

/**
 * Looks the session up (auth_session: refuses revoked, expired, idle and disabled; slides
 * last_seen_at). Throws SessionExpired when it is not live.
 */
export async function checkSession(db: Db, config: Config, hash: string): Promise<ApiSession> {
  const row = unwrap(await db.rpc<SessionRow | null>('auth_session', { p_token_hash: hash, p_idle_seconds: config.SESSION_IDLE_MINUTES * 60 }));
  if (!row) throw new SessionExpired();
  return { sessionId: row.session_id, tokenHash: hash, user: row.user };
}

/** Throws ForbiddenRole unless the session's role is one of `roles`. */
export function requireRole(session: ApiSession, roles: Role[]): void {
  if (!roles.includes(session.user.role)) throw new ForbiddenRole();
}

/**
 * Wraps an /api handler as a Twilio Function. Order: configuration, token (401 when a
 * session is required and none was sent), session and role (401/403; one RPC), body
 * (400/413), then the handler: who is asking is settled before what they sent is judged. The
 * handler answers an object (200 JSON) or an ApiReply; it throws HttpError subclasses for
 * refusals. An unreachable database is 503 database_unavailable; anything else 500
 * internal_error (logged, never shown).
 */
export function apiFunction<S extends Shape = Record<never, never>>(
  spec: ApiSpec<S>,
  handle: (input: ApiInput<Infer<S>>) => Promise<object | ApiReply | FileReply>,
) {
  return (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void => {
    const run = async (): Promise<TwilioResponse> => {
      const config = loadConfig(context);
      const req = requestOf(event);
      const token = requestToken(req);
      const hash = token ? tokenHash(token) : null;
      if (spec.roles !== 'public' && token === undefined) throw new Unauthenticated();
      if (spec.roles !== 'public' && token === null) throw new Unauthenticated('the session token is malformed; sign in again');
      const db = dbFor(config);
      let session: ApiSession | null = null;
      if (spec.roles !== 'public' && (spec.session ?? 'checked') === 'checked') {
        session = await checkSession(db, config, hash!);
        requireRole(session, spec.roles);
      }
      const body = (spec.body ? parseBody(spec.body, event) : {}) as Infer<S>;
      const headerName = config.CLIENT_ADDRESS_HEADER === 'none' ? undefined : config.CLIENT_ADDRESS_HEADER;
      const out = await handle({ config, db, session, tokenHash: hash, body, context, address: clientAddress(req, headerName), userAgent: userAgentOf(req) });
      if (out instanceof ApiReply) return jsonResponse(out.opts.status ?? 200, out.body, out.opts);
      if (out instanceof FileReply) {
        const res = httpResponse(200, out.body, out.contentType);
        res.appendHeader('Cache-Control', 'no-store');
        for (const [k, v] of Object.entries(out.headers)) res.appendHeader(k, v);
        return res;
      }
      return jsonResponse(200, out);
    };
    const started = Date.now();
    withDeadline(run(), API_DEADLINE_MS).then(
      async (res) => {
        await dbAnswered(context);
        callback(null, res);
      },
      async (err: unknown) => {
        if (err instanceof DbUnavailable && Date.now() - started < OUTAGE_ALERT_BEFORE_MS) await dbUnreachable(context);
        callback(null, failureResponse(context, err));
      },
    );
  };
}

/** An outage alert is sent only by a request that has this much time left (Functions stop at 10 s). */
const OUTAGE_ALERT_BEFORE_MS = 6000;

/** The database did not answer this request: the database-unreachable alert once a probe confirms it (alerts/db-outage). Never throws. */
async function dbUnreachable(context: Context): Promise<void> {
  try {
    const config = loadConfig(context);
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    await noteDbUnavailable({ config, twilio: client, probe: () => probeDb(dbFor(config)) });
  } catch (e) {
    console.error(`[discador] database-unreachable alert: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The database answered: closes an outage this process saw (nothing to do otherwise). Never throws. */
async function dbAnswered(context: Context): Promise<void> {
  if (!outageOpen()) return;
  try {
    const config = loadConfig(context);
    await noteDbAvailable({ db: dbFor(config), config });
  } catch {
    // kept for the next request
  }
}

/** The JSON answer for anything a handler threw. */
export function failureResponse(context: Context, err: unknown): TwilioResponse {
  if (err instanceof HttpError) return apiErrorResponse(err);
  const kind = err instanceof ConfigError ? 'configuration' : err instanceof DbUnavailable ? 'database unavailable' : 'failure';
  console.error(`[discador] ${context.PATH ?? ''} ${kind}: ${err instanceof Error ? err.message : String(err)}`);
  if (err instanceof DbUnavailable) return jsonResponse(503, { error: 'database_unavailable', message: 'the database is not answering; try again shortly' });
  return jsonResponse(500, { error: 'internal_error', message: 'something went wrong on our side' });
}
