/**
 * POST /api/login {email, password} → {token, expires_at, user} and the session cookie.
 *
 * Two round trips around one password check: auth_login_prepare counts the attempt on the
 * account and address keys (or says they are locked: 429 with retry_after, no check made)
 * and gives the user's hash; the password is checked with scrypt — against a dummy hash
 * when the e-mail is unknown, so that takes as long and ends in the same 401; on a match
 * auth_login_finish opens the session (refusing a disabled user) and re-hashes a password
 * whose hash has an older cost. The token itself is never stored, only its SHA-256.
 */
import { DUMMY_HASH, hashPassword, needsRehash, verifyPassword } from '../../lib/domain/auth/password';
import { newSessionToken, sessionTokenHash } from '../../lib/domain/auth/token';
import { AccountLocked, apiFunction, ApiReply, InvalidCredentials, sessionCookie, type SessionRow } from '../../lib/runtime/api';
import { unwrap } from '../../lib/runtime/db';
import { text } from '../../lib/runtime/validate';

type Prepared = { locked: true; retry_after: number } | { locked: false; user_id: string | null; password_hash: string | null };

export const handler = apiFunction(
  { roles: 'public', body: { email: text({ max: 254 }), password: text({ max: 1024 }) } },
  async ({ config, db, body, address, userAgent }) => {
    const prepared = unwrap(await db.rpc<Prepared>('auth_login_prepare', { p_email: body.email, p_address: address }));
    if (prepared.locked) throw new AccountLocked(prepared.retry_after);
    const stored = prepared.password_hash ?? DUMMY_HASH;
    const matches = await verifyPassword(body.password, stored);
    if (!matches || prepared.user_id === null || prepared.password_hash === null) throw new InvalidCredentials();
    const token = newSessionToken();
    const maxSeconds = config.SESSION_MAX_HOURS * 3600;
    const opened = unwrap(
      await db.rpc<(SessionRow & { expires_at: string }) | null>('auth_login_finish', {
        p_user_id: prepared.user_id,
        p_password_hash: prepared.password_hash,
        p_address: address,
        p_token_hash: sessionTokenHash(token),
        p_max_seconds: maxSeconds,
        p_user_agent: userAgent,
        p_new_hash: needsRehash(stored) ? await hashPassword(body.password) : null,
      }),
    );
    // A disabled user, or a password changed meanwhile: the same answer as a wrong password.
    if (!opened) throw new InvalidCredentials();
    return new ApiReply({ token, expires_at: opened.expires_at, user: opened.user }, { cookies: [sessionCookie(token, maxSeconds)] });
  },
);
