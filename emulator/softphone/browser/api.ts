/**
 * The softphone surface the agent page uses, taken from @twilio/voice-sdk's own declarations.
 * The real SDK's Device and Call fit these types, and so does the stand-in (the assertions at
 * the end fail type-checking when either drifts), so page code written against them runs on
 * both. Nothing here reaches a bundle (entry.ts imports its types only).
 */
import type { Call as SdkCall, Device as SdkDevice } from '@twilio/voice-sdk';
import type { Call as StandInCall, Device as StandInDevice } from './device';

/** EventEmitter methods of `T`, with their SDK parameters, returning `Self` (the SDK's return `this`). */
type Emitting<T, K extends keyof T, Self> = { [P in K]: T[P] extends (...args: infer A) => unknown ? (...args: A) => Self : never };

type EventMethods = 'on' | 'off' | 'once' | 'removeListener' | 'removeAllListeners';

/** A call, incoming or outgoing: the subset of the SDK's Call the page uses. */
export interface CallApi
  extends Pick<SdkCall, 'accept' | 'reject' | 'ignore' | 'disconnect' | 'mute' | 'isMuted' | 'sendDigits' | 'status' | 'parameters' | 'customParameters' | 'direction'>,
    Emitting<SdkCall, EventMethods, CallApi> {}

/** The softphone: the subset of the SDK's Device the page uses. */
export interface DeviceApi
  extends Pick<SdkDevice, 'register' | 'unregister' | 'updateToken' | 'updateOptions' | 'destroy' | 'disconnectAll' | 'state' | 'identity' | 'token' | 'isBusy'>,
    Emitting<SdkDevice, EventMethods, DeviceApi> {
  connect(options?: SdkDevice.ConnectOptions): Promise<CallApi>;
  readonly calls: CallApi[];
}

/** How the page makes a Device: `new Twilio.Device(token, options)` or the stand-in's. */
export type DeviceConstructor = new (token: string, options?: SdkDevice.Options) => DeviceApi;

/** What `window.DiscadorStandInDevice` holds on a page that loaded the emulator's /softphone/device.js. */
export interface StandInGlobal {
  Device: DeviceConstructor & typeof StandInDevice;
  Call: typeof StandInCall;
  /** The WebSocket the Devices use unless `socketUrl` is given (from the script's own URL). */
  socketUrl: string | undefined;
}

/**
 * Compile-time conformance, never called: the real SDK fits the API (so the API asks nothing the
 * SDK lacks) and the stand-in fits it with the SDK's own parameter, return and enum types. Each
 * element fails type-checking, saying what differs, when either side drifts.
 */
export function conformance(
  sdk: { device: SdkDevice; call: SdkCall; construct: typeof SdkDevice },
  standIn: { device: StandInDevice; call: StandInCall; construct: typeof StandInDevice },
): void {
  const fits: [DeviceApi, CallApi, DeviceConstructor, DeviceApi, CallApi, DeviceConstructor] = [
    sdk.device, sdk.call, sdk.construct, standIn.device, standIn.call, standIn.construct,
  ];
  void fits;
}
