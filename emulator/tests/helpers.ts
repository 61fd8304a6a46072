import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { XMLParser } from 'fast-xml-parser';

/** One request the test app received. */
export interface AppRequest {
  method: string;
  path: string;
  url: string;
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
  signatureValid: boolean;
}

/** What a route answers: TwiML (VoiceResponse or string), or a status with a body. */
export type RouteResult = { toString(): string } | { status: number; body?: string | Buffer; delayMs?: number; contentType?: string };

/** A tiny TwiML app: routes by path, verifies X-Twilio-Signature on every request, records everything. */
export interface TwimlApp {
  url: string;
  requests: AppRequest[];
  /** Requests to a path (exact path match, without query). */
  to(path: string): AppRequest[];
  route(path: string, handler: (r: AppRequest) => RouteResult | Promise<RouteResult>): void;
  close(): Promise<void>;
}

/** Starts a TwiML app on a free port; every request must carry a valid signature for `authToken`. */
export async function startApp(authToken: string | (() => string)): Promise<TwimlApp> {
  const routes = new Map<string, (r: AppRequest) => RouteResult | Promise<RouteResult>>();
  const requests: AppRequest[] = [];
  let base = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const fullUrl = base + (req.url ?? '/');
      const u = new URL(fullUrl);
      const params: Record<string, string> = {};
      const signed: Record<string, string> = {};
      if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body)) (params[k] = v), (signed[k] = v);
      else for (const [k, v] of u.searchParams) params[k] = v;
      const token = typeof authToken === 'string' ? authToken : authToken();
      const signatureValid = twilio.validateRequest(token, String(req.headers['x-twilio-signature'] ?? ''), fullUrl, signed);
      const r: AppRequest = { method: req.method ?? 'GET', path: u.pathname, url: fullUrl, params, headers: req.headers, signatureValid };
      requests.push(r);
      const h = routes.get(u.pathname);
      let out: RouteResult = h ? await h(r) : { status: 200, body: '' };
      if (!signatureValid) out = { status: 403, body: 'bad signature' };
      if (typeof out === 'object' && 'status' in out && typeof out.status === 'number') {
        if (out.delayMs) await new Promise((x) => setTimeout(x, out.delayMs));
        res.writeHead(out.status, { 'Content-Type': out.contentType ?? 'text/plain' });
        res.end(out.body ?? '');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(out.toString());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    route: (path, handler) => void routes.set(path, handler),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A new VoiceResponse. */
export function vr(): twilio.twiml.VoiceResponse {
  return new twilio.twiml.VoiceResponse();
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
/** Parses XML (e.g. TwiML) into objects for assertions. */
export function parseXml(text: string): Record<string, unknown> {
  return xml.parse(text) as Record<string, unknown>;
}

import { startEmulator, type Emulator, type EmulatorOptions } from '../index';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';

/** Emulator + signed TwiML app + official twilio client + one owned number (+551130000001). */
export interface Rig {
  emu: Emulator;
  app: TwimlApp;
  client: twilio.Twilio;
  number: string;
  close(): Promise<void>;
}

/** Starts a rig; `opts` go to startEmulator (speed defaults to 50: fast, yet timer jitter under a loaded CPU stays well under a virtual second). */
export async function rig(opts: EmulatorOptions = {}): Promise<Rig> {
  const emu = await startEmulator({ speed: 50, cps: 50, ...opts });
  const app = await startApp(emu.authToken);
  const client = createTwilioClient(emu.accountSid, emu.authToken, emu.url);
  const number = '+551130000001';
  await client.incomingPhoneNumbers.create({ phoneNumber: number, voiceUrl: `${app.url}/inbound` });
  return {
    emu, app, client, number,
    async close() {
      await emu.stop();
      await app.close();
    },
  };
}

/**
 * A fresh rig for every test, checked after it: no contract violation, every request the app
 * got correctly signed. `get`/`set` are the test file's own variable, so a test may swap in a
 * rig with other options (closing the old one first).
 */
export function rigPerTest(get: () => Rig, set: (r: Rig) => void): void {
  beforeEach(async () => {
    set(await rig());
  });
  afterEach(async () => {
    const r = get();
    expect(r.emu.contractViolations()).toEqual([]);
    expect(r.app.requests.every((q) => q.signatureValid)).toBe(true);
    await r.close();
  });
}

/** Verb entries of a timeline, as `Name:content`. */
export function verbs(emu: Emulator, sid: string): string[] {
  return emu.timeline(sid).filter((e) => e.type === 'verb').map((e) => `${e.verb}:${e.content ?? ''}`);
}
