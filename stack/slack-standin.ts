/**
 * A local stand-in for a Slack incoming webhook: records every POST (exact body, headers, time)
 * and answers as Slack does (200 "ok"), or as told: another status (e.g. 500) or no answer at
 * all (a hung Slack), for the alerts' retry tests. The local stack points
 * ALERT_SLACK_WEBHOOK_URL at it unless one is configured.
 *
 *   POST /services/<anything>      the webhook: recorded, answered per the mode
 *   GET  /_standin/posts           [{at, path, headers, body}] oldest first
 *   DELETE /_standin/posts         forgets them
 *   PUT  /_standin/mode            {status: 200|500|…} or {hang: true}; optional {times: n}
 *                                  (then back to 200); answers the mode
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackPost {
  /** When it arrived (ms since the epoch). */
  at: number;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SlackMode {
  status: number;
  hang: boolean;
  /** How many more posts get this mode before it goes back to 200 (null: until changed). */
  times: number | null;
}

export interface SlackStandin {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** The webhook URL to configure (ALERT_SLACK_WEBHOOK_URL). */
  webhookUrl: string;
  posts(): SlackPost[];
  setMode(mode: Partial<SlackMode>): void;
  stop(): Promise<void>;
}

const OK: SlackMode = { status: 200, hang: false, times: null };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** What Slack says with each status (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks#handling_errors). */
function slackText(status: number): string {
  if (status === 200) return 'ok';
  if (status === 400) return 'invalid_payload';
  if (status === 403) return 'action_prohibited';
  if (status === 404) return 'no_service';
  if (status === 410) return 'channel_is_archived';
  if (status === 429) return 'rate_limited';
  return 'internal_error';
}

export async function startSlackStandin(opts: { port?: number } = {}): Promise<SlackStandin> {
  const posts: SlackPost[] = [];
  let mode: SlackMode = { ...OK };
  const hung = new Set<ServerResponse>();
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const setMode = (m: Partial<SlackMode>) => {
    mode = { status: m.status ?? 200, hang: m.hang ?? false, times: m.times ?? null };
    if (!mode.hang) for (const r of hung) r.destroy();
    if (!mode.hang) hung.clear();
  };

  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const body = await readBody(req);
      if (path === '/_standin/posts' && req.method === 'GET') return json(res, 200, posts);
      if (path === '/_standin/posts' && req.method === 'DELETE') {
        posts.length = 0;
        return json(res, 200, { ok: true });
      }
      if (path === '/_standin/mode' && req.method === 'PUT') {
        let m: Partial<SlackMode>;
        try {
          m = JSON.parse(body || '{}') as Partial<SlackMode>;
        } catch {
          return json(res, 400, { error: 'mode must be JSON: {status} or {hang: true}, optional {times}' });
        }
        if ((m.status !== undefined && !(Number.isInteger(m.status) && m.status >= 200 && m.status <= 599)) || (m.times !== undefined && m.times !== null && !(Number.isInteger(m.times) && m.times > 0))) {
          return json(res, 400, { error: 'status must be an HTTP status (200-599); times a positive integer' });
        }
        setMode(m);
        return json(res, 200, mode);
      }
      if (path.startsWith('/services/') && req.method === 'POST') {
        posts.push({ at: Date.now(), path, headers: { ...req.headers }, body });
        const now = mode;
        if (now.times !== null) {
          now.times -= 1;
          if (now.times <= 0) mode = { ...OK };
        }
        if (now.hang) {
          hung.add(res);
          res.on('close', () => hung.delete(res));
          return;
        }
        const extra: Record<string, string> = now.status === 429 ? { 'retry-after': '1' } : {};
        return res.writeHead(now.status, { 'content-type': 'text/plain', ...extra }).end(slackText(now.status));
      }
      return json(res, 404, { error: 'not found: POST /services/…, GET|DELETE /_standin/posts, PUT /_standin/mode' });
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    webhookUrl: `${url}/services/T00000000/B00000000/local-standin`,
    posts: () => [...posts],
    setMode,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const r of hung) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
