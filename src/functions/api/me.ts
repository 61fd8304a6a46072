/**
 * GET /api/me → who is signed in and what their page needs to start: the user, their agent
 * (status, dedicated number, softphone identity; null for supervisors and admins), the pause
 * reasons and disposition codes they may pick, and which softphone to load (the Twilio
 * Voice SDK, or on the local stack the emulator's stand-in script). One round trip:
 * auth_me checks the session and reads the agent together.
 */
import { apiFunction, SessionExpired } from '../../lib/runtime/api';
import { dispositionCodes, pauseReasons, urlFor } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';

interface Me {
  session_id: string;
  expires_at: string;
  user: { id: string; email: string; name: string; role: string; agent_id: number | null };
  agent: { id: number; name: string; status: string; phone_number: string | null; client_identity: string | null } | null;
}

export const handler = apiFunction({ roles: ['admin', 'supervisor', 'agent'], session: 'token-only' }, async ({ config, db, tokenHash }) => {
  const me = unwrap(await db.rpc<Me | null>('auth_me', { p_token_hash: tokenHash, p_idle_seconds: config.SESSION_IDLE_MINUTES * 60 }));
  if (!me) throw new SessionExpired();
  const standIn = config.SOFTPHONE_STANDIN_URL;
  return {
    user: me.user,
    agent: me.agent,
    session: { expires_at: me.expires_at },
    pause_reasons: pauseReasons(config),
    disposition_codes: dispositionCodes(config),
    softphone: standIn ? { kind: 'emulator', script_url: standIn.startsWith('/') ? urlFor(config, standIn) : standIn } : { kind: 'twilio' },
  };
});
