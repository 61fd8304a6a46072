/**
 * What `npm start` prints when the stack is up: its services, the environment the scripts
 * read, and the demo (the agent page's logins and the command that places a customer's call).
 */
import type { StackEnv } from './stack';

/** The seed's logins (supabase/seed.sql), role agent first. */
export const DEMO_LOGINS = [
  { email: 'ana@discador.local', password: 'demo-ana', role: 'agent' },
  { email: 'bruno@discador.local', password: 'demo-bruno', role: 'agent' },
  { email: 'supervisor@discador.local', password: 'demo-supervisor', role: 'supervisor' },
  { email: 'admin@discador.local', password: 'demo-admin', role: 'admin' },
] as const;

export interface BannerInput {
  services: { name: string; url: string }[];
  env: StackEnv;
  /** Where the scripts run from this shell look for a stack's env file (stackEnvPath(process.env)). */
  clientsLookAt: string;
  /** The demo logins found in the stack's users table. */
  demoLoginsPresent: string[];
  /** The stack runs its own emulator, which owns the seed's numbers (not with --no-emulator or --twilio-url). */
  ownEmulator: boolean;
  /** The demo call center: running (what it set up), off (by --no-demo or --ephemeral), or not started (why). */
  demo?: { running: DemoBanner } | { off: true } | { failed: string };
}

/** What the banner says about a running demo. */
export interface DemoBanner {
  agents: number;
  campaign: string;
  queue: string;
  serviceNumber: string;
  /** The person's agent login, left free by the demo (null: not in this database). */
  freeAgent: { email: string; password: string } | null;
  supervisor: { email: string; password: string } | null;
}

/** +551130099000 → +55 11 3009-9000 (how a Brazilian reads a landline). */
function spaced(e164: string): string {
  const m = /^\+55(\d\d)(\d{4,5})(\d{4})$/.exec(e164);
  return m ? `+55 ${m[1]} ${m[2]}-${m[3]}` : e164;
}

/** The demo's lines: where to watch, how to take a call, how to go without it. */
export function demoLines(functionsUrl: string, demo: BannerInput['demo']): string[] {
  if (!demo) return [];
  if ('off' in demo) return ['Demo call center: off (`npm start` runs it unless given --no-demo; --ephemeral stacks only with --demo).'];
  if ('failed' in demo) return [`Demo call center: not started: ${demo.failed}`];
  const d = demo.running;
  const lines = [
    `Demo call center: ${d.agents} emulated agents work the predictive campaign "${d.campaign}" and callers to ${spaced(d.serviceNumber)} wait in the queue "${d.queue}",`,
    '  on the emulator only, in real time with compressed calls (talk of seconds, short wrap-up).',
  ];
  lines.push(`  Watch the floor: ${functionsUrl}/dashboard.html${d.supervisor ? ` (${d.supervisor.email} / ${d.supervisor.password})` : ''}`);
  if (d.freeAgent) lines.push(`  Take a call: ${functionsUrl}/agent.html as ${d.freeAgent.email} / ${d.freeAgent.password}, press Disponível (she serves the demo's queue and campaign).`);
  lines.push('  Ctrl-C stops it with the stack; `npm start -- --no-demo` starts without it.');
  return lines;
}

/** The banner's lines. */
export function bannerLines(b: BannerInput): string[] {
  const lines = ['discador local stack is up:', ''];
  for (const s of b.services) lines.push(`  ${s.name.padEnd(32)} ${s.url}`);
  lines.push('');
  if (b.ownEmulator) lines.push(`The seed's numbers on the emulator ring ${b.env.FUNCTIONS_BASE_URL}/voice/inbound (point a tunnel there the same way).`);
  lines.push(`Environment for scripts (npm run call, npm run sim and the admin CLIs read it from ${b.env.DISCADOR_STACK_ENV}):`);
  for (const [k, v] of Object.entries(b.env)) lines.push(`  ${k}=${v}`);
  // The scripts find the default stack's file by themselves; another one (--ephemeral, or a
  // DISCADOR_STACK_ENV in this shell naming another file) must be named to them.
  const prefix = b.clientsLookAt === b.env.DISCADOR_STACK_ENV ? '' : `DISCADOR_STACK_ENV=${b.env.DISCADOR_STACK_ENV} `;
  const missing = DEMO_LOGINS.filter((l) => !b.demoLoginsPresent.includes(l.email));
  lines.push('');
  if (missing.length === DEMO_LOGINS.length) {
    // The seed runs only on a new database: one made before sign-in existed has no users.
    lines.push('This database has none of the demo logins of supabase/seed.sql (it was made before they existed).');
    lines.push('`npm start -- --fresh` starts over with the seed (it deletes this data).');
  } else {
    const shown = DEMO_LOGINS.filter((l) => !missing.includes(l));
    const say = (role: string) => shown.filter((l) => l.role === role).map((l) => `${l.email} / ${l.password}`);
    const groups = [
      say('agent').length ? `${say('agent').join(', ')} (agents: the agent page)` : '',
      ...say('supervisor'),
      ...say('admin'),
    ].filter(Boolean);
    lines.push(`Demo logins (supabase/seed.sql): ${groups.join(', ')}.`);
    if (missing.length) lines.push(`Not in this database: ${missing.map((l) => l.email).join(', ')} (\`npm start -- --fresh\` starts over with the seed).`);
  }
  if (b.ownEmulator) lines.push(`Sign in as Ana, press Disponível, then a customer calls her: ${prefix}npm run call -- +551130001000`);
  const demo = demoLines(b.env.FUNCTIONS_BASE_URL, b.demo);
  if (demo.length) lines.push('', ...demo);
  lines.push('', 'Ctrl-C stops everything.');
  return lines;
}
