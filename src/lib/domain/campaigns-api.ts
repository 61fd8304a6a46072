/**
 * The glue the /api/campaigns functions share: supervisor/admin sessions only, a JSON body
 * (whose settings and rows are objects and arrays, which the generic body shapes refuse),
 * read with the shared zod schemas, and the campaign SQL functions' refusals answered with
 * their stable codes. (The import's reading and sending is campaigns-import.ts, loaded only
 * when an import arrives: it needs the phone-number library.)
 */
import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import type { z } from 'zod';
import { apiFunction, header, requestOf, API_MAX_BODY_BYTES, type ApiInput } from '../runtime/api';
import { unwrap, type RpcResult } from '../runtime/db';
import { HttpError } from '../runtime/http';
import { campaignRefusal } from './campaign-refusals';

/** Largest body /api/campaigns/import takes (a CSV of some 20,000 leads): one function has 10 s. */
export const IMPORT_MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Most leads one import request takes (the function must answer within its deadline). */
export const IMPORT_MAX_ROWS = 20_000;

/** The request's body fields (and query parameters), checked to be JSON under `maxBytes`. */
export function jsonFields(event: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  const req = requestOf(event);
  const length = Number(header(req, 'content-length') ?? '0');
  if (length > maxBytes) throw new HttpError(413, 'body_too_large', `the body must be at most ${maxBytes} bytes`);
  const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (length > 0 && type !== 'application/json') {
    throw new HttpError(400, 'bad_request', 'send the body as JSON (Content-Type: application/json); a CSV goes in the "csv" field');
  }
  const { request: _request, ...fields } = event;
  return fields;
}

/** Parses fields with a zod schema, or throws 400 bad_request listing the problems. */
export function parseWith<T>(schema: z.ZodType<T>, fields: unknown): T {
  const r = schema.safeParse(fields);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  throw new HttpError(400, 'bad_request', `invalid body: ${problems.join('; ')}`);
}

/** The data of a campaign SQL function, its refusals as 400/404/409 with their codes. */
export function unwrapCampaign<T>(result: RpcResult<T>): T {
  if (result.error) {
    const refusal = campaignRefusal(result.error);
    if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
  }
  return unwrap(result);
}

/** The campaign_id field (JSON number or query text): a positive whole number, or 400. */
export function campaignIdOf(fields: Record<string, unknown>): number {
  const v = fields['campaign_id'];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new HttpError(400, 'bad_request', 'invalid body: campaign_id must be a positive whole number');
  return n;
}

/** The `settings` object of a body whose only fields are `allowed`, or 400. */
export function settingsOf(fields: Record<string, unknown>, allowed: string[]): Record<string, unknown> {
  const extra = Object.keys(fields).filter((k) => !allowed.includes(k));
  if (extra.length) throw new HttpError(400, 'bad_request', `invalid body: unknown field(s) ${extra.join(', ')}`);
  const s = fields['settings'];
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new HttpError(400, 'bad_request', 'invalid body: settings must be a JSON object');
  return s as Record<string, unknown>;
}

/** An /api/campaigns function: supervisors and admins; the handler gets the JSON fields. */
export function campaignFunction(
  opts: { maxBodyBytes?: number },
  handle: (input: ApiInput<Record<never, never>>, fields: Record<string, unknown>) => Promise<object>,
) {
  return (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void =>
    apiFunction({ roles: ['supervisor', 'admin'] }, (input) => handle(input, jsonFields(event, opts.maxBodyBytes ?? API_MAX_BODY_BYTES)))(context, event, callback);
}
