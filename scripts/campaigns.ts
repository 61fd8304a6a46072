/**
 * Outbound campaigns and their leads.
 *   npm run campaigns -- create "Cobrança novembro" --mode predictive --behaviour ADAPT_TAPERED --abandon-cap 3%
 *   npm run campaigns -- assign-agent maria@empresa.com.br "Cobrança novembro"
 *   npm run campaigns -- import-leads "Cobrança novembro" devedores.csv
 *   npm run campaigns -- resume "Cobrança novembro"          (starts it: needs agents and caller IDs)
 *   npm run campaigns -- list | show <campaign> | pause <campaign> | export <campaign> --out leads.csv
 *   npm run campaigns -- holidays add 2026-12-24 --name "Véspera de Natal" [--uf SP] [--campaign C]
 * A campaign is named by its id or its name. Settings are checked by the schema shared with
 * the API (src/lib/domain/campaigns.ts) and again by the SQL functions
 * (supabase/migrations/*_campaigns_leads.sql); see docs/campaigns.md.
 */
import fs from 'node:fs';
import { Command, Option } from 'commander';
import {
  campaignRefusal,
  checkSettings,
  IMPORT_BATCH_ROWS,
  UFS,
  type CampaignListItem,
  type CampaignShow,
  type ImportBatchCounts,
} from '../src/lib/domain/campaigns';
import { CSV_BOM, exportHeader, exportLine, LeadsCsvError, LeadsCsvReader, type ExportLead, type LeadRow, type LeadsCsvFormat, type LeadsCsvOptions, type LeadsCsvRejection, type LeadsCsvStats } from '../src/lib/domain/leads-csv';
import type { CsvEncoding } from '../src/lib/domain/csv';
import type { Db } from '../src/lib/runtime/db';
import { settingsFromOptions, withSettingsOptions, type SettingsOptions } from './lib/campaign-flags';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  emitPlan,
  EXIT,
  openDb,
  openInputFile,
  positiveInt,
  rpcOrThrow,
  runProgram,
  withCommonOptions,
  type CommonOptions,
  type Ctx,
  type Env,
  type Io,
  type PlannedStep,
} from './lib/cli';

const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,189}$/;
const ENCODINGS = ['utf-8', 'windows-1252', 'utf-16le', 'utf-16be'] as const;

/** Calls a campaign SQL function; its refusals (DC400/404/409) become CliErrors carrying their stable code. */
async function call<T>(db: Db, c: Ctx, fn: string, args: Record<string, unknown>): Promise<T> {
  const { data, error } = await db.rpc<T>(fn, args);
  if (!error) return data as T;
  const refusal = campaignRefusal(error);
  if (refusal) throw new CliError(`${refusal.message}; nothing was changed`, EXIT.FAILED, refusal.code);
  return rpcOrThrow<T>(db, c.env, fn, args);
}

/** A campaign argument: its id, or a name to look up. */
type CampaignRef = { id: number } | { name: string };

function campaignRef(input: string): CampaignRef {
  const v = input.trim();
  if (v === '') throw new CliError('name the campaign by its id or its name', EXIT.USAGE, 'USAGE');
  return /^\d{1,18}$/.test(v) ? { id: Number(v) } : { name: v };
}

/** The step that finds a campaign by name, for dry runs. */
function lookupStep(ref: CampaignRef): PlannedStep[] {
  return 'name' in ref ? [{ kind: 'rpc', fn: 'campaign_show', args: { p_campaign_id: null, p_name: ref.name }, note: 'finds the campaign id by name' }] : [];
}

/** The id a dry run prints for a campaign named by name. */
const idPlaceholder = (ref: CampaignRef) => ('id' in ref ? ref.id : `<id of "${ref.name}">`);

async function resolveId(db: Db, c: Ctx, ref: CampaignRef): Promise<number> {
  if ('id' in ref) return ref.id;
  const r = await call<CampaignShow>(db, c, 'campaign_show', { p_campaign_id: null, p_name: ref.name });
  return r.campaign.id;
}

