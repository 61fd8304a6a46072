/**
 * What each built function loads when the runtime requires it (dist/, as `npm run build`
 * left it): every module beyond `twilio`, read from Node's own module cache in a fresh
 * process. Keeps cold starts cheap: no function loads a general schema library, the whole
 * Supabase SDK or a phone-number metadata set (timings: `npm run bench:cold`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = join(__dirname, '..', '..');
const dist = join(root, 'dist', 'functions');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** npm packages (by name) whose files the function loads after twilio is loaded. */
function packagesLoaded(file: string): string[] {
  const script = `
    require('twilio');
    const before = new Set(Object.keys(require.cache));
    require(process.argv[1]);
    const names = new Set();
    for (const p of Object.keys(require.cache)) {
      if (before.has(p)) continue;
      const m = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)[\\\\/](?!.*node_modules)/.exec(p);
      if (m) names.add(m[1].split(require('node:path').sep).join('/'));
    }
    process.stdout.write(JSON.stringify([...names].sort()));
  `;
  const r = spawnSync(process.execPath, ['-e', script, file], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const built = existsSync(dist) ? walk(dist).filter((f) => f.endsWith('.js')).sort() : [];
const loads = new Map(built.map((f) => [relative(dist, f).split(sep).join('/'), packagesLoaded(f)]));

describe('built functions load only what they use', () => {
  it('found the built functions', () => {
    expect(loads.size).toBeGreaterThanOrEqual(5);
  });

  it.each([...loads.keys()])('%s loads no zod, no supabase-js SDK, no ws, no libphonenumber', (name) => {
    const heavy = loads.get(name)!.filter((p) => ['zod', '@supabase/supabase-js', '@supabase/realtime-js', '@supabase/auth-js', 'ws', 'libphonenumber-js'].includes(p));
    expect(heavy).toEqual([]);
  });

  it('the status webhook loads only the PostgREST client (and what it needs)', () => {
    const pkgs = loads.get('webhooks/call-status.protected.js')!.filter((p) => p !== 'tslib');
    expect(pkgs).toEqual(['@supabase/postgrest-js']);
  });
});
