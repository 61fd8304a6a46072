/**
 * The supervisor's board as deployed (dist/assets, as `npm run build` left it; `npm test`
 * builds first): three plain public files, the script minified, bundled only from the
 * page's own sources (and npm), without the charting library (the history page's).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { WEB_METAFILE } from '../../scripts/build';

const dist = join(__dirname, '..', '..', 'dist');
const assets = join(dist, 'assets');

describe('the dashboard page in dist/assets', () => {
  it('is dashboard.html, dashboard.js and dashboard.css, pt-BR, loading its own script and style', () => {
    for (const f of ['dashboard.html', 'dashboard.js', 'dashboard.css']) expect(existsSync(join(assets, f))).toBe(true);
    const html = readFileSync(join(assets, 'dashboard.html'), 'utf8');
    expect(html).toMatch(/<html lang="pt-BR">/);
    expect(html).toMatch(/<script defer src="dashboard\.js"><\/script>/);
    expect(html).toMatch(/<link rel="stylesheet" href="dashboard\.css">/);
    expect(html).toMatch(/<a href="\/history\.html"/);
    const js = readFileSync(join(assets, 'dashboard.js'), 'utf8');
    expect(js.split('\n').length).toBeLessThan(20);
    expect(js).not.toMatch(/sourceMappingURL/);
  });

  it('bundles the page\'s sources only: no server code, no stand-in, no chart.js', () => {
    const meta = JSON.parse(readFileSync(join(dist, WEB_METAFILE), 'utf8')) as Metafile;
    const out = meta.outputs['dist/assets/dashboard.js'];
    expect(out).toBeDefined();
    const inputs = Object.keys(out!.inputs).map((i) => (i.includes('node_modules/') ? i.slice(i.indexOf('node_modules/')) : i));
    expect(inputs).toEqual(expect.arrayContaining(['src/web/dashboard/main.ts', 'src/web/dashboard/view.ts', 'src/web/dashboard/poller.ts', 'src/web/dashboard/monitor.ts']));
    expect(inputs.filter((i) => !i.startsWith('src/web/') && !i.startsWith('node_modules/'))).toEqual([]);
    expect(inputs.filter((i) => /stand-?in|emulator|chart\.js/i.test(i))).toEqual([]);
  });

  it("bundles the agent page's softphone with the Voice SDK's Device, for listening in the browser", () => {
    const meta = JSON.parse(readFileSync(join(dist, WEB_METAFILE), 'utf8')) as Metafile;
    const inputs = Object.keys(meta.outputs['dist/assets/dashboard.js']!.inputs).map((i) => (i.includes('node_modules/') ? i.slice(i.indexOf('node_modules/')) : i));
    expect(inputs).toEqual(expect.arrayContaining(['src/web/agent/softphone.ts', 'src/web/dashboard/audio.ts', 'node_modules/@twilio/voice-sdk/esm/twilio/device.js']));
  });
});
