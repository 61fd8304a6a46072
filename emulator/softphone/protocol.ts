/**
 * The JSON messages between a stand-in Device (browser) and the emulator's softphone
 * WebSocket (`/softphone`). One JSON object per WebSocket text message, `type` first.
 * Types only: shared by the Node side and the browser bundle.
 */

/** Browser → emulator. */
export type ClientMessage =
  /** Receive calls to `client:<identity>` with this AccessToken (needs `incoming.allow`); refused: `error` ref `register`. */
  | { type: 'register'; token: string }
  | { type: 'unregister' }
  /** Replace the token of a registered Device (updateToken); refused: `error` ref `token`. */
  | { type: 'token'; token: string }
  /** Call the TwiML App of the token's outgoing grant; `ref` names the reply (`created` or `error`). */
  | { type: 'connect'; ref: string; token: string; params: Record<string, string> }
  | { type: 'accept'; callSid: string }
  /** Decline a ringing call: the caller's `<Dial>` ends busy. */
  | { type: 'reject'; callSid: string }
  /** Stop ringing here; the call keeps ringing until answered elsewhere or its timeout. */
  | { type: 'ignore'; callSid: string }
  | { type: 'disconnect'; callSid: string }
  | { type: 'mute'; callSid: string; muted: boolean }
  /** DTMF on the call's leg (`0-9 * #`, `w` = 0.5 s pause, `W` = 1 s). */
  | { type: 'digits'; callSid: string; digits: string };

/** Emulator → browser. */
export type ServerMessage =
  | { type: 'registered'; identity: string }
  | { type: 'unregistered'; identity: string }
  /** A leg to `client:<identity>` rings this browser. */
  | { type: 'incoming'; callSid: string; parameters: Record<string, string>; customParameters: Record<string, string> }
  /** A ringing call stopped before this browser answered it (caller hung up, timeout, answered elsewhere). */
  | { type: 'cancel'; callSid: string }
  /** The outgoing call of `connect` `ref` exists. */
  | { type: 'created'; ref: string; callSid: string; parameters: Record<string, string> }
  | { type: 'ringing'; callSid: string }
  /** The call is connected (an incoming call after `accept`, an outgoing one when answered). */
  | { type: 'accepted'; callSid: string }
  /** The call ended; `status` is the leg's final Twilio status. */
  | { type: 'disconnected'; callSid: string; status: string; reason: string }
  /** A Voice SDK error code; `ref`/`callSid` say what it is about (none: the Device itself). */
  | { type: 'error'; code: number; message: string; ref?: string; callSid?: string };

/** Path of the WebSocket on the emulator. */
export const SOFTPHONE_WS_PATH = '/softphone';
/** Path of the stand-in Device bundle on the emulator. */
export const SOFTPHONE_SCRIPT_PATH = '/softphone/device.js';
