/**
 * SQL hygiene, checked on the migrated database: every function in public runs with an
 * empty search_path, the foreign keys read by hot lookups are indexed, start_inbound_call
 * writes its row once, no pt-BR text hides in SQL, supabase/config.toml is what the Supabase
 * CLI needs, and anon/authenticated hold no privilege at all on anything in public.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { env, sql, testDb } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

const root = join(__dirname, '..', '..');
const API_ROLES = ['anon', 'authenticated'];

describe('functions', () => {
  it('every function in public sets search_path to an empty string', async () => {
    const fns = await sql<{ fn: string; config: string[] | null }>(
      `select p.oid::regprocedure::text as fn, p.proconfig as config
         from pg_proc p where p.pronamespace = 'public'::regnamespace order by 1`,
    );
    expect(fns.length).toBeGreaterThan(10);
    const lacking = fns.filter((f) => !(f.config ?? []).some((c) => c === 'search_path=""' || c === "search_path=''")).map((f) => `${f.fn} ${JSON.stringify(f.config)}`);
    expect(lacking).toEqual([]);
  });

  it('still resolve what they use when the caller has an empty search_path', async () => {
    const phone = newMobile();
    const c = new Client({ connectionString: env('DATABASE_URL') });
    await c.connect();
    try {
      await c.query(`set search_path = ''`);
      expect((await c.query(`select public.opt_out_add($1) as r`, [phone])).rows).toEqual([{ r: { phone_number: phone, added: true } }]);
      expect((await c.query(`select public.opt_out_check($1) ->> 'opted_out' as listed`, [phone])).rows).toEqual([{ listed: 'true' }]);
    } finally {
      await c.end();
    }
  });
});

describe('indexes', () => {
  it.each([['lead_id'], ['parent_call_sid']])('calls.%s leads an index', async (column) => {
    const rows = await sql<{ name: string }>(
      `select i.indexrelid::regclass::text as name
         from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indrelid = 'public.calls'::regclass and a.attname = $1`,
      [column],
    );
    expect(rows.length).toBeGreaterThan(0);
  });
});

describe('start_inbound_call', () => {
  it('writes the calls row with one statement (no second UPDATE), owner, agent and opt-out flag included', async () => {
    const caller = newMobile();
    await sql(`select opt_out_add($1)`, [caller]);
    const sid = newCallSid();
    const { data, error } = await testDb().rpc<{ opted_out: boolean; route: string; agent: { id: number } | null }>('start_inbound_call', {
      p_event: { call_sid: sid, account_sid: env('TWILIO_ACCOUNT_SID'), call_status: 'ringing', direction: 'inbound', from: caller, to: '+551130001000', params: {} },
    });
    expect(error).toBeNull();
    expect(data!.opted_out).toBe(true);
    const [row] = await sql<{ opted_out: boolean; agent_id: string | null; owner_agent_id: string | null; events: number }>(
      `select opted_out, agent_id, owner_agent_id, (select count(*) from call_events e where e.call_sid = c.call_sid)::int as events from calls c where call_sid = $1`,
      [sid],
    );
    // The number's owner always; the agent only when the call is offered to them (else whoever answers).
    expect(row).toMatchObject({
      opted_out: true, owner_agent_id: String(data!.agent!.id),
      agent_id: data!.route === 'offer' ? String(data!.agent!.id) : null, events: 1,
    });
    const body = (await sql<{ src: string }>(`select prosrc as src from pg_proc where proname = 'start_inbound_call'`))[0]!.src;
    expect(body).not.toMatch(/\bupdate\s+public\.calls\b/i);
  });
});

describe('one clock', () => {
  it('every function and column default reads the time through app_now()', async () => {
    const fns = await sql<{ fn: string }>(
      `select p.oid::regprocedure::text as fn from pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.proname <> 'app_now'
          and (p.prosrc ~ '(^|[^a-z_.])now\\(\\)' or p.prosrc ~ 'pg_catalog\\.now\\(\\)' or p.prosrc ~* 'current_(date|timestamp)')`,
    );
    expect(fns).toEqual([]);
    // Wall-clock time only through app_clock_now() (virtual in a simulation), besides the two
    // clocks themselves, the heartbeat's request signature (checked against real time) and the
    // history report's time budget (how long the query itself has run: real time in any clock).
    const wall = await sql<{ fn: string }>(
      `select p.proname as fn from pg_proc p
        where p.pronamespace = 'public'::regnamespace
          and p.proname not in ('app_now', 'app_clock_now', 'pacer_heartbeat_request', 'history_check_time')
          and p.prosrc ~* '(clock|statement|transaction)_timestamp\\(|timeofday\\('`,
    );
    expect(wall).toEqual([]);
    const defaults = await sql<{ col: string }>(
      `select table_name || '.' || column_name as col from information_schema.columns
        where table_schema = 'public' and column_default ~* '(^|[^_])(now\\(\\)|current_timestamp)' and column_default !~ 'app_now'`,
    );
    expect(defaults).toEqual([]);
  });

  it('app_clock_now() is wall-clock time inside a transaction, and follows the virtual clock in a simulation', async () => {
    const c = new Client({ connectionString: env('DATABASE_URL') });
    await c.connect();
    try {
      await c.query('begin');
      await c.query('select pg_sleep(0.2)');
      const ahead = (await c.query<{ d: string }>(`select extract(epoch from public.app_clock_now() - now())::float8 as d`)).rows[0]!.d;
      expect(Number(ahead)).toBeGreaterThanOrEqual(0.2);
      await c.query(`insert into public.app_clock (virtual_at, real_at, speed) values ('2030-01-01T12:00:00Z', clock_timestamp(), 100)`);
      await c.query('select pg_sleep(0.1)');
      const virt = (await c.query<{ t: Date }>(`select public.app_clock_now() as t`)).rows[0]!.t;
      expect(virt.getTime()).toBeGreaterThanOrEqual(Date.parse('2030-01-01T12:00:10Z'));
      expect(virt.getTime()).toBeLessThan(Date.parse('2030-01-01T12:02:00Z'));
    } finally {
      await c.query('rollback');
      await c.end();
    }
  });

  it('app_now() is now() until a simulation sets the virtual clock, then follows it', async () => {
    const c = new Client({ connectionString: env('DATABASE_URL') });
    await c.connect();
    try {
      await c.query('begin');
      const real = (await c.query<{ d: string }>(`select extract(epoch from public.app_now() - now())::float8 as d`)).rows[0]!.d;
      expect(Math.abs(Number(real))).toBeLessThan(0.001);
      await c.query(`insert into public.app_clock (virtual_at, real_at, speed) values ('2030-01-01T12:00:00Z', clock_timestamp(), 100)`);
      const virt = (await c.query<{ t: Date }>(`select public.app_now() as t`)).rows[0]!.t;
      expect(virt.getTime()).toBeGreaterThanOrEqual(Date.parse('2030-01-01T12:00:00Z'));
      expect(virt.getTime()).toBeLessThan(Date.parse('2030-01-01T12:01:00Z'));
    } finally {
      await c.query('rollback');
      await c.end();
    }
  });
});

describe('what callers hear lives in TypeScript', () => {
  it('no SQL function body holds pt-BR text (accented letters or common Portuguese words)', async () => {
    const bodies = await sql<{ fn: string; src: string }>(`select proname as fn, prosrc as src from pg_proc where pronamespace = 'public'::regnamespace`);
    const ptBr = bodies.filter((b) => /[áàâãéêíóôõúç]|\b(pedido|cliente|ligação|ligacao|obrigado)\b/i.test(b.src.replace(/--.*$/gm, ''))).map((b) => b.fn);
    expect(ptBr).toEqual([]);
  });

  it('the reason stored for an in-call opt-out is a code', async () => {
    const phone = newMobile();
    const sid = newCallSid();
    await sql(`select apply_call_event($1)`, [{ call_sid: sid, call_status: 'in-progress', from: '+551130002000', to: phone }]);
    await sql(`select opt_out_from_call($1, $2)`, [sid, phone]);
    expect(await sql(`select reason, source, created_by from opt_outs where phone_number = $1`, [phone])).toEqual([{ reason: 'in_call_key', source: 'ivr', created_by: sid }]);
  });
});

describe('supabase/config.toml', () => {
  const toml = readFileSync(join(root, 'supabase', 'config.toml'), 'utf8');
  const value = (section: string, key: string) => {
    const body = section ? (toml.split(/^\[/m).find((s) => s.startsWith(`${section}]`)) ?? '') : toml.split(/^\[/m)[0]!;
    return new RegExp(`^${key}\\s*=\\s*"?([^"\\n]+)"?`, 'm').exec(body)?.[1];
  };

  it('names the project and the ports of the local stack', () => {
    expect(value('', 'project_id')).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
    expect(value('api', 'port')).toBe('54321');
    expect(value('db', 'port')).toBe('54322');
  });

  it('gives a Postgres major version the Supabase CLI accepts, no older than the local one allows', async () => {
    // The CLI accepts 13, 14, 15 and 17 (pkg/config/config.go); the local stack runs a newer
    // Postgres, so the migrations must stay valid on 17.
    expect(['13', '14', '15', '17']).toContain(value('db', 'major_version'));
    const [v] = await sql<{ major: number }>(`select current_setting('server_version_num')::int / 10000 as major`);
    expect(v!.major).toBeGreaterThanOrEqual(Number(value('db', 'major_version')));
  });

  it('sits next to the migrations the CLI pushes (timestamped, forward-only file names)', () => {
    const files = readdirSync(join(root, 'supabase', 'migrations'));
    expect(files.every((f) => /^\d{14}_[a-z0-9_]+\.sql$/.test(f))).toBe(true);
  });
});

describe('privileges', () => {
  it('anon and authenticated hold no table, column or sequence privilege in public', async () => {
    const held = await sql<{ role: string; object: string; privilege: string }>(
      `select r.role, c.oid::regclass::text as object, p.privilege
         from pg_class c
         cross join unnest($1::text[]) as r(role)
         cross join unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) as p(privilege)
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm', 'p', 'f')
          and has_table_privilege(r.role, c.oid, p.privilege)
       union all
       select r.role, c.oid::regclass::text, 'any column ' || p.privilege
         from pg_class c
         cross join unnest($1::text[]) as r(role)
         cross join unnest(array['SELECT','INSERT','UPDATE','REFERENCES']) as p(privilege)
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm', 'p', 'f')
          and has_any_column_privilege(r.role, c.oid, p.privilege)
       union all
       select r.role, c.oid::regclass::text, p.privilege
         from pg_class c
         cross join unnest($1::text[]) as r(role)
         cross join unnest(array['USAGE','SELECT','UPDATE']) as p(privilege)
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'S'
          and has_sequence_privilege(r.role, c.oid, p.privilege)`,
      [API_ROLES],
    );
    expect(held).toEqual([]);
    expect(await sql(`select grantee, table_name, privilege_type from information_schema.role_table_grants where table_schema = 'public' and grantee = any($1)`, [API_ROLES])).toEqual([]);
  });

  it('anon and authenticated cannot execute any function in public', async () => {
    const held = await sql<{ role: string; fn: string }>(
      `select r.role, p.oid::regprocedure::text as fn
         from pg_proc p cross join unnest($1::text[]) as r(role)
        where p.pronamespace = 'public'::regnamespace and has_function_privilege(r.role, p.oid, 'EXECUTE')`,
      [API_ROLES],
    );
    expect(held).toEqual([]);
    expect(await sql(`select grantee, routine_name from information_schema.routine_privileges where routine_schema = 'public' and grantee = any($1 || array['PUBLIC'])`, [API_ROLES])).toEqual([]);
  });

  it('nothing created later in public gives them anything (default privileges), even after the local stack restarts', async () => {
    // `npm start` on a kept database runs its bootstrap again before pending migrations.
    const c = new Client({ connectionString: env('DATABASE_URL') });
    await c.connect();
    try {
      await c.query(readFileSync(join(root, 'stack', 'bootstrap.sql'), 'utf8'));
    } finally {
      await c.end();
    }
    const defaults = await sql<{ acl: string }>(
      `select d.defaclobjtype::text || ' ' || coalesce(n.nspname, '(all schemas)') || ' ' || a.grantee::regrole::text as acl
         from pg_default_acl d
         left join pg_namespace n on n.oid = d.defaclnamespace
         cross join aclexplode(d.defaclacl) a
        where (n.nspname = 'public' or d.defaclnamespace = 0) and a.grantee <> 0
          and a.grantee::regrole::text = any($1)`,
      [API_ROLES],
    );
    expect(defaults).toEqual([]);
    // A table and a function created now, as a migration would: still nothing for them.
    await sql(`create table public.hygiene_probe (id int); create function public.hygiene_probe_fn() returns int language sql set search_path = '' as 'select 1'`);
    try {
      const probe = await sql<{ t: boolean; f: boolean }>(
        `select bool_or(has_table_privilege(r, 'public.hygiene_probe', 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')) as t,
                bool_or(has_function_privilege(r, 'public.hygiene_probe_fn()', 'EXECUTE')) as f
           from unnest($1::text[]) r`,
        [API_ROLES],
      );
      expect(probe).toEqual([{ t: false, f: false }]);
      expect(await sql(`select has_table_privilege('service_role', 'public.hygiene_probe', 'SELECT') as t, has_function_privilege('service_role', 'public.hygiene_probe_fn()', 'EXECUTE') as f`)).toEqual([{ t: true, f: true }]);
    } finally {
      await sql(`drop table public.hygiene_probe; drop function public.hygiene_probe_fn()`);
    }
  });

  it('the anon key gets nothing through the REST gateway', async () => {
    const url = env('SUPABASE_URL');
    const key = env('SUPABASE_ANON_KEY');
    const headers = { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const table = await fetch(`${url}/rest/v1/opt_outs?select=phone_number&limit=1`, { headers });
    expect(table.status).toBeGreaterThanOrEqual(400);
    const rpc = await fetch(`${url}/rest/v1/rpc/opt_out_check`, { method: 'POST', headers, body: JSON.stringify({ p_phone: newMobile() }) });
    expect(rpc.status).toBeGreaterThanOrEqual(400);
  });
});
