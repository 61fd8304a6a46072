/**
 * Password hashing with node:crypto scrypt. A hash is stored as
 *   scrypt$<N>$<r>$<p>$<salt base64>$<key base64>
 * so its cost travels with it: the parameters can be raised later, and a sign-in with an
 * older hash re-hashes the password with the current ones (needsRehash).
 *
 * Current cost: N = 2^15, r = 8, p = 1 (32 MiB of memory per hash), which measured about
 * 87 ms per hash on this project's 2-core machine (`npm run bench:login` prints it again);
 * 2^14 was 34 ms, 2^16 175 ms. 16-byte random salt, 32-byte key.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** The cost new hashes get. */
export const CURRENT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Highest cost a stored hash may ask for (2^20 × 8 = 1 GiB): a corrupt row cannot exhaust memory. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

const FORMAT = /^scrypt\$([0-9]+)\$([0-9]+)\$([0-9]+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** A stored hash taken apart, or null when it is not one this module can verify. */
export function parseHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const m = FORMAT.exec(stored);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const isPowerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!isPowerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return null;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || key.length < 16) return null;
  return { params: { N, r, p }, salt, key };
}

function derive(password: string, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a password with a new random salt and the given (default: current) cost. */
export async function hashPassword(password: string, params: ScryptParams = CURRENT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * True when the password matches the stored hash (constant-time comparison of the keys).
 * A malformed hash never matches.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.key.length, parsed.params);
  return timingSafeEqual(key, parsed.key);
}

/** True when the stored hash's cost is below the current one (re-hash it at the next sign-in). */
export function needsRehash(stored: string, current: ScryptParams = CURRENT_PARAMS): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  const { N, r, p } = parsed.params;
  return N < current.N || r < current.r || p < current.p;
}

/**
 * A hash with the current cost whose password nobody knows (its key is random bytes, not
 * derived from anything). An unknown e-mail's sign-in is checked against it, so it takes as
 * long as a known one and fails the same way. A unit test keeps its cost equal to CURRENT_PARAMS.
 */
export const DUMMY_HASH = 'scrypt$32768$8$1$411PHqfYBrGDvrQjUjARCQ==$EjWuj/RehxqxSnqjG1jddNMufPhZhS2SdUCAT/dKf2M=';
