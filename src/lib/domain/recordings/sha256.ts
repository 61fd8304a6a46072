/**
 * SHA-256 (FIPS 180-4) whose running state can be saved and restored: the read-back of a
 * recording hashes the whole object across several Function runs (each has a time budget),
 * and node:crypto's hash state cannot be exported. Used only where a hash must outlive a run;
 * everything else uses node:crypto. Tested against node:crypto (tests/unit/recording-sha256.test.ts).
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** A saved running state: the eight chaining words (hex), bytes hashed so far, the unprocessed tail (< 64 bytes, base64). */
export interface Sha256State {
  h: string;
  n: number;
  tail: string;
}

const W = new Int32Array(64);

export class Sha256 {
  private readonly h = new Int32Array(INITIAL);
  private readonly block = new Uint8Array(64);
  private blockLen = 0;
  private length = 0;
  private finished = false;

  /** Bytes hashed so far. */
  get bytes(): number {
    return this.length;
  }

  update(data: Uint8Array): this {
    if (this.finished) throw new Error('SHA-256: update after digest');
    let i = 0;
    const len = data.length;
    this.length += len;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, len);
      this.block.set(data.subarray(0, take), this.blockLen);
      this.blockLen += take;
      i = take;
      if (this.blockLen < 64) return this;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    for (; i + 64 <= len; i += 64) this.compress(data, i);
    if (i < len) {
      this.block.set(data.subarray(i), 0);
      this.blockLen = len - i;
    }
    return this;
  }

  /** The hash of everything given (hex); the object cannot be used after. */
  digest(): string {
    if (this.finished) throw new Error('SHA-256: digest twice');
    const bits = this.length * 8;
    const pad = new Uint8Array(this.blockLen < 56 ? 64 - this.blockLen : 128 - this.blockLen);
    pad[0] = 0x80;
    // The message length in bits, 64-bit big-endian (exact below 2^50 bytes, far above any recording).
    const hi = Math.floor(bits / 0x100000000);
    const lo = bits >>> 0;
    const e = pad.length;
    pad[e - 8] = hi >>> 24; pad[e - 7] = hi >>> 16; pad[e - 6] = hi >>> 8; pad[e - 5] = hi;
    pad[e - 4] = lo >>> 24; pad[e - 3] = lo >>> 16; pad[e - 2] = lo >>> 8; pad[e - 1] = lo;
    const n = this.length;
    this.update(pad);
    this.length = n;
    this.finished = true;
    return hexWords(this.h);
  }

  /** The running state, to carry the hash to a later run (JSON-safe). */
  exportState(): Sha256State {
    if (this.finished) throw new Error('SHA-256: the state of a finished hash');
    return { h: hexWords(this.h), n: this.length, tail: Buffer.from(this.block.subarray(0, this.blockLen)).toString('base64') };
  }

  /** A hash that continues from a saved state; a malformed state is refused. */
  static fromState(s: Sha256State): Sha256 {
    if (!s || typeof s.h !== 'string' || !/^[0-9a-f]{64}$/.test(s.h)) throw new Error('SHA-256 state: malformed chaining words');
    if (!Number.isSafeInteger(s.n) || s.n < 0) throw new Error('SHA-256 state: malformed length');
    if (typeof s.tail !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s.tail)) throw new Error('SHA-256 state: malformed tail');
    const tail = Buffer.from(s.tail, 'base64');
    if (tail.length !== s.n % 64) throw new Error('SHA-256 state: the tail does not match the length');
    const x = new Sha256();
    for (let i = 0; i < 8; i++) x.h[i] = parseInt(s.h.slice(i * 8, i * 8 + 8), 16) | 0;
    x.block.set(tail, 0);
    x.blockLen = tail.length;
    x.length = s.n;
    return x;
  }

  private compress(d: Uint8Array, o: number): void {
    for (let t = 0; t < 16; t++, o += 4) W[t] = (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
    for (let t = 16; t < 64; t++) {
      const a = W[t - 15]!;
      const b = W[t - 2]!;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
    }
    const H = this.h;
    let a = H[0]!, b = H[1]!, c = H[2]!, dd = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[t]! + W[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (dd + t1) | 0;
      dd = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] = (H[0]! + a) | 0; H[1] = (H[1]! + b) | 0; H[2] = (H[2]! + c) | 0; H[3] = (H[3]! + dd) | 0;
    H[4] = (H[4]! + e) | 0; H[5] = (H[5]! + f) | 0; H[6] = (H[6]! + g) | 0; H[7] = (H[7]! + h) | 0;
  }
}

function hexWords(h: Int32Array): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += (h[i]! >>> 0).toString(16).padStart(8, '0');
  return s;
}