/** The settings of a create/update, checked by the shared schema (usage error otherwise). */
function checkedSettings(raw: Record<string, unknown>, purpose: 'create' | 'update'): Record<string, unknown> {
  const r = checkSettings(raw, purpose);
  if (!r.ok) throw new CliError(`${r.code === 'window_never_opens' ? 'the calling window never opens' : 'invalid settings'}: ${r.problems.join('; ')}; nothing was changed`, EXIT.USAGE, r.code);
  return r.settings;
}

const hhmm = (t: unknown) => (typeof t === 'string' ? t.slice(0, 5) : null);

/** Human lines of a campaign. */
function showLines(r: CampaignShow): string[] {
  const c = r.campaign as unknown as Record<string, unknown>;
  const day = (a: string, b: string) => (c[a] && c[b] ? `${hhmm(c[a])}-${hhmm(c[b])}` : 'closed');
  const window =
    c['window_profile'] === 'collections_sp'
      ? 'collections_sp (Mon-Fri 08:00-20:00, Sat 08:00-14:00, no Sunday)'
      : `custom (Mon-Fri ${day('weekday_start', 'weekday_end')}, Sat ${day('saturday_start', 'saturday_end')}, Sun ${c['allow_sunday'] ? day('sunday_start', 'sunday_end') : 'closed'})`;
  const mode = c['mode'] === 'power' ? `power, ratio ${c['dial_ratio']}` : c['mode'] === 'predictive' ? `predictive, ${c['pacing_behaviour']}` : String(c['mode']);
  const byStatus = Object.entries(r.leads.by_status).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `#${c['id']} ${c['name']} (${c['kind']}) — ${c['status']}`,
    `  mode: ${mode}; abandon cap ${Number(c['abandon_cap']) * 100}%; max lines ${c['max_lines']}; CPS ${c['calls_per_second']}`,
    `  window: ${window}; holidays ${c['skip_holidays'] ? 'skipped' : 'called'}`,
    `  attempts: at most ${c['max_attempts']}; retries ${Object.entries(c['retry_rules'] as Record<string, { delay_minutes: number; max: number }>).map(([k, v]) => `${k} ${v.delay_minutes}m×${v.max}`).join(', ')}`,
    `  caller ID: ${c['caller_id_strategy']}${c['local_presence'] ? ' with local presence' : ''}; AMD machine → ${c['amd_machine']}, unknown → ${c['amd_unknown']}, human accuracy ${c['amd_human_accuracy']}`,
    `  abandon → ${c['abandon_treatment']}; company ${c['company_name'] ?? '(COMPANY_NAME)'}; disclaimer ${c['disclaimer_seconds']} s; ring ${c['ring_timeout']} s`,
    `  whisper: ${c['whisper_template'] ?? '(none)'}`,
    `  dispositions: ${Array.isArray(c['dispositions']) ? (c['dispositions'] as { code: string; outcome: string }[]).map((d) => `${d.code}→${d.outcome}`).join(', ') : '(DISPOSITION_CODES)'}`,
    `  agents: ${r.agents.length ? r.agents.map((a) => `${a.email ?? a.name} (${a.status})`).join(', ') : 'none'}; usable caller IDs in the pool: ${r.usable_numbers}`,
    `  leads: ${r.leads.total}${byStatus ? ` (${byStatus})` : ''}`,
    ...(r.holidays.length ? [`  holidays ahead: ${r.holidays.map((h) => `${h.day}${h.uf ? ` ${h.uf}` : ''} ${h.name}`).join('; ')}`] : []),
  ];
}

