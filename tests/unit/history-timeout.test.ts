/**
 * A history report that runs out of time is 503 report_timeout and does not open a
 * database outage (no database-unreachable alert); a database that cannot be reached still
 * is 503 database_unavailable and does. A stand-in for PostgREST answers the RPCs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handler } from '../../src/functions/api/history';
import { historyRpc, ReportTimeout } from '../../src/lib/domain/history-api';
import { createDb } from '../../src/lib/runtime/db';
import { outageOpen, resetOutageState } from '../../src/lib/domain/alerts/db-outage';
import { installRuntimeGlobals, makeContext } from '../helpers/function-context';

const TOKEN = 'a'.repeat(43);
let server: Server;
let url = '';
/** What the stand-in does with a history_report call. */
let mode: 'statement_timeout' | 'hang' | 'ok' = 'ok';

beforeAll(async () => {
  installRuntimeGlobals();
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (!req.url?.endsWith('/rpc/history_report')) {
        res.writeHead(404).end();
        return;
      }
      if (mode === 'hang') return; // never answers
      if (mode === 'statement_timeout') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: '57014', message: 'canceling statement due to statement timeout', details: null, hint: null }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('null');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => resetOutageState());
afterEach(() => resetOutageState());

/** GET /api/history with a bearer token, as the runtime calls the function. */
function get(context: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const event = { from: '2025-03-01', to: '2025-03-31', request: { headers: { authorization: `Bearer ${TOKEN}` }, cookies: {} } };
    handler(context as never, event, (_e, res) => {
      const r = res as unknown as { statusCode: number; body: unknown };
      resolve({ status: r.statusCode, body: (typeof r.body === 'string' ? JSON.parse(r.body) : r.body) as Record<string, unknown> });
    });
  });
}

describe('history report time budget', () => {
  it('a statement timeout in the database → 503 report_timeout, no outage', async () => {
    mode = 'statement_timeout';
    const r = await get(makeContext({ SUPABASE_URL: url }));
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: 'report_timeout', message: 'the report took longer than 7 s; choose a shorter period or a campaign' });
    expect(outageOpen()).toBe(false);
  });

  it('our own abort after the budget → ReportTimeout', async () => {
    mode = 'hang';
    const db = createDb({ url, serviceRoleKey: 'k', timeoutMs: 100 });
    const started = Date.now();
    await expect(historyRpc(db, {}, 300)).rejects.toBeInstanceOf(ReportTimeout);
    // The report's own budget, not the client's 100 ms default.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('a database that cannot be reached → 503 database_unavailable and the outage is noted', async () => {
    const r = await get(makeContext());
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'database_unavailable' });
    expect(outageOpen()).toBe(true);
  });
});
