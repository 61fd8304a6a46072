/**
 * The env file a running local stack leaves for its clients: `npm start` writes what a
 * script needs to reach it (Twilio emulator URL, account SID and auth token, Supabase URL
 * and keys…) to `.data/stack.env`, readable by its owner only, and removes it on stop.
 * `npm run sim` and the admin CLIs read it when they are given no environment of their own,
 * and say so. DISCADOR_STACK_ENV names another stack's file (an ephemeral stack's).
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseEnv } from 'node:util';

const root = join(__dirname, '..');

/** The file name, in the stack's data dir. */
export const STACK_ENV_FILE = 'stack.env';

/** Where a stack's clients look for it: DISCADOR_STACK_ENV, else the default stack's `.data/stack.env`. */
export function stackEnvPath(env: Record<string, string | undefined> = process.env): string {
  return env['DISCADOR_STACK_ENV']?.trim() || join(root, '.data', STACK_ENV_FILE);
}

/** Writes the env file (mode 0600: it holds the auth token and the service role key). */
export function writeStackEnv(file: string, values: Record<string, string>): void {
  const lines = [
    '# Written by `npm start` for the scripts that use this local stack (npm run sim, numbers, opt-out, subaccounts).',
    '# Removed when the stack stops. Local-only values: never use them against real Twilio or Supabase.',
    ...Object.entries(values).map(([k, v]) => `${k}=${v}`),
  ];
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Removes the env file (the stack stopped). */
export function removeStackEnv(file: string): void {
  rmSync(file, { force: true });
}

/** The values of a running stack's env file, or null when there is none. */
export function readStackEnv(env: Record<string, string | undefined> = process.env): { file: string; values: Record<string, string> } | null {
  const file = stackEnvPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseEnv(text))) if (v !== undefined) values[k] = v;
  return { file, values };
}

/** A path as a person reads it: relative to the repository when inside it. */
export function displayPath(file: string): string {
  const rel = relative(root, file);
  return rel.startsWith('..') ? file : rel;
}
