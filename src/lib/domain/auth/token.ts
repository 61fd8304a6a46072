/**
 * Session tokens: 32 random bytes in base64url (43 characters, what the client holds) and
 * their SHA-256 in hex (what the database holds; a leaked sessions table opens no session).
 */
import { createHash, randomBytes } from 'node:crypto';

/** A new session token. */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The SHA-256 (hex) of a token: the only form in which it is stored. */
export function sessionTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
