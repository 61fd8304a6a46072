/**
 * Verifies the AccessTokens a Voice SDK Device presents, the way Twilio does: the JWTs that
 * `twilio.jwt.AccessToken` makes (header `cty: twilio-fpa;v=1`, HS256/384/512, `iss` = an API
 * key SID, `sub` = the account SID, `grants.identity`, `grants.voice`, `exp`), signed with
 * that API key's secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** An API key as the emulator stores it (Keys create). */
export interface ApiKey {
  sid: string;
  accountSid: string;
  secret: string;
}

/** What a valid token grants. */
export interface VoiceToken {
  accountSid: string;
  keySid: string;
  identity: string;
  /** `grants.voice.incoming.allow`: the Device may register and receive calls. */
  incomingAllow: boolean;
  /** `grants.voice.outgoing.application_sid`: the TwiML App `connect()` calls. */
  outgoingApplicationSid?: string;
  /** `grants.voice.outgoing.params`: sent to the App with every outgoing call. */
  outgoingParams: Record<string, string>;
  /** Expiry, epoch seconds. */
  exp: number;
}

/** A refusal with the code the Voice SDK reports. */
export interface TokenError {
  code: number;
  message: string;
}

/**
 * Error codes of a refused token, as the Voice SDK names them (its `AuthorizationErrors`,
 * twilio.com/docs/api/errors/20101 and /20104): 20101 "Invalid access token" (malformed, bad
 * signature, unknown key, wrong account, no identity or voice grant), 20104 "Access token
 * expired or expiration date invalid" (past `exp`, no `exp`, or more than 24 h after `iat`:
 * "Access Token expiration times can be set up to 24 hours in the future").
 */
export const TOKEN_INVALID = 20101;
export const TOKEN_EXPIRED = 20104;

/** Longest lifetime Twilio accepts for an AccessToken, seconds. */
export const MAX_TOKEN_TTL_S = 24 * 3600;

const HASHES: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

function b64json(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * Client identities: at most 256 characters, no control characters, spaces, delimiters or
 * "unwise" URI characters (twilio.com/docs/voice/twiml/client: "The client identifier may be up
 * to 256 characters … should not contain control, space, delimiters, or unwise characters").
 */
export function validIdentity(identity: string): boolean {
  return identity.length > 0 && identity.length <= 256 && !/[\s\x00-\x1f\x7f<>#%"{}|\\^[\]`]/.test(identity);
}

/**
 * Verifies a token: signature with the secret of the key named by `iss`, `sub` the key's
 * account (or a subaccount of it), not expired (`nowS`, real epoch seconds: tokens are made
 * with the real clock), a lifetime of at most 24 h, an identity and a voice grant.
 */
export function verifyAccessToken(token: string, keyBySid: (sid: string) => ApiKey | undefined, owns: (keyAccount: string, sub: string) => boolean, nowS: number): VoiceToken | TokenError {
  const invalid = (why: string): TokenError => ({ code: TOKEN_INVALID, message: `Invalid access token: ${why}` });
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) return invalid('not a JWT (three dot-separated parts)');
  const [h, p, sig] = parts as [string, string, string];
  const header = b64json(h);
  const payload = b64json(p);
  if (!header || !payload) return invalid('header or payload is not base64url JSON');
  if (header.cty !== 'twilio-fpa;v=1') return invalid(`header cty must be "twilio-fpa;v=1", got ${JSON.stringify(header.cty)}`);
  const hash = HASHES[String(header.alg)];
  if (!hash) return invalid(`unsupported alg ${JSON.stringify(header.alg)} (HS256, HS384 or HS512)`);
  const keySid = String(payload.iss ?? '');
  const key = keyBySid(keySid);
  if (!key) return invalid(`iss ${JSON.stringify(keySid)} is not an API key of the emulator`);
  const expected = createHmac(hash, key.secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return invalid('signature does not match the API key secret');
  const accountSid = String(payload.sub ?? '');
  if (!owns(key.accountSid, accountSid)) return invalid(`sub ${JSON.stringify(accountSid)} is not the account of key ${keySid}`);
  const exp = payload.exp;
  if (typeof exp !== 'number') return { code: TOKEN_EXPIRED, message: 'Access token has no expiration (exp)' };
  if (exp <= nowS) return { code: TOKEN_EXPIRED, message: `Access token expired at ${new Date(exp * 1000).toISOString()}` };
  const iat = typeof payload.iat === 'number' ? payload.iat : nowS;
  if (exp - iat > MAX_TOKEN_TTL_S) return { code: TOKEN_EXPIRED, message: `Access token lifetime ${exp - iat} s is over 24 hours` };
  if (typeof payload.nbf === 'number' && payload.nbf > nowS) return invalid('not valid yet (nbf)');
  const grants = obj(payload.grants);
  const identity = grants.identity;
  if (typeof identity !== 'string' || !validIdentity(identity)) return invalid(`grants.identity missing or not a valid client identity: ${JSON.stringify(identity)}`);
  if (!grants.voice || typeof grants.voice !== 'object') return invalid('no voice grant');
  const voice = obj(grants.voice);
  const outgoing = obj(voice.outgoing);
  const params = obj(outgoing.params);
  return {
    accountSid, keySid, identity, exp,
    incomingAllow: obj(voice.incoming).allow === true,
    outgoingApplicationSid: typeof outgoing.application_sid === 'string' ? outgoing.application_sid : undefined,
    outgoingParams: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
  };
}

/** True when verifyAccessToken refused the token. */
export function isTokenError(v: VoiceToken | TokenError): v is TokenError {
  return 'code' in v;
}
