/**
 * The functions' database client against a stand-in PostgREST (an HTTP server in the test
 * that records each request): the request it sends, and how each kind of answer maps onto
 * RpcResult and unwrap. The real PostgREST is exercised by tests/flow.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDb, DB_UNAVAILABLE, DbUnavailable, unwrap } from '../../src/lib/runtime/db';
import { BadRequest } from '../../src/lib/runtime/http';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let url: string;
let seen: Seen[] = [];
let answer: (res: ServerResponse) => void = (res) => res.end();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => (seen = []));

const json = (status: number, body: unknown) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const key = 'service-role-key-for-unit-tests-only';

describe('createDb', () => {
  it('POSTs the arguments to /rest/v1/rpc/<fn> with the service role key, and returns the data', async () => {
    answer = json(200, { opted_out: false });
    const db = createDb({ url: `${url}/`, serviceRoleKey: key, timeoutMs: 1000 });
    expect(await db.rpc('opt_out_check', { p_phone: '+5511999999999' })).toEqual({ data: { opted_out: false }, error: null });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/rest/v1/rpc/opt_out_check', body: '{"p_phone":"+5511999999999"}' });
    expect(seen[0]!.headers).toMatchObject({ apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  });

  it('a refusal by the database keeps its SQLSTATE; unwrap makes 22/23 a BadRequest', async () => {
    answer = json(400, { code: '22023', message: 'unknown call status x', details: null, hint: null });
    const r = await createDb({ url, serviceRoleKey: key }).rpc('apply_call_event', {});
    expect(r).toEqual({ data: null, error: { code: '22023', message: 'unknown call status x' } });
    expect(() => unwrap(r)).toThrow(BadRequest);
  });

  it('other SQL errors stay plain errors', async () => {
    answer = json(404, { code: 'PGRST202', message: 'Could not find the function' });
    const r = await createDb({ url, serviceRoleKey: key }).rpc('nope', {});
    expect(r.error?.code).toBe('PGRST202');
    expect(() => unwrap(r)).toThrow(/database error PGRST202/);
  });

  it('a 5xx is DB_UNAVAILABLE (DbUnavailable from unwrap)', async () => {
    answer = json(503, { message: 'upstream down' });
    const r = await createDb({ url, serviceRoleKey: key }).rpc('apply_call_event', {});
    expect(r.error?.code).toBe(DB_UNAVAILABLE);
    expect(() => unwrap(r)).toThrow(DbUnavailable);
  });

  it('a database that never answers is DB_UNAVAILABLE after timeoutMs, and is asked once (no retries)', async () => {
    answer = () => undefined; // hold the request open
    const started = Date.now();
    const r = await createDb({ url, serviceRoleKey: key, timeoutMs: 300 }).rpc('apply_call_event', {});
    const took = Date.now() - started;
    expect(r.error?.code).toBe(DB_UNAVAILABLE);
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(2000);
    expect(seen).toHaveLength(1);
  });

  it('a closed port is DB_UNAVAILABLE', async () => {
    const r = await createDb({ url: 'http://127.0.0.1:9', serviceRoleKey: key, timeoutMs: 500 }).rpc('f', {});
    expect(r.error?.code).toBe(DB_UNAVAILABLE);
  });

  it('reads tables through client.from, with the same key and no retries on failure', async () => {
    answer = json(200, [{ phone_number: '+5511999999999' }]);
    const db = createDb({ url, serviceRoleKey: key });
    const { data, error } = await db.client.from('opt_outs').select('phone_number').in('phone_number', ['+5511999999999']);
    expect(error).toBeNull();
    expect(data).toEqual([{ phone_number: '+5511999999999' }]);
    expect(seen[0]!.url).toMatch(/^\/rest\/v1\/opt_outs\?select=phone_number&phone_number=in\./);
    seen = [];
    answer = json(503, { message: 'down' });
    await db.client.from('opt_outs').select('phone_number');
    expect(seen).toHaveLength(1);
  });
});
