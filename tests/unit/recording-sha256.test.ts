import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Sha256, type Sha256State } from '../../src/lib/domain/recordings/sha256';

const node = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Hashes `data` in random chunks, saving the state (through JSON, as the job row keeps it) and restoring it at random points. */
function resumable(data: Buffer, saves: number): string {
  let h = new Sha256();
  let i = 0;
  let saved = 0;
  while (i < data.length) {
    const step = randomInt(0, Math.min(200, data.length - i) + 1);
    h.update(data.subarray(i, i + step));
    i += step;
    if (saved < saves && randomInt(0, 3) === 0) {
      const s = JSON.parse(JSON.stringify(h.exportState())) as Sha256State;
      h = Sha256.fromState(s);
      saved++;
    }
  }
  return h.digest();
}

describe('Sha256 (state that can be saved)', () => {
  it('matches node:crypto on known vectors and every length 0..300 (around the 55/56/64-byte block boundaries)', () => {
    expect(new Sha256().digest()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(Buffer.from('abc')).digest()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++) expect(new Sha256().update(data.subarray(0, n)).digest()).toBe(node(data.subarray(0, n)));
  });

  it('matches node:crypto with random chunk splits and the state saved and restored at random points', () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096 + 55, 65536 + 7]) {
      for (let r = 0; r < 5; r++) {
        const data = randomBytes(n);
        expect(resumable(data, 20)).toBe(node(data));
      }
    }
    for (let r = 0; r < 30; r++) {
      const data = randomBytes(randomInt(0, 5000));
      expect(resumable(data, 50)).toBe(node(data));
    }
  });

  it('restores exactly at block boundaries (state with an empty tail, with a 55- and 56-byte tail)', () => {
    const data = randomBytes(64 * 3 + 60);
    for (const cut of [0, 55, 56, 63, 64, 64 + 55, 64 + 56, 128, 192, 192 + 55, 192 + 56, 252]) {
      const s = new Sha256().update(data.subarray(0, cut)).exportState();
      expect(Buffer.from(s.tail, 'base64').length).toBe(cut % 64);
      expect(s.n).toBe(cut);
      expect(Sha256.fromState(s).update(data.subarray(cut)).digest()).toBe(node(data));
    }
  });

  it('a large buffer in 8 MiB parts with the state carried between parts equals node:crypto', () => {
    const data = randomBytes(20 * 1024 * 1024 + 12345);
    let state: Sha256State | null = null;
    for (let o = 0; o < data.length; o += 8 * 1024 * 1024) {
      const h: Sha256 = state ? Sha256.fromState(state) : new Sha256();
      h.update(data.subarray(o, o + 8 * 1024 * 1024));
      state = h.exportState();
    }
    expect(Sha256.fromState(state!).digest()).toBe(node(data));
  });

  it('refuses a malformed state, and use after digest', () => {
    const ok = new Sha256().update(randomBytes(70)).exportState();
    expect(() => Sha256.fromState({ ...ok, h: 'zz' })).toThrow(/chaining words/);
    expect(() => Sha256.fromState({ ...ok, n: -1 })).toThrow(/length/);
    expect(() => Sha256.fromState({ ...ok, n: 71 })).toThrow(/tail does not match/);
    expect(() => Sha256.fromState({ ...ok, tail: '!!' })).toThrow(/tail/);
    expect(() => Sha256.fromState(null as unknown as Sha256State)).toThrow(/malformed/);
    const h = new Sha256();
    h.digest();
    expect(() => h.update(Buffer.from('x'))).toThrow(/after digest/);
    expect(() => h.exportState()).toThrow(/finished/);
  });
});
