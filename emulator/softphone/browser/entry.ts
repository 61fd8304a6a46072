/**
 * The browser bundle the emulator serves at /softphone/device.js: puts the stand-in Device and
 * Call on `window.DiscadorStandInDevice`, for pages that choose it instead of the Voice SDK.
 */
import type { StandInGlobal } from './api';
import { Call, Device, defaultSocketUrl } from './device';

const standIn: StandInGlobal = { Device, Call, socketUrl: defaultSocketUrl };
(window as unknown as { DiscadorStandInDevice: StandInGlobal }).DiscadorStandInDevice = standIn;
