import type { IncomingMessage, ServerResponse } from 'node:http';

/** A Twilio REST error (`{code, message, more_info, status}`), thrown by handlers. */
export class TwilioError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  /** The JSON body Twilio sends for this error. */
  body(): Record<string, unknown> {
    return { code: this.code, message: this.message, more_info: `https://www.twilio.com/docs/errors/${this.code}`, status: this.status };
  }
}

/** Shorthand for a 404 / 20404. */
export function notFound(path: string): TwilioError {
  return new TwilioError(404, 20404, `The requested resource ${path} was not found`);
}

/** Reads a request body as text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A list page the way Twilio (and the twilio npm client's Page class) expects it. */
export function page<T>(items: T[], key: string, path: string, query: Record<string, unknown>): Record<string, unknown> {
  const pageSize = Math.min(1000, Math.max(1, Number(query.PageSize ?? 50)));
  const pageNo = Math.max(0, Number(query.Page ?? 0));
  const start = pageNo * pageSize;
  const slice = items.slice(start, start + pageSize);
  const filters = Object.entries(query).filter(([k]) => !['PageSize', 'Page', 'PageToken'].includes(k));
  const uriFor = (p: number) => {
    const qs = new URLSearchParams();
    for (const [k, v] of filters) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
    qs.set('PageSize', String(pageSize));
    qs.set('Page', String(p));
    if (p > 0) qs.set('PageToken', `PA${p}`);
    return `${path}?${qs.toString()}`;
  };
  return {
    [key]: slice,
    end: start + Math.max(0, slice.length - 1),
    first_page_uri: uriFor(0),
    next_page_uri: start + pageSize < items.length ? uriFor(pageNo + 1) : null,
    page: pageNo,
    page_size: pageSize,
    previous_page_uri: pageNo > 0 ? uriFor(pageNo - 1) : null,
    start,
    uri: uriFor(pageNo),
  };
}