/** YYYY-MM-DD from YYYY-MM-DD or DD/MM/YYYY. */
function dayArg(input: string): string {
  const v = input.trim();
  const br = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v);
  const iso = br ? `${br[3]}-${br[2]}-${br[1]}` : v;
  const d = new Date(`${iso}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso) {
    throw new CliError(`"${input}" is not a date (YYYY-MM-DD or DD/MM/YYYY)`, EXIT.USAGE, 'USAGE');
  }
  return iso;
}

/** Runs the campaigns CLI; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = new Command('campaigns').description('outbound campaigns: settings, agents, leads (import and export), start and pause, calling holidays');
    const ctx = (opts: CommonOptions): Ctx => ctxOf({ env, io }, opts);

    withCommonOptions(withSettingsOptions(program.command('create').description('create a campaign (status draft); unset settings take their defaults').argument('<name>', 'unique name'))).action(
      async (name: string, opts: CommonOptions & SettingsOptions) => {
        const c = ctx(opts);
        const settings = checkedSettings({ ...settingsFromOptions(opts), name }, 'create');
        const args = { p_settings: settings };
        if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'campaign_create', args }]);
        const r = await call<CampaignShow['campaign']>(openDb(env), c, 'campaign_create', args);
        emit(c, { campaign: r }, () => [`created campaign #${r.id} ${r.name} (${r.mode}, draft): assign agents, import leads, then \`campaigns resume ${r.id}\``]);
      },
    );

    withCommonOptions(withSettingsOptions(program.command('update').description('change some settings of a campaign (the others stay)').argument('<campaign>', 'id or name')).option('--name <name>', 'rename it')).action(
      async (campaign: string, opts: CommonOptions & SettingsOptions & { name?: string }) => {
        const c = ctx(opts);
        const ref = campaignRef(campaign);
        const raw = settingsFromOptions(opts);
        if (opts.name !== undefined) raw['name'] = opts.name;
        const settings = checkedSettings(raw, 'update');
        if (c.dryRun) return emitPlan(c, [...lookupStep(ref), { kind: 'rpc', fn: 'campaign_update', args: { p_campaign_id: idPlaceholder(ref), p_settings: settings } }]);
        const db = openDb(env);
        const r = await call<CampaignShow['campaign']>(db, c, 'campaign_update', { p_campaign_id: await resolveId(db, c, ref), p_settings: settings });
        emit(c, { campaign: r }, () => [`updated campaign #${r.id} ${r.name}: ${Object.keys(settings).join(', ')}`]);
      },
    );

    withCommonOptions(program.command('list').description('every campaign with its status, agents and lead counts')).action(async (opts: CommonOptions) => {
      const c = ctx(opts);
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'campaign_list', args: {} }]);
      const campaigns = await call<CampaignListItem[]>(openDb(env), c, 'campaign_list', {});
      emit(c, { campaigns }, () =>
        campaigns.length
          ? campaigns.map(
              (x) =>
                `#${String(x.id).padEnd(4)} ${x.name.padEnd(32)} ${x.status.padEnd(8)} ${x.mode.padEnd(10)} agents ${String(x.agents).padEnd(3)} leads ${x.leads.total}` +
                (x.leads.total ? ` (${Object.entries(x.leads.by_status).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''),
            )
          : ['no campaigns: create one with `campaigns create <name>`'],
      );
    });

    withCommonOptions(program.command('show').description('a campaign: settings, agents, caller IDs, lead counts, holidays ahead').argument('<campaign>', 'id or name')).action(
      async (campaign: string, opts: CommonOptions) => {
        const c = ctx(opts);
        const ref = campaignRef(campaign);
        const args = 'id' in ref ? { p_campaign_id: ref.id, p_name: null } : { p_campaign_id: null, p_name: ref.name };
        if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'campaign_show', args }]);
        const r = await call<CampaignShow>(openDb(env), c, 'campaign_show', args);
        emit(c, r, () => showLines(r));
      },
    );

    const setStatus = (status: 'active' | 'paused', verb: string) => async (campaign: string, opts: CommonOptions) => {
      const c = ctx(opts);
      const ref = campaignRef(campaign);
      if (c.dryRun) return emitPlan(c, [...lookupStep(ref), { kind: 'rpc', fn: 'campaign_set_status', args: { p_campaign_id: idPlaceholder(ref), p_status: status } }]);
      const db = openDb(env);
      const r = await call<{ campaign: CampaignShow['campaign']; previous_status: string; changed: boolean }>(db, c, 'campaign_set_status', {
        p_campaign_id: await resolveId(db, c, ref),
        p_status: status,
      });
      emit(c, r, () => [r.changed ? `campaign #${r.campaign.id} ${r.campaign.name} ${verb} (was ${r.previous_status})` : `campaign #${r.campaign.id} ${r.campaign.name} was already ${status}`]);
    };
    withCommonOptions(program.command('pause').description('stop dialing a campaign (calls out finish)').argument('<campaign>', 'id or name')).action(setStatus('paused', 'paused'));
    withCommonOptions(
      program.command('resume').description('start (or restart) dialing a campaign: refused without an assigned agent or a usable caller ID').argument('<campaign>', 'id or name'),
    ).action(setStatus('active', 'is running'));

    withCommonOptions(
      program
        .command('assign-agent')
        .description("put an agent on a campaign (the pacer counts them for it); --none: inbound only")
        .argument('<email>', "the agent's sign-in e-mail")
        .argument('[campaign]', 'id or name')
        .option('--none', 'take the agent off any campaign'),
    ).action(async (email: string, campaign: string | undefined, opts: CommonOptions & { none?: boolean }) => {
      const c = ctx(opts);
      if (!EMAIL.test(email.trim())) throw new CliError(`"${email}" is not an e-mail address`, EXIT.USAGE, 'USAGE');
      if ((campaign === undefined) === !opts.none) throw new CliError('name a campaign, or --none to take the agent off campaigns', EXIT.USAGE, 'USAGE');
      const ref = campaign !== undefined ? campaignRef(campaign) : null;
      if (c.dryRun) return emitPlan(c, [...(ref ? lookupStep(ref) : []), { kind: 'rpc', fn: 'agent_set_campaign', args: { p_email: email.trim(), p_campaign_id: ref ? idPlaceholder(ref) : null } }]);
      const db = openDb(env);
      const id = ref ? await resolveId(db, c, ref) : null;
      const r = await call<{ agent_id: number; campaign_id: number | null; changed: boolean }>(db, c, 'agent_set_campaign', { p_email: email.trim(), p_campaign_id: id });
      emit(c, r, () => [
        r.campaign_id === null ? `agent #${r.agent_id} (${email.trim()}) takes inbound calls only` : `agent #${r.agent_id} (${email.trim()}) ${r.changed ? 'now works' : 'already worked'} campaign #${r.campaign_id}`,
      ]);
    });

    withCommonOptions(
      program
        .command('import-leads')
        .description('import a lead list (CSV or Excel "Unicode text"; see docs/campaigns.md): bad lines reported by number, the rest imported; a phone already in the campaign is merged')
        .argument('<campaign>', 'id or name')
        .argument('<file>', 'Windows-1252, UTF-8 or UTF-16; ; , or tab separated; a header line naming the columns')
        .option('--phone-column <name|n>', 'the phone column, by header name or 1-based number (default: the column named telefone/celular/fone/whatsapp… holding phones)')
        .option('--name-column <name|n>', 'the name column (default: nome/cliente…)')
        .option('--id-column <name|n>', "the lead's id in your system (default: id/código/matrícula…)")
        .addOption(new Option('--delimiter <d>', 'field separator (default: sep= line, else detected)').choices([';', ',', 'tab']))
        .addOption(new Option('--encoding <e>', 'text encoding (default: BOM, else UTF-8 when valid, else Windows-1252)').choices([...ENCODINGS]))
        .option('--strict', 'check the whole file first and import nothing if any line is rejected (exit 1)')
        .option('--batch-size <n>', 'leads per leads_import_batch call', positiveInt('--batch-size', 10_000), IMPORT_BATCH_ROWS)
        .option('--progress-every <lines>', 'a progress line on stderr every this many lines', positiveInt('--progress-every', 10_000_000), 10_000)
        .option('--no-progress', 'no progress lines'),
    ).action(async (campaign: string, file: string, opts: ImportOptions) => {
      const c = ctx(opts);
      const ref = campaignRef(campaign);
      const readOptions: LeadsCsvOptions = {
        phoneColumn: opts.phoneColumn,
        nameColumn: opts.nameColumn,
        idColumn: opts.idColumn,
        delimiter: opts.delimiter === 'tab' ? '\t' : opts.delimiter,
        encoding: opts.encoding,
      };
      preflight(file, readOptions);
      const db = c.dryRun ? null : openDb(env);
      // The campaign is checked before the file is read: a wrong name fails at once, not after the first batch.
      const target = db ? await call<CampaignShow>(db, c, 'campaign_show', 'id' in ref ? { p_campaign_id: ref.id, p_name: null } : { p_campaign_id: null, p_name: ref.name }) : null;
      if (target?.campaign.status === 'finished') throw new CliError(`campaign #${target.campaign.id} ${target.campaign.name} is finished; nothing was imported`, EXIT.FAILED, 'campaign_finished');
      const id = target ? target.campaign.id : idPlaceholder(ref);
      const progress = opts.progress && !c.json ? opts.progressEvery : null;
      if (opts.strict) {
        const check = await scanFile(file, readOptions, c, progress, null, opts.batchSize);
        if (check.stats.rejected > 0) {
          const report = reportOf(file, check);
          emit(c, report, () => summaryLines(report, null));
          throw new CliError(`--strict: ${check.stats.rejected} line(s) rejected, nothing was imported`, EXIT.FAILED, 'REJECTED_LINES');
        }
      }
      const steps: PlannedStep[] = [...(db ? [] : lookupStep(ref))];
      const totals = { inserted: 0, updated: 0, merged_in_batch: 0, opted_out: 0 };
      let sent = 0;
      const send = async (rows: LeadRow[], index: number, fields: string[] | null): Promise<void> => {
        const args = { p_campaign_id: id, p_rows: rows, p_fields: fields };
        if (!db) {
          steps.push({ kind: 'rpc', fn: 'leads_import_batch', args, note: `batch ${index + 1}: ${rows.length} leads` });
          return;
        }
        let r: ImportBatchCounts;
        try {
          r = await call<ImportBatchCounts>(db, c, 'leads_import_batch', args);
        } catch (e) {
          const err = e as CliError;
          throw new CliError(
            `${err.message.replace(/; nothing was changed$/, '')}\nbatch ${index + 1} failed after ${sent} leads were imported (${totals.inserted} new); importing the same file again is safe (leads merge by phone)`,
            err.exitCode,
            err.code,
          );
        }
        sent += rows.length;
        totals.inserted += r.inserted;
        totals.updated += r.updated;
        totals.merged_in_batch += r.merged_in_batch;
        totals.opted_out += r.opted_out;
      };
      const scan = await scanFile(file, readOptions, c, progress, send, opts.batchSize, !opts.strict);
      const report = reportOf(file, scan);
      if (c.dryRun) emitPlan(c, steps, { ...report }, summaryLines(report, null));
      else emit(c, { campaign_id: id, ...report, ...totals }, () => summaryLines(report, totals));
      if (scan.stats.rows === 0) throw new CliError(`nothing imported: no line of ${file} holds a lead that can be imported`, EXIT.FAILED, 'NOTHING_IMPORTED');
    });

    withCommonOptions(
      program
        .command('export')
        .description("the campaign's leads as CSV for Excel pt-BR (UTF-8 with BOM, ; separated): status, attempts, outcome, every lead field")
        .argument('<campaign>', 'id or name')
        .option('--out <file>', 'write here (default: stdout)'),
    ).action(async (campaign: string, opts: CommonOptions & { out?: string }) => {
      const c = ctx(opts);
      const ref = campaignRef(campaign);
      if (c.dryRun) {
        const id = idPlaceholder(ref);
        return emitPlan(c, [
          ...lookupStep(ref),
          { kind: 'rpc', fn: 'leads_field_names', args: { p_campaign_id: id } },
          { kind: 'rpc', fn: 'leads_export_page', args: { p_campaign_id: id, p_after_id: 0, p_limit: EXPORT_PAGE }, note: 'then the next page after the last id, until a page is short' },
        ]);
      }
      if (c.json && !opts.out) throw new CliError('--json prints the summary: give --out <file> for the CSV', EXIT.USAGE, 'USAGE');
      const db = openDb(env);
      const id = await resolveId(db, c, ref);
      const fields = await call<string[]>(db, c, 'leads_field_names', { p_campaign_id: id });
      const sink = opts.out ? fileSink(opts.out) : { write: (line: string) => io.out(line), close: async () => undefined };
      let count = 0;
      try {
        sink.write(CSV_BOM + exportHeader(fields));
        let after = 0;
        for (;;) {
          const page = await call<ExportLead[]>(db, c, 'leads_export_page', { p_campaign_id: id, p_after_id: after, p_limit: EXPORT_PAGE });
          for (const lead of page) sink.write(exportLine(lead, fields));
          count += page.length;
          if (page.length < EXPORT_PAGE) break;
          after = page[page.length - 1]!.id;
        }
      } finally {
        await sink.close();
      }
      if (opts.out) emit(c, { campaign_id: id, file: opts.out, leads: count, fields }, () => [`wrote ${count} leads of campaign #${id} to ${opts.out}`]);
    });

    const holidays = program.command('holidays').description('dates leads are not called, beyond the national and state holidays: municipal holidays, days off');
    withCommonOptions(
      holidays
        .command('add')
        .description('add a date (everywhere, or one state; every campaign, or one)')
        .argument('<day>', 'YYYY-MM-DD or DD/MM/YYYY')
        .requiredOption('--name <name>', 'what the day is')
        .addOption(new Option('--uf <uf>', 'only leads of this state').choices([...UFS]))
        .option('--campaign <campaign>', 'only this campaign (id or name)'),
    ).action(async (day: string, opts: CommonOptions & { name: string; uf?: string; campaign?: string }) => {
      const c = ctx(opts);
      const name = opts.name.trim();
      if (name === '' || name.length > 100) throw new CliError('--name must have 1 to 100 characters', EXIT.USAGE, 'USAGE');
      const ref = opts.campaign !== undefined ? campaignRef(opts.campaign) : null;
      const args = { p_day: dayArg(day), p_name: name, p_uf: opts.uf ?? null, p_campaign_id: ref ? idPlaceholder(ref) : null };
      if (c.dryRun) return emitPlan(c, [...(ref ? lookupStep(ref) : []), { kind: 'rpc', fn: 'calling_holiday_add', args }]);
      const db = openDb(env);
      const r = await call<{ holiday: { id: number; day: string }; added: boolean }>(db, c, 'calling_holiday_add', { ...args, p_campaign_id: ref ? await resolveId(db, c, ref) : null });
      emit(c, r, () => [r.added ? `added holiday #${r.holiday.id} ${r.holiday.day} ${name}` : `${r.holiday.day} was already a holiday (#${r.holiday.id})`]);
    });
    withCommonOptions(holidays.command('list').description('the admin holidays (all, or those of one campaign)').option('--campaign <campaign>', 'id or name')).action(
      async (opts: CommonOptions & { campaign?: string }) => {
        const c = ctx(opts);
        const ref = opts.campaign !== undefined ? campaignRef(opts.campaign) : null;
        if (c.dryRun) return emitPlan(c, [...(ref ? lookupStep(ref) : []), { kind: 'rpc', fn: 'calling_holiday_list', args: { p_campaign_id: ref ? idPlaceholder(ref) : null } }]);
        const db = openDb(env);
        const list = await call<{ id: number; day: string; uf: string | null; campaign_id: number | null; name: string }[]>(db, c, 'calling_holiday_list', {
          p_campaign_id: ref ? await resolveId(db, c, ref) : null,
        });
        emit(c, { holidays: list }, () =>
          list.length ? list.map((h) => `#${String(h.id).padEnd(4)} ${h.day} ${(h.uf ?? 'all').padEnd(3)} ${h.campaign_id ? `campaign #${h.campaign_id}` : 'all campaigns'}  ${h.name}`) : ['no admin holidays'],
        );
      },
    );
    withCommonOptions(holidays.command('remove').description('remove an admin holiday').argument('<id>', 'its number (see holidays list)')).action(async (hid: string, opts: CommonOptions) => {
      const c = ctx(opts);
      if (!/^\d{1,18}$/.test(hid.trim())) throw new CliError(`"${hid}" is not a holiday number (see holidays list)`, EXIT.USAGE, 'USAGE');
      const args = { p_id: Number(hid) };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'calling_holiday_remove', args }]);
      const r = await call<{ holiday: { id: number; day: string; name: string } }>(openDb(env), c, 'calling_holiday_remove', args);
      emit(c, r, () => [`removed holiday #${r.holiday.id} ${r.holiday.day} ${r.holiday.name}`]);
    });

    return program;
  });
}

