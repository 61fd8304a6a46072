/**
 * POST /api/logout → {ok: true}: revokes the session of the token sent (cookie or bearer)
 * and clears the cookie. Answers the same when the session had already ended.
 */
import { apiFunction, ApiReply, clearedSessionCookie } from '../../lib/runtime/api';
import { unwrap } from '../../lib/runtime/db';

export const handler = apiFunction({ roles: ['admin', 'supervisor', 'agent'], session: 'token-only' }, async ({ db, tokenHash }) => {
  unwrap(await db.rpc<boolean>('auth_logout', { p_token_hash: tokenHash }));
  return new ApiReply({ ok: true }, { cookies: [clearedSessionCookie()] });
});
