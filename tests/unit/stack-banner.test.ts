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
