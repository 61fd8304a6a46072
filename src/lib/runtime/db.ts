import { PostgrestClient } from '@supabase/postgrest-js';
import { BadRequest } from './http';

/** Error code for "the database could not be reached in time" (network, timeout, 5xx). */
export const DB_UNAVAILABLE = 'DB_UNAVAILABLE';

/** The result of one SQL function call: data, or an error with a stable code. */
export type RpcResult<T> = { data: T; error: null } | { data: null; error: { code: string; message: string } };

/** Connection settings for the Supabase REST API (service role: server side only). */
export interface DbSettings {
  url: string;
  serviceRoleKey: string;
  /** Give up on a request after this long (ms). Webhooks must answer within Twilio's 15 s. */
  timeoutMs?: number;
}

/**
 * The database as the functions use it: one SQL function per business operation.
 * `client` is Supabase's REST client alone (the part of supabase-js that talks to
 * PostgREST, at /rest/v1): the functions need nothing else, and loading the whole SDK
 * (auth, realtime, storage) costs more than a function's own code on every cold start.
 */
export interface Db {
  client: PostgrestClient;
  rpc<T>(fn: string, args: Record<string, unknown>): Promise<RpcResult<T>>;
}

const cache = new Map<string, Db>();

/** A Db for these settings, reused across invocations of a warm function container. */
export function getDb(settings: DbSettings): Db {
  const key = `${settings.url}|${settings.serviceRoleKey}|${settings.timeoutMs ?? ''}`;
  let db = cache.get(key);
  if (!db) {
    db = createDb(settings);
    cache.set(key, db);
  }
  return db;
}

/** Creates a Db whose requests time out after settings.timeoutMs (default 3 s). */
export function createDb(settings: DbSettings): Db {
  const timeoutMs = settings.timeoutMs ?? 3000;
  const timedFetch: typeof fetch = (input, init) =>
    fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
  // The same headers supabase-js sends with the service role key.
  const client = new PostgrestClient(`${settings.url.replace(/\/$/, '')}/rest/v1`, {
    headers: { apikey: settings.serviceRoleKey, Authorization: `Bearer ${settings.serviceRoleKey}` },
    fetch: timedFetch,
    // A webhook has one deadline; retries with backoff (1 s, 2 s, 4 s) would overrun it.
    retry: false,
  });
  return {
    client,
    async rpc<T>(fn: string, args: Record<string, unknown>): Promise<RpcResult<T>> {
      try {
        const { data, error, status } = await client.rpc(fn, args);
        if (error) {
          const unavailable = status === 0 || status >= 500 || !error.code;
          return { data: null, error: { code: unavailable ? DB_UNAVAILABLE : error.code, message: error.message } };
        }
        return { data: data as T, error: null };
      } catch (e) {
        return { data: null, error: { code: DB_UNAVAILABLE, message: e instanceof Error ? e.message : String(e) } };
      }
    },
  };
}

/** The database did not answer in time (or at all). Voice flows then answer fallback TwiML. */
export class DbUnavailable extends Error {}

/**
 * The data of an RPC result. Unreachable database → DbUnavailable; the database refusing the
 * input (SQLSTATE classes 22 data exception, 23 integrity violation) → BadRequest.
 */
export function unwrap<T>(result: RpcResult<T>): T {
  if (!result.error) return result.data;
  const { code, message } = result.error;
  if (code === DB_UNAVAILABLE) throw new DbUnavailable(message);
  if (/^2[23]/.test(code)) {
    // The database's own words stay in the log: an answer must not show them.
    console.error(`[discador] refused by the database (SQLSTATE ${code}): ${message}`);
    throw new BadRequest(`refused by the database (SQLSTATE ${code})`, 'invalid_data');
  }
  throw new Error(`database error ${code}: ${message}`);
}
