/**
 * `npm start`'s banner (stack/banner.ts): the agent page, the demo logins the database really
 * has, and the `npm run call` command as this shell must type it.
 */
import { join } from 'node:path';
import { bannerLines, DEMO_LOGINS } from '../../stack/banner';
import type { StackEnv } from '../../stack/stack';

const defaultFile = join(__dirname, '..', '..', '.data', 'stack.env');
const env = (file: string) =>
  ({ FUNCTIONS_BASE_URL: 'http://127.0.0.1:3000', DISCADOR_STACK_ENV: file, TWILIO_ACCOUNT_SID: 'AC0000000000000000000000000000d15c' }) as unknown as StackEnv;
const services = [{ name: 'Agent page', url: 'http://127.0.0.1:3000/agent.html' }];
const all = DEMO_LOGINS.map((l) => l.email);

it('names the agent page, every demo login, and the plain command when the scripts find the file by themselves', () => {
  const text = bannerLines({ services, env: env(defaultFile), clientsLookAt: defaultFile, demoLoginsPresent: all, ownEmulator: true }).join('\n');
  expect(text).toMatch(/^\s+Agent page\s+http:\/\/127\.0\.0\.1:3000\/agent\.html$/m);
  expect(text).toContain(
    'Demo logins (supabase/seed.sql): ana@discador.local / demo-ana, bruno@discador.local / demo-bruno (agents: the agent page), supervisor@discador.local / demo-supervisor, admin@discador.local / demo-admin.',
  );
  expect(text).toContain('then a customer calls her: npm run call -- +551130001000');
  expect(text).not.toContain('--fresh');
});

it('an ephemeral stack: the command names its env file', () => {
  const text = bannerLines({ services, env: env('/tmp/discador-x/stack.env'), clientsLookAt: defaultFile, demoLoginsPresent: all, ownEmulator: true }).join('\n');
  expect(text).toContain('then a customer calls her: DISCADOR_STACK_ENV=/tmp/discador-x/stack.env npm run call -- +551130001000');
});

it('a database made before the demo logins existed: says so and how to start over, instead of logins that fail', () => {
  const text = bannerLines({ services, env: env(defaultFile), clientsLookAt: defaultFile, demoLoginsPresent: [], ownEmulator: true }).join('\n');
  expect(text).not.toContain('demo-ana');
  expect(text).toContain('This database has none of the demo logins of supabase/seed.sql');
  expect(text).toContain('`npm start -- --fresh` starts over with the seed (it deletes this data).');
});

it('some demo logins gone: only those present are offered, the others named', () => {
  const text = bannerLines({ services, env: env(defaultFile), clientsLookAt: defaultFile, demoLoginsPresent: ['ana@discador.local'], ownEmulator: true }).join('\n');
  expect(text).toContain('Demo logins (supabase/seed.sql): ana@discador.local / demo-ana (agents: the agent page).');
  expect(text).toContain('Not in this database: bruno@discador.local, supervisor@discador.local, admin@discador.local');
});

it('without its own emulator (--no-emulator, --twilio-url) no call command is offered: nothing would ring', () => {
  const text = bannerLines({ services, env: env(defaultFile), clientsLookAt: defaultFile, demoLoginsPresent: all, ownEmulator: false }).join('\n');
  expect(text).not.toContain('npm run call --');
  expect(text).not.toContain('/voice/inbound');
  expect(text).toContain('demo-ana');
});

describe('the demo call center', () => {
  const running = {
    agents: 6, campaign: 'Demonstração preditiva', queue: 'demo', serviceNumber: '+551130099000',
    freeAgent: { email: 'ana@discador.local', password: 'demo-ana' }, supervisor: { email: 'supervisor@discador.local', password: 'demo-supervisor' },
  };
  const banner = (demo: Parameters<typeof bannerLines>[0]['demo']) =>
    bannerLines({ services, env: env(defaultFile), clientsLookAt: defaultFile, demoLoginsPresent: all, ownEmulator: true, demo });

  it('running: what it does, the dashboard with the supervisor login, the free agent and how to go without it, before the last line', () => {
    const lines = banner({ running });
    const at = lines.indexOf(
      'Demo call center: 6 emulated agents work the predictive campaign "Demonstração preditiva" and callers to +55 11 3009-9000 wait in the queue "demo",',
    );
    expect(lines.slice(at, at + 5)).toEqual([
      'Demo call center: 6 emulated agents work the predictive campaign "Demonstração preditiva" and callers to +55 11 3009-9000 wait in the queue "demo",',
      '  on the emulator only, in real time with compressed calls (talk of seconds, short wrap-up).',
      '  Watch the floor: http://127.0.0.1:3000/dashboard.html (supervisor@discador.local / demo-supervisor)',
      '  Take a call: http://127.0.0.1:3000/agent.html as ana@discador.local / demo-ana, press Disponível (she serves the demo\'s queue and campaign).',
      "  Ctrl-C stops it with the stack; `npm start -- --no-demo` starts without it.",
    ]);
    expect(lines.slice(-2)).toEqual(['', 'Ctrl-C stops everything.']);
  });

  it('running in a database without the seed\'s logins: no login is offered that would fail', () => {
    const text = banner({ running: { ...running, freeAgent: null, supervisor: null } }).join('\n');
    expect(text).toContain('  Watch the floor: http://127.0.0.1:3000/dashboard.html\n');
    expect(text).not.toContain('Take a call:');
  });

  it('off, or not started, says so', () => {
    expect(banner({ off: true })).toContain('Demo call center: off (`npm start` runs it unless given --no-demo; --ephemeral stacks only with --demo).');
    expect(banner({ failed: 'it runs on the real clock (not with --speed)' })).toContain('Demo call center: not started: it runs on the real clock (not with --speed)');
    expect(banner(undefined).join('\n')).not.toContain('Demo call center');
  });
});
