/**
 * The agent page as deployed (dist/assets, as `npm run build` left it; `npm test` builds
 * first): plain public assets, the real Voice SDK bundled in, and nothing of the local
 * stack's stand-in softphone. The stand-in lives in the emulator and reaches a browser only
 * from the emulator's own URL at run time; the page's loader knows only the name of the
 * global that script defines. So the production bundle may name that global once (the
 * loader's lookup) and must contain no file from outside src/web and npm packages, and no
 * code that defines the global.
 */
import { build, type Metafile } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEB_METAFILE } from '../../scripts/build';
import { STAND_IN_GLOBAL } from '../../src/web/agent/globals';

const root = join(__dirname, '..', '..');
const dist = join(root, 'dist');
const sdkVersion = (JSON.parse(readFileSync(join(root, 'node_modules/@twilio/voice-sdk/package.json'), 'utf8')) as { version: string }).version;

/** Problems with a page bundle: inputs that are not the page's or npm's, stand-in code, a missing SDK. */
export function bundleProblems(js: string, inputs: string[]): string[] {
  const problems: string[] = [];
  // An npm package is named from its node_modules/ on (node_modules may be a symlink elsewhere).
  inputs = inputs.map((i) => (i.includes('node_modules/') ? i.slice(i.indexOf('node_modules/')) : i));
  for (const input of inputs) {
    if (!input.startsWith('src/web/') && !input.startsWith('node_modules/')) problems.push(`bundles a file from outside src/web and npm: ${input}`);
    if (/stand-?in|emulator/i.test(input)) problems.push(`bundles stand-in code: ${input}`);
  }
  if (!inputs.includes('node_modules/@twilio/voice-sdk/esm/twilio/device.js')) problems.push("does not bundle the Voice SDK's Device");
  if (!js.includes(sdkVersion)) problems.push(`does not carry the Voice SDK's version ${sdkVersion}`);
  const named = js.split(STAND_IN_GLOBAL).length - 1;
  if (named > 1) problems.push(`names ${STAND_IN_GLOBAL} ${named} times (only the loader's lookup may)`);
  // A script that defines the global assigns to it; the loader only reads it.
  if (new RegExp(`\\.${STAND_IN_GLOBAL}\\s*=|\\[\\s*["'\`]${STAND_IN_GLOBAL}["'\`]\\s*\\]\\s*=[^=]`).test(js)) problems.push(`defines ${STAND_IN_GLOBAL}`);
  return problems;
}

describe('the agent page in dist/assets', () => {
  const assets = join(dist, 'assets');
  const meta = JSON.parse(readFileSync(join(dist, WEB_METAFILE), 'utf8')) as Metafile;

  it('is three plain files: agent.html, agent.js, agent.css', () => {
    for (const f of ['agent.html', 'agent.js', 'agent.css']) expect(existsSync(join(assets, f))).toBe(true);
    const html = readFileSync(join(assets, 'agent.html'), 'utf8');
    expect(html).toMatch(/<html lang="pt-BR">/);
    expect(html).toMatch(/<script defer src="agent\.js"><\/script>/);
    expect(html).toMatch(/<link rel="stylesheet" href="agent\.css">/);
    // Minified: no line comments, no source map reference.
    const js = readFileSync(join(assets, 'agent.js'), 'utf8');
    expect(js.split('\n').length).toBeLessThan(20);
    expect(js).not.toMatch(/sourceMappingURL/);
  });

  it('bundles the real Voice SDK and no stand-in softphone code', () => {
    const out = meta.outputs['dist/assets/agent.js'];
    expect(out).toBeDefined();
    const js = readFileSync(join(assets, 'agent.js'), 'utf8');
    expect(bundleProblems(js, Object.keys(out!.inputs))).toEqual([]);
    // The loader's lookup is there: the page can use the stand-in when /api/me says so.
    expect(js).toContain(STAND_IN_GLOBAL);
  });

  it('the check catches a bundle that carries stand-in code', async () => {
    // A page entry that defines the global itself, the way a stand-in script does.
    const r = await build({
      stdin: {
        contents: `import { Device } from '@twilio/voice-sdk'; import { STAND_IN_GLOBAL } from './globals';
          (window as any).${STAND_IN_GLOBAL} = { Device: class { register() {} } }; console.log(Device, STAND_IN_GLOBAL);`,
        resolveDir: join(root, 'src/web/agent'),
        sourcefile: 'src/web/agent/stand-in-inline.ts',
        loader: 'ts',
      },
      bundle: true,
      write: false,
      minify: true,
      platform: 'browser',
      metafile: true,
      absWorkingDir: root,
    });
    const js = r.outputFiles[0]!.text;
    const inputs = Object.keys(r.metafile.inputs);
    expect(bundleProblems(js, inputs)).toEqual(expect.arrayContaining([expect.stringMatching(/^defines /), expect.stringMatching(/^bundles stand-in code/)]));
    // The emulator's real stand-in, had the page imported it, is caught too.
    const real = await build({
      stdin: { contents: `import '../../../emulator/softphone/browser/entry';`, resolveDir: join(root, 'src/web/agent'), sourcefile: 'src/web/agent/imports-stand-in.ts', loader: 'ts' },
      bundle: true,
      write: false,
      minify: true,
      platform: 'browser',
      metafile: true,
      absWorkingDir: root,
    });
    expect(bundleProblems(real.outputFiles[0]!.text, Object.keys(real.metafile.inputs))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^defines /), expect.stringMatching(/^bundles a file from outside src\/web and npm: emulator\/softphone\/browser\//)]),
    );
    // And a bundle without the SDK is caught too.
    expect(bundleProblems('console.log(1)', ['src/web/agent/main.ts'])).toEqual(
      expect.arrayContaining(["does not bundle the Voice SDK's Device", `does not carry the Voice SDK's version ${sdkVersion}`]),
    );
  });
});
