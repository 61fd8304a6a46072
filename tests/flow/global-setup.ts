import { startStackProcess, type StackProcess } from '../helpers/stack';

declare global {
  // eslint-disable-next-line no-var
  var __discadorStack: StackProcess | undefined;
}

/** Starts one ephemeral local stack for all flow tests and publishes its env to the workers. */
export default async function globalSetup(): Promise<void> {
  const stack = await startStackProcess(['--speed', process.env['EMULATOR_SPEED'] ?? '50']);
  globalThis.__discadorStack = stack;
  Object.assign(process.env, stack.env);
}
