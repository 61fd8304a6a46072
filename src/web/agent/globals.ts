/**
 * The global the local stack's softphone script (served by the Twilio emulator) defines:
 * `{ Device, Call }`, shaped like the Voice SDK's. Only the name is in the page; the
 * stand-in's code stays in the emulator and reaches the browser from its own URL.
 */
export const STAND_IN_GLOBAL = 'DiscadorStandInDevice';
