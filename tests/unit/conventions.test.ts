/**
 * Project conventions that keep deploys safe. Reads dist/ as `npm run build` left it
 * (`npm test` builds first).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { configSchema } from '../../src/lib/runtime/config';

const root = join(__dirname, '..', '..');
const dist = join(root, 'dist', 'functions');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const built = existsSync(dist) ? walk(dist).map((p) => relative(dist, p)) : [];
const sources = walk(join(root, 'src', 'functions')).map((p) => relative(join(root, 'src', 'functions'), p));

describe('built functions (dist/functions)', () => {
  it('exist, one per source file', () => {
    expect(built.length).toBeGreaterThan(0);
    expect(built.sort()).toEqual(sources.map((s) => s.replace(/\.ts$/, '.js')).sort());
  });

  it('are standalone: no relative require survives bundling', () => {
    for (const file of built) {
      const code = readFileSync(join(dist, file), 'utf8');
      expect({ file, relative: code.match(/require\(["']\.\.?\/[^"']*["']\)/g) }).toEqual({ file, relative: null });
    }
  });

  it('require only npm dependencies that Twilio installs on deploy', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const allowed = new Set(Object.keys(pkg.dependencies));
    for (const file of built) {
      const code = readFileSync(join(dist, file), 'utf8');
      for (const m of code.matchAll(/require\(["']([^"']+)["']\)/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || !/^[@a-z]/.test(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const builtin = (require('node:module') as { builtinModules: string[] }).builtinModules.includes(name);
        expect({ file, name, ok: builtin || allowed.has(name) }).toEqual({ file, name, ok: true });
      }
    }
  });

  it('everything Twilio calls (voice/, webhooks/) is .protected', () => {
    const twilioFacing = built.filter((f) => /^(voice|webhooks)\//.test(f));
    expect(twilioFacing.length).toBeGreaterThan(0);
    for (const f of twilioFacing) expect(f).toMatch(/\.protected\.js$/);
  });

  it('every public function is an intended endpoint (api/ only); helpers never land in dist/functions', () => {
    const publicOnes = built.filter((f) => !/\.(protected|private)\.js$/.test(f));
    for (const f of publicOnes) expect(f).toMatch(/^api\//);
  });

  it('the assets the flows play ship in dist/assets', () => {
    for (const a of ['disclaimer.mp3', 'hold-music.mp3']) {
      const buf = readFileSync(join(root, 'dist', 'assets', a));
      expect(buf.length).toBeGreaterThan(10_000);
      // MP3: an ID3 tag or a frame sync at the start.
      expect(buf.subarray(0, 3).toString('latin1') === 'ID3' || (buf[0] === 0xff && (buf[1]! & 0xe0) === 0xe0)).toBe(true);
    }
  });
});

describe('.env.example', () => {
  const documented = new Set(
    readFileSync(join(root, '.env.example'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => l.split('=')[0]!),
  );

  it('documents every variable the functions read', () => {
    for (const key of Object.keys(configSchema.shape)) expect({ key, documented: documented.has(key) }).toEqual({ key, documented: true });
  });

  it('has a comment above every variable', () => {
    const lines = readFileSync(join(root, '.env.example'), 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (!/^[A-Z0-9_]+=/.test(l)) return;
      let j = i - 1;
      while (j >= 0 && /^[A-Z0-9_]+=/.test(lines[j]!)) j--;
      expect({ key: l.split('=')[0], commented: (lines[j] ?? '').startsWith('#') }).toEqual({ key: l.split('=')[0], commented: true });
    });
  });
});

describe('.twilioserverlessrc', () => {
  it('names the built folders and the node22 runtime, so deploy works without npm scripts', () => {
    const text = readFileSync(join(root, '.twilioserverlessrc'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const rc = JSON.parse(text) as Record<string, unknown>;
    expect(rc).toMatchObject({ functionsFolder: 'dist/functions', assetsFolder: 'dist/assets', runtime: 'node22' });
  });

  it('pins @twilio/runtime-handler to an exact version in dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies['@twilio/runtime-handler']).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
