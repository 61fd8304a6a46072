/**
 * Serves the stand-in Device to browsers: `GET /softphone/device.js` is browser/entry.ts bundled
 * by esbuild on first request (kept in memory, never written under dist/), and
 * `GET /softphone/` a bare page that loads it (for trying the Device by hand and for tests).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { SOFTPHONE_SCRIPT_PATH } from './protocol';

/** Path of the bare page that loads the stand-in Device. */
export const SOFTPHONE_PAGE_PATH = '/softphone/';

let bundled: Promise<string> | undefined;

/** The stand-in Device as one browser script (an IIFE that sets `window.DiscadorStandInDevice`). */
export function standInScript(): Promise<string> {
  bundled ??= import('esbuild')
    .then((esbuild) =>
      esbuild.build({
        entryPoints: [join(__dirname, 'browser', 'entry.ts')],
        bundle: true,
        write: false,
        format: 'iife',
        platform: 'browser',
        target: 'es2020',
        logLevel: 'silent',
        legalComments: 'none',
      }),
    )
    .then((r) => r.outputFiles[0]?.text ?? '')
    .catch((e: unknown) => {
      bundled = undefined;
      throw e;
    });
  return bundled;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>discador emulator: stand-in softphone</title></head>
<body><p>Stand-in Voice SDK Device: <code>window.DiscadorStandInDevice</code> (Device, Call).</p>
<script src="${SOFTPHONE_SCRIPT_PATH}"></script></body></html>
`;

/** Answers the softphone's HTTP paths; false for any other request. */
export function serveSoftphone(req: IncomingMessage, res: ServerResponse): boolean {
  const path = new URL(req.url ?? '/', 'http://emulator').pathname;
  if (path !== SOFTPHONE_SCRIPT_PATH && path !== SOFTPHONE_PAGE_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' });
    res.end();
    return true;
  }
  if (path === SOFTPHONE_PAGE_PATH) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : PAGE);
    return true;
  }
  standInScript().then(
    (js) => {
      // Any origin may load it (the agent page is served by the functions, on another port).
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' });
      res.end(req.method === 'HEAD' ? undefined : js);
    },
    (e: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`could not bundle the stand-in Device: ${e instanceof Error ? e.message : String(e)}`);
    },
  );
  return true;
}
