/**
 * GET /api/board — the supervisor's live board (docs/board.md), for supervisor and admin
 * sessions. One database round trip per poll (board_snapshot): the session and role check
 * and the whole floor: agents, calls in progress, service queues, campaigns, caller IDs and
 * the open alerts. Refusals: 401 unauthenticated / session_expired, 403 forbidden_role (an
 * agent session), 503 database_unavailable.
 */
import { apiFunction, ForbiddenRole, SessionExpired } from '../../lib/runtime/api';
import { unwrap } from '../../lib/runtime/db';
import type { BoardResponse } from '../../lib/domain/board';
import { anatelSettings } from '../../lib/domain/anatel';

export type { BoardResponse };

export const handler = apiFunction(
  { roles: ['admin', 'supervisor'], session: 'token-only' },
  async ({ config, db, tokenHash }): Promise<BoardResponse> => {
    const answer = unwrap(
      await db.rpc<BoardResponse | { refused: 'forbidden' } | null>('board_snapshot', {
        p_session_hash: tokenHash,
        p_idle_seconds: config.SESSION_IDLE_MINUTES * 60,
        p_short_seconds: config.SHORT_CALL_SECONDS,
        p_settings: anatelSettings(config),
      }),
    );
    if (!answer) throw new SessionExpired();
    if ('refused' in answer) throw new ForbiddenRole();
    return answer;
  },
);
