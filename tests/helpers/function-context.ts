import { dirname, join } from 'node:path';
import twilio from 'twilio';

// The runtime's own Response class (the package's exports hide the subpath, so by file path).
const devRuntime = dirname(require.resolve('@twilio/runtime-handler/dev'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Response } = require(join(devRuntime, 'internal', 'response.js')) as { Response: new () => object };

/** What a handler answered: the runtime's Response, read back. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Installs the globals the Functions runtime provides (Twilio, with Twilio.Response). */
export function installRuntimeGlobals(): void {
  (globalThis as Record<string, unknown>)['Twilio'] = { ...twilio, Response };
}

/** A handler's context with the local defaults, overridable per test. */
export function makeContext(env: Record<string, string | undefined> = {}): Record<string, unknown> {
  return {
    DOMAIN_NAME: 'discador-1234-dev.twil.io',
    PATH: '/test',
    ACCOUNT_SID: 'AC0000000000000000000000000000d15c',
    AUTH_TOKEN: 'local0twilio0auth0token000000000',
    // A port nothing listens on: the database is "down" unless a test says otherwise.
    SUPABASE_URL: 'http://127.0.0.1:9',
    SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-unit-tests-only',
    DB_TIMEOUT_MS: '500',
    ...env,
    getTwilioClient: () => {
      throw new Error('no Twilio client in unit tests');
    },
  };
}

type Handler = (context: never, event: never, callback: (err: unknown, res?: unknown) => void) => void;

/** Runs a function handler as the runtime does and returns its answer. */
export function invoke(handler: Handler, context: Record<string, unknown>, event: Record<string, unknown>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    handler(context as never, { ...event, request: { headers: {}, cookies: {} } } as never, (err, res) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const r = res as { statusCode: number; headers: Record<string, string>; body: unknown };
      if (!(res instanceof Response)) return reject(new Error(`handler answered something other than a Response: ${String(res)}`));
      resolve({ status: r.statusCode, headers: r.headers, body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) });
    });
  });
}
