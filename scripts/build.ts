/**
 * Builds what `twilio serverless:deploy` uploads: every src/functions/**\/*.ts becomes one
 * standalone CommonJS file in dist/functions (src/lib bundled in, npm dependencies left to
 * Twilio's install), and src/assets is copied to dist/assets.
 * Deployed functions cannot require siblings (Twilio renames files), hence the bundling.
 */
import { build } from 'esbuild';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** Every .ts file under dir, recursively. */
export function listSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listSources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Builds dist/functions and dist/assets; returns the built function paths relative to dist/functions. */
export async function buildAll(): Promise<string[]> {
  const dist = join(root, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const entryPoints = listSources(join(root, 'src/functions'));
  await build({
    entryPoints,
    outbase: join(root, 'src/functions'),
    outdir: join(dist, 'functions'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Deployed services install package.json dependencies; subpaths (libphonenumber-js/max) too.
    external: Object.keys(pkg.dependencies).flatMap((d) => [d, `${d}/*`]),
    logLevel: 'warning',
    legalComments: 'none',
  });
  if (existsSync(join(root, 'src/assets'))) cpSync(join(root, 'src/assets'), join(dist, 'assets'), { recursive: true });
  return entryPoints.map((p) => relative(join(root, 'src/functions'), p).replace(/\.ts$/, '.js'));
}

if (require.main === module) {
  const started = Date.now();
  buildAll().then(
    (built) => console.log(`built ${built.length} functions into dist/functions in ${Date.now() - started} ms`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
