import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import type twilio from 'twilio';
import { ConfigError, loadConfig, type Config } from './config';
import { DbUnavailable, getDb, type Db } from './db';
import { errorResponse, HttpError, httpResponse, twimlResponse } from './http';
import { webhookParams } from './params';
import { MESSAGES } from '../domain/messages';
import { sayAndHangUp } from '../domain/twiml';

type VoiceResponse = twilio.twiml.VoiceResponse;
type MessagingResponse = twilio.twiml.MessagingResponse;

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
 * Wraps a TwiML flow as a Twilio Function handler that never fails the call: whatever goes
 * wrong (parameters the flow cannot use, an unreachable database, a bad configuration, a
 * bug) is logged and answered with the flow's fallback TwiML, always a 200, so the caller
 * hears the disclaimer and a route instead of dead air or Twilio's "application error".
 * Parameters a flow can do without never get this far: the voice schemas are lenient.
 * A request without a usable CallSid gets the fallback too: nothing about it can be
 * recorded (every row is keyed by CallSid), and the fallback route needs no database.
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
        logFailure(context, err);
        callback(null, lastResort(context, () => fallback(config, params)));
      },
    );
  };
}

/** The fallback's TwiML; if even that fails, the generic "unavailable" message. Never an error status. */
function lastResort(context: Context, fallback: () => VoiceResponse) {
  try {
    return twimlResponse(fallback());
  } catch (e) {
    logFailure(context, e);
    return twimlResponse(sayAndHangUp(null, MESSAGES.unavailable));
  }
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

/** Time an incoming-message flow may take (Functions stop at 10 s; Twilio waits 15 s). */
const MESSAGE_DEADLINE_MS = 9000;

/**
 * Wraps an incoming-message webhook (a number's SmsUrl): the flow answers messaging TwiML
 * (a reply, or an empty <Response/> for none), 200. Like the callbacks: 400 when the
 * parameters are malformed (nothing written), 503 when the database is unreachable and the
 * flow could not do without it, 500 on a bug; each shows in Twilio's debugger.
 */
export function messageWebhookFunction(flow: (input: FlowInput) => Promise<MessagingResponse>) {
  return (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void => {
    const params = webhookParams(event);
    const run = async () => {
      const config = loadConfig(context);
      return withDeadline(flow({ config, params, db: dbFor(config), context }), MESSAGE_DEADLINE_MS);
    };
    run().then(
      (twiml) => callback(null, twimlResponse(twiml)),
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
  const kind =
    err instanceof ConfigError ? 'configuration'
    : err instanceof DbUnavailable ? 'database unavailable'
    : err instanceof HttpError ? `unusable request (${err.code})`
    : 'failure';
  console.error(`[discador] ${context.PATH ?? ''} ${kind}: ${err instanceof Error ? err.message : String(err)}`);
}
