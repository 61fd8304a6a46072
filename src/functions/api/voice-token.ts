/**
 * GET /api/voice-token — a Twilio access token for the agent's softphone: a VoiceGrant with
 * the agent's client identity, incoming calls allowed, and the TwiML App (Voice URL
 * /voice/agent-session) for its outgoing calls. Lives VOICE_TOKEN_TTL_SECONDS; the page
 * renews it before expires_at. 503 softphone_not_configured while TWILIO_API_KEY,
 * TWILIO_API_SECRET or TWILIO_TWIML_APP_SID is unset; 409 conflict when the agent has no
 * client identity.
 *
 * The token is Twilio's Access Token (twilio.com/docs/iam/access-tokens): an HS256 JWT signed
 * with an API key's secret, iss = the key SID, sub = the account, grants.identity and
 * grants.voice {incoming.allow, outgoing.application_sid}; exp at most 24 hours ahead.
 *
 * Supervisors and admins get one too, for listening from the dashboard: identity
 * supervisor-<user id> (the address /api/supervisor/monitor calls, client:supervisor-<user id>),
 * incoming calls only (no TwiML App: the dashboard never places a call itself, so a
 * supervisor's token needs only TWILIO_API_KEY and TWILIO_API_SECRET).
 */
import twilio from 'twilio';
import { unwrapAgent, type VoiceTokenResponse } from '../../lib/domain/agents';
import { supervisorIdentity } from '../../lib/domain/supervisor';
import { ApiError, apiFunction } from '../../lib/runtime/api';

export const handler = apiFunction({ roles: ['agent', 'supervisor', 'admin'] }, async ({ config, db, session, context }): Promise<VoiceTokenResponse> => {
  const listener = session!.user.role !== 'agent';
  const { TWILIO_API_KEY: key, TWILIO_API_SECRET: secret, TWILIO_TWIML_APP_SID: app } = config;
  // A listener's token has no outgoing grant, so it needs no TwiML App.
  if (!key || !secret || (!listener && !app)) {
    throw new ApiError(503, 'softphone_not_configured', `the softphone is not configured (TWILIO_API_KEY, TWILIO_API_SECRET${listener ? '' : ', TWILIO_TWIML_APP_SID'})`);
  }
  const identity = listener
    ? supervisorIdentity(session!.user.id)
    : unwrapAgent(await db.rpc<string | null>('agent_client_identity', { p_agent_id: session!.user.agent_id }));
  if (!identity) throw new ApiError(409, 'conflict', 'this agent has no softphone identity: an administrator sets one');
  // The account the service runs in: Twilio sets ACCOUNT_SID in every function's context.
  const account = (context as unknown as Record<string, unknown>)['ACCOUNT_SID'];
  if (typeof account !== 'string' || !/^AC[0-9a-f]{32}$/.test(account)) throw new Error('ACCOUNT_SID is missing from the context');
  const ttl = config.VOICE_TOKEN_TTL_SECONDS;
  const token = new twilio.jwt.AccessToken(account, key, secret, { identity, ttl });
  token.addGrant(new twilio.jwt.AccessToken.VoiceGrant(listener ? { incomingAllow: true } : { incomingAllow: true, outgoingApplicationSid: app! }));
  const jwt = token.toJwt();
  // The token's own exp claim, so the page's deadline is the one Twilio enforces.
  const exp = (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp;
  return { token: jwt, identity, expires_at: new Date(exp * 1000).toISOString(), ttl_seconds: ttl };
});
