/** Stops the stack started by global-setup.ts. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__discadorStack?.stop();
}
