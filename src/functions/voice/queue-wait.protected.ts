/**
 * /voice/queue-wait — the Enqueue waitUrl of a service queue: one announcement (position,
 * estimated wait, the keys) then hold music up to the next one, inside a one-digit Gather
 * (see waitTwiml); at the max wait `<Leave>`. Everything it needs is in its URL and in
 * Twilio's queue parameters (QueuePosition, QueueTime, AvgQueueTime; `waited` and `ahead`
 * correct them for a caller put back after a failed hand-over): no database, so a
 * database outage never interrupts the wait. Unusable parameters fall back to the defaults.
 */
import twilio from 'twilio';
import { DEFAULT_QUEUE, QUEUE_MUSIC_ASSET, QUEUE_NAME, waitTwiml } from '../../lib/domain/queue';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import { int, text } from '../../lib/runtime/validate';

const waitParams = {
  ...voiceParams,
  QueuePosition: int(1, 100_000).orElse(1),
  QueueTime: int(0, 86_400).orElse(0),
  AvgQueueTime: int(0, 86_400).orElse(0),
  queue: text({ pattern: QUEUE_NAME }).orElse(DEFAULT_QUEUE),
  every: int(15, 600).orElse(45),
  max: int(30, 3600).orElse(300),
  cb: text({ pattern: /^[0-9]$/ }).orElse(null),
  vm: text({ pattern: /^[0-9]$/ }).orElse('2'),
  music: text({ pattern: /^\/[A-Za-z0-9._/-]{1,200}$/ }).orElse(QUEUE_MUSIC_ASSET),
  spc: int(1, 86_400).orElse(null),
  waited: int(0, 86_400).orElse(0),
  ahead: int(0, 100_000).orElse(undefined),
};

export const handler = voiceFunction(
  async ({ config, params }) => {
    const p = parseParams(waitParams, params);
    return waitTwiml(
      config,
      {
        queue: p.queue,
        every: p.every,
        max: p.max,
        cb: p.cb,
        vm: p.vm,
        music: p.music,
        spc: p.spc,
        waited: p.waited,
        ...(p.ahead !== undefined ? { ahead: p.ahead } : {}),
      },
      { position: p.QueuePosition, queueTime: p.QueueTime, avgQueueTime: p.AvgQueueTime },
    );
  },
  // Without a CallSid or a configuration: leave the queue; the Enqueue action takes a message.
  () => {
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.leave();
    return twiml;
  },
);
