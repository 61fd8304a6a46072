/**
 * Builds what `twilio serverless:deploy` uploads: every src/functions/**\/*.ts becomes one
 * standalone CommonJS file in dist/functions (src/lib bundled in, npm dependencies left to
 * Twilio's install), src/assets is copied to dist/assets, and the agent page (src/web) is
 * bundled for browsers into dist/assets/agent.{html,js,css} (public assets).
 * Deployed functions cannot require siblings (Twilio renames files), hence the bundling.
 */
import { build, type Metafile } from 'esbuild';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  await buildWeb(dist);
  return entryPoints.map((p) => relative(join(root, 'src/functions'), p).replace(/\.ts$/, '.js'));
}

/**
 * Where the list of source files bundled into each page's script is written (outside
 * dist/assets and dist/functions, so it is neither deployed nor served): the build test reads
 * it to prove what the production bundle is made of.
 */
export const WEB_METAFILE = 'web-meta.json';

/**
 * Bundles the browser pages: src/web/<page>/main.ts → dist/assets/<page>.js (minified, one
 * file, the Voice SDK included), src/web/<page>.css → <page>.css, src/web/<page>.html copied.
 */
export async function buildWeb(dist: string): Promise<Metafile> {
  const web = join(root, 'src/web');
  const pages = existsSync(web) ? readdirSync(web).filter((n) => n.endsWith('.html')).map((n) => n.replace(/\.html$/, '')) : [];
  const assets = join(dist, 'assets');
  const result = await build({
    entryPoints: Object.fromEntries(pages.flatMap((p) => [[p, join(web, p, 'main.ts')], [`${p}-style`, join(web, `${p}.css`)]])),
    outdir: assets,
    entryNames: '[name]',
    bundle: true,
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    format: 'iife',
    minify: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    tsconfig: join(web, 'tsconfig.json'),
  });
  for (const p of pages) {
    // esbuild names a CSS entry's output after the entry name; give it the page's name.
    cpSync(join(assets, `${p}-style.css`), join(assets, `${p}.css`));
    rmSync(join(assets, `${p}-style.css`));
    cpSync(join(web, `${p}.html`), join(assets, `${p}.html`));
  }
  writeFileSync(join(dist, WEB_METAFILE), JSON.stringify(result.metafile));
  return result.metafile;
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
