/**
 * Password policy for passwords a person chooses (the agents CLI; any future API that sets
 * one): at least MIN_LENGTH characters, at most MAX_LENGTH, not one of the most common
 * passwords (common-passwords.txt), not a common password with only digits or symbols
 * around it ("flamengo2024", "!senha123!"), not made of the user's e-mail, and not one
 * character or two repeated. Sign-in never applies the policy: it only checks the hash.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MIN_LENGTH = 10;
/** Longest password accepted: scrypt takes any length, but nobody types more. */
export const MAX_LENGTH = 256;

let common: ReadonlySet<string> | null = null;

/**
 * The common-password list, lower case. Read from the text file next to this module, so
 * only code that runs from the sources (the CLIs, tests) may call it; the bundled
 * functions do not.
 */
export function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    const text = readFileSync(join(__dirname, 'common-passwords.txt'), 'utf8');
    common = new Set(text.split('\n').map((l) => l.trim().toLowerCase()).filter((l) => l !== '' && !l.startsWith('#')));
  }
  return common;
}

/** Why a password is refused (a sentence for the person choosing it), or null when it is fine. */
export function passwordProblem(password: string, email: string, list: ReadonlySet<string> = commonPasswords()): string | null {
  const length = [...password].length;
  if (length < MIN_LENGTH) return `the password must have at least ${MIN_LENGTH} characters`;
  if (length > MAX_LENGTH) return `the password must have at most ${MAX_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (list.has(lower)) return 'the password is one of the most common passwords';
  // A common password padded with digits or symbols is guessed right after the list itself.
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  if (core.length >= 4 && core !== lower && list.has(core)) return 'the password is a common password with digits or symbols added';
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if (address !== '' && lower.includes(address)) return 'the password must not contain the e-mail address';
  if (local.length >= 3 && lower.includes(local)) return 'the password must not contain the name of the e-mail address';
  if (new Set(lower).size <= 2) return 'the password must not be one or two characters repeated';
  return null;
}
