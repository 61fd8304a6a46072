/**
 * The local stack's heartbeats: what pg_cron + pg_net do in production, an interval that
 * POSTs /api/tick (or /api/jobs) with the HMAC header (tickHeader: t=<unix s>,v1=<hex HMAC-SHA256>). A beat
 * still waiting for its answer makes the next one wait (no pile-up when a round is slow).
 */
import { tickHeader } from '../src/lib/domain/dialer/tick-auth';

export interface Heartbeat {
  /** Beats sent and the last answer's status (0: no answer). */
  stats(): { sent: number; lastStatus: number };
  stop(): Promise<void>;
}

export function startHeartbeat(opts: { url: string; secret: string; intervalMs: number; log?: (line: string) => void }): Heartbeat {
  let sent = 0;
  let lastStatus = 0;
  let inFlight: Promise<void> | null = null;
  const beat = () => {
    if (inFlight) return;
    sent++;
    inFlight = fetch(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader(opts.secret) },
      body: '{}',
      signal: AbortSignal.timeout(15000),
    })
      .then(async (res) => {
        lastStatus = res.status;
        const body = await res.text();
        if (res.status !== 200) opts.log?.(`heartbeat: ${new URL(opts.url).pathname} answered ${res.status} ${body.slice(0, 200)}`);
        else if (body.includes('"placed":') && !/"rounds":\[\]/.test(body)) opts.log?.(`heartbeat: ${body.slice(0, 300)}`);
      })
      .catch((e: unknown) => {
        lastStatus = 0;
        opts.log?.(`heartbeat: ${new URL(opts.url).pathname} not reached: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => {
        inFlight = null;
      });
  };
  const timer = setInterval(beat, opts.intervalMs);
  timer.unref();
  return {
    stats: () => ({ sent, lastStatus }),
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}
