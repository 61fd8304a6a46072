/**
 * What `twilio serverless:deploy` would upload, read the way the deploy tooling reads it:
 * twilio-run's own loader for .twilioserverlessrc (the folders), then
 * @twilio-labs/serverless-api's getListOfFunctionsAndAssets (the files, their URL paths and
 * their access, derived from `.protected` / `.private` in the file names). The result must be
 * exactly the README's table of public URLs: every row uploaded with its access, and nothing
 * else (no helper module as a function, no source map, no stray file).
 *
 * Reads dist/ as `npm run build` left it (`npm test` builds first).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fsHelpers } from '@twilio-labs/serverless-api';
import { readSpecializedConfig } from 'twilio-run/dist/config/global';

const root = join(__dirname, '..', '..');

type Access = 'public' | 'protected' | 'private';
interface Row {
  path: string;
  access: Access;
  kind: 'function' | 'asset';
}

/**
 * The README's "Public URLs" table: `| path | kind | access | … |`, one URL (or several, each
 * in backticks) per row.
 */
function readmeUrls(): Row[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const header = lines.findIndex((l) => /^\|\s*path\s*\|\s*kind\s*\|\s*access\s*\|/.test(l));
  if (header < 0) throw new Error('README.md has no table starting with | path | kind | access |');
  const rows: Row[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [pathCell, kindCell, accessCell] = line.split('|').slice(1).map((c) => c.trim());
    const kind = kindCell as Row['kind'];
    const access = accessCell as Access;
    if (!['function', 'asset'].includes(kind)) throw new Error(`README URL table: unknown kind "${kindCell}" in: ${line}`);
    if (!['public', 'protected', 'private'].includes(access)) throw new Error(`README URL table: unknown access "${accessCell}" in: ${line}`);
    const paths = [...(pathCell ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    if (paths.length === 0) throw new Error(`README URL table: no path in: ${line}`);
    for (const path of paths) rows.push({ path, kind, access });
  }
  return rows;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

// The deploy configuration as `twilio serverless:deploy --environment prod` reads it.
const rc = readSpecializedConfig(root, '', 'deploy', { environmentSuffix: 'prod' }) as {
  functionsFolder?: string;
  assetsFolder?: string;
  runtime?: string;
};
const expected = readmeUrls();
let uploaded: Row[] = [];
let functionFiles: { path: string; filePath: string }[] = [];

beforeAll(async () => {
  // Only the configured folders: without them the library would fall back to functions/ or src/.
  const { functions, assets } = await fsHelpers.getListOfFunctionsAndAssets(root, {
    functionsFolderNames: [rc.functionsFolder!],
    assetsFolderNames: [rc.assetsFolder!],
  });
  functionFiles = functions.map((f) => ({ path: f.path, filePath: f.filePath }));
  uploaded = [
    ...functions.map((f) => ({ path: f.path, access: f.access as Access, kind: 'function' as const })),
    ...assets.map((a) => ({ path: a.path, access: a.access as Access, kind: 'asset' as const })),
  ];
});

describe('deploy uploads (twilio-run config + serverless-api file reading)', () => {
  it('.twilioserverlessrc points deploy at the built folders', () => {
    expect(rc).toMatchObject({ functionsFolder: 'dist/functions', assetsFolder: 'dist/assets', runtime: 'node22' });
    expect(existsSync(join(root, rc.functionsFolder!))).toBe(true);
  });

  it('the README lists URLs (the table parses)', () => {
    expect(expected.length).toBeGreaterThan(0);
    expect(new Set(expected.map((r) => r.path)).size).toBe(expected.length);
  });

  // One test per README row, so a missing function fails only its own row.
  it.each(expected.map((r) => [r.path, r] as const))('README %s is uploaded with its kind and access', (_path, row) => {
    expect(uploaded.find((u) => u.path === row.path) ?? { path: row.path, missing: true }).toEqual(row);
  });

  it('nothing is uploaded that the README does not list', () => {
    const listed = new Set(expected.map((r) => r.path));
    expect(uploaded.filter((u) => !listed.has(u.path))).toEqual([]);
  });

  it('no source maps, type declarations or dotfiles anywhere in the uploaded folders', () => {
    const files = [...walk(join(root, rc.functionsFolder!)), ...walk(join(root, rc.assetsFolder!))].map((p) => relative(root, p));
    expect(files.filter((f) => /\.map$|\.d\.ts$|\.ts$|(^|\/)\./.test(f))).toEqual([]);
  });

  it('every file in the functions folder is a function deploy uploads (none silently dropped)', () => {
    const files = walk(join(root, rc.functionsFolder!)).sort();
    expect(functionFiles.map((f) => f.filePath).sort()).toEqual(files);
  });

  it('every uploaded function is a Twilio Function: it exports a handler', () => {
    for (const f of functionFiles) {
      const mod = require(f.filePath) as { handler?: unknown };
      expect({ path: f.path, handler: typeof mod.handler }).toEqual({ path: f.path, handler: 'function' });
    }
  });
});