/** Leads per export page. */
const EXPORT_PAGE = 5000;

/** A file written line by line with CRLF (what Excel writes), waiting when the disk is behind. */
function fileSink(file: string): { write: (line: string) => void; close: () => Promise<void> } {
  let out: fs.WriteStream;
  try {
    fs.writeFileSync(file, '');
    out = fs.createWriteStream(file);
  } catch (e) {
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`, EXIT.USAGE, 'FILE');
  }
  return {
    write: (line) => void out.write(line + '\r\n'),
    close: () => new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve()))),
  };
}

/**
 * Reads the file's first 64 KiB: a file that is not CSV, has no header or no phone column is
 * refused before the database is asked anything (the full read finds the same, later).
 */
function preflight(file: string, options: LeadsCsvOptions): void {
  const fd = openInputFile(file);
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const reader = new LeadsCsvReader(options);
    reader.write(buf.subarray(0, n));
    if (n < buf.length) reader.end();
  } catch (e) {
    if (e instanceof LeadsCsvError) throw new CliError(`cannot import ${file}: ${e.message}; nothing was imported`, EXIT.FAILED, 'INVALID_FILE');
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

interface ImportOptions extends CommonOptions {
  phoneColumn?: string;
  nameColumn?: string;
  idColumn?: string;
  delimiter?: ';' | ',' | 'tab';
  encoding?: CsvEncoding;
  strict?: boolean;
  batchSize: number;
  progressEvery: number;
  progress: boolean;
}

/** Rejected lines kept for the --json report (all are printed to stderr otherwise). */
const KEEP_IN_REPORT = 10_000;

interface Scan {
  format: LeadsCsvFormat | null;
  stats: LeadsCsvStats;
  rejected: LeadsCsvRejection[];
  batches: number;
  seconds: number;
}

/**
 * Streams the file through the reader: rejected lines go to stderr as they come (kept for
 * the --json report), leads go to `send` in batches, one batch in flight while the next is
 * read, so memory does not grow with the file.
 */
async function scanFile(
  file: string,
  options: LeadsCsvOptions,
  c: Ctx,
  progressEvery: number | null,
  send: ((rows: LeadRow[], index: number, fields: string[] | null) => Promise<void>) | null,
  batchSize: number,
  printLines = true,
): Promise<Scan> {
  const fd = openInputFile(file);
  const reader = new LeadsCsvReader(options);
  const scan: Scan = { format: null, stats: reader.stats, rejected: [], batches: 0, seconds: 0 };
  const started = Date.now();
  let nextProgress = progressEvery ?? Infinity;
  let batch: LeadRow[] = [];
  let inFlight: Promise<void> | null = null;
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    if (inFlight) await inFlight;
    if (send) inFlight = send(rows, scan.batches, reader.format?.fields.map((x) => x.key) ?? null);
    scan.batches++;
  };
  try {
    for await (const ev of reader.read(fs.createReadStream(file, { fd, highWaterMark: 64 * 1024 }))) {
      if (ev.kind === 'row') {
        batch.push(ev.row);
        if (batch.length >= batchSize) await flush();
      } else if (ev.kind === 'rejected') {
        if (scan.rejected.length < KEEP_IN_REPORT) scan.rejected.push(ev.rejection);
        if (printLines && !c.json) c.io.err(`line ${ev.rejection.line}: ${ev.rejection.reason}${ev.rejection.input ? ` ("${ev.rejection.input}")` : ''}`);
      } else if (printLines && !c.json) c.io.err(`line ${ev.warning.line}: ${ev.warning.message}`);
      if (reader.stats.physicalLines >= nextProgress) {
        nextProgress += progressEvery!;
        const s = reader.stats;
        c.io.err(`… ${s.physicalLines} lines read: ${s.rows} leads, ${s.rejected} rejected, ${s.duplicates} repeated (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
    await flush();
    if (inFlight) await inFlight;
  } catch (e) {
    if (inFlight) await (inFlight as Promise<void>).catch(() => undefined);
    if (e instanceof LeadsCsvError) throw new CliError(`cannot import ${file}: ${e.message}; nothing was imported`, EXIT.FAILED, 'INVALID_FILE');
    throw e;
  }
  scan.format = reader.format;
  scan.seconds = (Date.now() - started) / 1000;
  return scan;
}

interface Report {
  file: string;
  format: LeadsCsvFormat | null;
  physical_lines: number;
  lines_read: number;
  leads: number;
  rejected: number;
  duplicates_in_file: number;
  warnings: number;
  batches: number;
  seconds: number;
  rejected_lines: LeadsCsvRejection[];
}

function reportOf(file: string, scan: Scan): Report {
  const s = scan.stats;
  return {
    file,
    format: scan.format,
    physical_lines: s.physicalLines,
    lines_read: s.linesRead,
    leads: s.rows,
    rejected: s.rejected,
    duplicates_in_file: s.duplicates,
    warnings: s.warnings,
    batches: scan.batches,
    seconds: scan.seconds,
    rejected_lines: scan.rejected,
  };
}

function summaryLines(r: Report, totals: { inserted: number; updated: number; opted_out: number } | null): string[] {
  const f = r.format;
  const lines = f
    ? [
        `read ${r.file}: ${f.encoding}, separator ${f.delimiter === '\t' ? 'tab' : f.delimiter}; phone column "${f.phoneColumn.name}"` +
          `${f.nameColumn ? `, name "${f.nameColumn.name}"` : ''}${f.idColumn ? `, id "${f.idColumn.name}"` : ''}; fields: ${f.fields.map((x) => x.key).join(', ') || '(none)'}`,
      ]
    : [];
  const counts = `${r.lines_read} lines: ${r.leads} leads, ${r.rejected} rejected, ${r.duplicates_in_file} repeated in the file (merged)`;
  if (!totals) return [...lines, `${counts}; nothing was imported`];
  return [
    ...lines,
    `${counts}; ${totals.inserted} new leads, ${totals.updated} merged into existing leads, ${totals.opted_out} on the opt-out list (marked opted_out) in ${r.seconds.toFixed(1)} s`,
  ];
}

if (require.main === module) cliMain(run);
