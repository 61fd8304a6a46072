import twilio from 'twilio';
import WebSocket from 'ws';
import type { ClientMessage, ServerMessage } from '../softphone/protocol';
import type { Rig } from './helpers';

/** An API key and a TwiML App made through the emulator's REST API, as a real deployment makes them. */
export interface SoftphoneAccount {
  keySid: string;
  secret: string;
  appSid: string;
}

/** Creates an API key and a TwiML App whose VoiceUrl is `voiceUrl`. */
export async function softphoneAccount(r: Rig, voiceUrl: string, statusCallback?: string): Promise<SoftphoneAccount> {
  const key = await r.client.newKeys.create({ friendlyName: 'softphone tests' });
  const app = await r.client.applications.create({ friendlyName: 'agents', voiceUrl, voiceMethod: 'POST', ...(statusCallback ? { statusCallback } : {}) });
  return { keySid: key.sid, secret: key.secret, appSid: app.sid };
}

/** An AccessToken as `GET /api/voice-token` makes it: `twilio.jwt.AccessToken` with a VoiceGrant. */
export function voiceToken(
  r: Rig,
  a: SoftphoneAccount,
  o: { identity: string; ttl?: number; incoming?: boolean; appSid?: string | null; secret?: string; accountSid?: string; appParams?: Record<string, string> },
): string {
  const t = new twilio.jwt.AccessToken(o.accountSid ?? r.emu.accountSid, a.keySid, o.secret ?? a.secret, { identity: o.identity, ttl: o.ttl ?? 3600 });
  t.addGrant(
    new twilio.jwt.AccessToken.VoiceGrant({
      incomingAllow: o.incoming ?? true,
      ...(o.appSid === null ? {} : { outgoingApplicationSid: o.appSid ?? a.appSid }),
      ...(o.appParams ? { outgoingApplicationParams: o.appParams } : {}),
    }),
  );
  return t.toJwt();
}

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** A browser's end of the softphone WebSocket, driven from Node: sends protocol messages and waits for replies. */
export class Phone {
  readonly received: ServerMessage[] = [];
  private unread: ServerMessage[] = [];
  private wake: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      this.received.push(m);
      this.unread.push(m);
      for (const w of this.wake.splice(0)) w();
    });
  }

  static async open(url: string): Promise<Phone> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Phone(ws);
  }

  send(m: ClientMessage | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(m));
  }

  /** The next unread message of `type` (matching `pred`); waits up to `timeoutMs`. */
  async next<T extends ServerMessage['type']>(type: T, pred: (m: Of<T>) => boolean = () => true, timeoutMs = 10000): Promise<Of<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.unread.findIndex((m) => m.type === type && pred(m as Of<T>));
      if (i >= 0) return this.unread.splice(i, 1)[0] as Of<T>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} message within ${timeoutMs} ms; received: ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Registers with `token`; resolves with the `registered` message (throws with the error otherwise). */
  async register(token: string): Promise<Of<'registered'>> {
    this.send({ type: 'register', token });
    return this.next('registered');
  }

  close(): void {
    this.ws.close();
  }
}
