import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import type twilio from 'twilio';
import { ConfigError, loadConfig, type Config } from './config';
import { DbUnavailable, getDb, type Db } from './db';
import { errorResponse, HttpError, httpResponse, twimlResponse } from './http';
import { webhookParams } from './params';

type VoiceResponse = twilio.twiml.VoiceResponse;

/** What a flow gets: validated configuration, the request's parameters and the database. */
export interface FlowInput {
  config: Config;
  params: Record<string, string>;
  db: Db;
  context: Context;
}

/** Resolves with the promise, or rejects after ms: a webhook must answer before Twilio gives up. */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbUnavailable(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function dbFor(config: Config): Db {
  return getDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: config.DB_TIMEOUT_MS });
}

/** Time a voice flow may take before the fallback answers instead (Functions stop at 10 s). */
const VOICE_DEADLINE_MS = 6000;

/**
 * Wraps a TwiML flow as a Twilio Function handler that never fails the call: malformed
 * parameters get a 400 naming them; an unreachable database, a bad configuration or any
 * other failure gets the flow's fallback TwiML (still a 200), so the caller never hears
 * dead air or Twilio's "application error".
 */
export function voiceFunction(
  flow: (input: FlowInput) => Promise<VoiceResponse>,
  fallback: (config: Config | null, params: Record<string, string>) => VoiceResponse,
) {
  return (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void => {
    const params = webhookParams(event);
    let config: Config | null = null;
    const run = async () => {
      config = loadConfig(context);
      return withDeadline(flow({ config, params, db: dbFor(config), context }), VOICE_DEADLINE_MS);
    };
    run().then(
      (twiml) => callback(null, twimlResponse(twiml)),
      (err: unknown) => {
        if (err instanceof HttpError) return callback(null, errorResponse(err));
        logFailure(context, err);
        try {
          callback(null, twimlResponse(fallback(config, params)));
        } catch (e) {
          logFailure(context, e);
          callback(null, httpResponse(500, { error: 'fallback_failed' }));
        }
      },
    );
  };
}

/**
 * Wraps a callback handler (status, AMD, recording…): 204 when applied, 400 when the
 * parameters are malformed (nothing written), 503 when the database is unreachable so the
 * failure shows in Twilio's debugger.
 */
export function webhookFunction(handle: (input: FlowInput) => Promise<object | void>) {
  return (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void => {
    const params = webhookParams(event);
    const run = async () => {
      const config = loadConfig(context);
      return withDeadline(handle({ config, params, db: dbFor(config), context }), 8000);
    };
    run().then(
      (body) => callback(null, body ? httpResponse(200, body) : httpResponse(204, '')),
      (err: unknown) => {
        if (err instanceof HttpError) return callback(null, errorResponse(err));
        logFailure(context, err);
        const status = err instanceof DbUnavailable ? 503 : 500;
        callback(null, httpResponse(status, { error: err instanceof DbUnavailable ? 'database_unavailable' : 'internal_error' }));
      },
    );
  };
}

function logFailure(context: Context, err: unknown): void {
  const kind = err instanceof ConfigError ? 'configuration' : err instanceof DbUnavailable ? 'database unavailable' : 'failure';
  console.error(`[discador] ${context.PATH ?? ''} ${kind}: ${err instanceof Error ? err.message : String(err)}`);
}
