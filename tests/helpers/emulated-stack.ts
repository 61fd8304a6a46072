import { LOCAL } from '../../stack/defaults';
import { startEmulator, type Emulator } from '../../emulator';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { startStackProcess, type StackProcess } from './stack';

/** A Twilio emulator in this test process plus a local stack (child process) that uses it. */
export interface EmulatedStack {
  emulator: Emulator;
  stack: StackProcess;
  twilio: ReturnType<typeof createTwilioClient>;
  stop(): Promise<void>;
}

/**
 * Starts the emulator here (so the test can add parties, place inbound calls and read
 * timelines) and an ephemeral stack whose functions call it.
 */
export async function startEmulatedStack(opts: { speed?: number } = {}): Promise<EmulatedStack> {
  const emulator = await startEmulator({ speed: opts.speed ?? 50, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  try {
    const stack = await startStackProcess(['--twilio-url', emulator.url]);
    return {
      emulator,
      stack,
      twilio: createTwilioClient(LOCAL.accountSid, LOCAL.authToken, emulator.url),
      stop: async () => {
        await stack.stop();
        await emulator.stop();
      },
    };
  } catch (e) {
    await emulator.stop();
    throw e;
  }
}
