/**
 * The softphone the page drives, whichever implementation /api/me names: Twilio's Voice SDK
 * (bundled; production) or the local stack's stand-in, a script the Twilio emulator serves
 * (loaded at run time, never bundled). Both are used through SoftDevice/SoftCall, the subset
 * of the SDK's Device and Call the page needs, so the page code is one.
 */
import { Device } from '@twilio/voice-sdk';
import { STAND_IN_GLOBAL } from './globals';
import type { SoftphoneConfig } from './types';

type Listener = (...args: any[]) => void;

/** The part of the SDK's Call the page uses. */
export interface SoftCall {
  /** CallSid, From, To… (an incoming call's From is the caller Twilio presents). */
  readonly parameters: Record<string, string>;
  accept(): void;
  reject(): void;
  disconnect(): void;
  mute(shouldMute?: boolean): void;
  isMuted(): boolean;
  sendDigits(digits: string): void;
  status(): string;
  on(event: 'accept' | 'disconnect' | 'cancel' | 'mute' | 'error' | 'reject', listener: Listener): unknown;
}

/** The part of the SDK's Device the page uses. */
export interface SoftDevice {
  /** 'unregistered' | 'registering' | 'registered' | 'destroyed'. */
  readonly state: string;
  register(): Promise<void>;
  unregister(): Promise<void>;
  connect(options?: { params?: Record<string, string> }): Promise<SoftCall>;
  updateToken(token: string): void;
  destroy(): void;
  on(event: 'registered' | 'unregistered' | 'incoming' | 'error' | 'tokenWillExpire', listener: Listener): unknown;
}

/** How the page builds a device from a voice token. */
export type DeviceFactory = (token: string) => SoftDevice;

/**
 * Options both implementations accept: ask before the tab closes during a call, and raise
 * tokenWillExpire a minute before the voice token expires (the SDK's default is 10 s).
 */
const DEVICE_OPTIONS = { closeProtection: 'Uma ligação está em andamento. Deseja sair?', tokenRefreshMs: 60000 };

/** Twilio's Device, checked against SoftDevice at compile time. */
const twilioFactory: DeviceFactory = (token) => {
  const device: SoftDevice = new Device(token, DEVICE_OPTIONS);
  return device;
};

/** A constructor shaped like the SDK's Device, as a run-time script exposes it. */
type DeviceConstructor = new (token: string, options?: typeof DEVICE_OPTIONS) => SoftDevice;


function loadScript(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = url;
    el.async = true;
    el.onload = () => resolve();
    el.onerror = () => reject(new Error(`não foi possível carregar ${url}`));
    document.head.appendChild(el);
  });
}

/** The device factory for the configured softphone. */
export async function deviceFactory(config: SoftphoneConfig): Promise<DeviceFactory> {
  if (config.kind === 'twilio') return twilioFactory;
  await loadScript(config.script_url);
  const exported = (window as unknown as Record<string, { Device?: DeviceConstructor } | undefined>)[STAND_IN_GLOBAL];
  const Ctor = exported?.Device;
  if (typeof Ctor !== 'function') throw new Error('o softphone local não foi carregado');
  return (token) => new Ctor(token, DEVICE_OPTIONS);
}
