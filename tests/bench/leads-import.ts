/**
 * `npm run bench:leads [-- --leads 100000,1000000]`: speed and memory of
 * `campaigns import-leads` against the local stack (an ephemeral one: real Postgres, real
 * PostgREST). For each size it writes an Excel pt-BR lead file (Windows-1252, `;`, accented
 * header, a name, CPF, amount, days overdue and a note per lead, 1 % bad lines, 1 % phones
 * repeated, 1 % already opted out), creates a campaign, and runs the real CLI import in a
 * fresh process sampling its RSS and heap; then counts the leads in the database. Flat
 * memory = the same peak for 100k and 1M leads. Target: 100,000 leads in under 30 s.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { Command } from 'commander';
import { startStackProcess } from '../helpers/stack';
import { sampleMemory } from './memory';

const DDDS = ['11', '21', '31', '41', '51', '61', '71', '81', '85', '91', '27', '48', '62', '65', '68', '92', '95', '96', '69', '63'];
const NAMES = ['João da Silva', 'Maria Conceição', 'José Araújo', 'Ana Lúcia Gonçalves', 'Antônio Pereira', 'Francisca Simões'];
const NOTES = ['cliente antigo', 'prefere ligação após 14h', 'negociação em andamento', '', 'pediu boleto'];

/** Latin-1 range text to Windows-1252 bytes (these letters are the same in both). */
const cp1252 = (s: string) => Buffer.from(s, 'latin1');

/** The mobile of lead i (distinct for every i below 10^8 per DDD). */
function mobile(i: number): string {
  const ddd = DDDS[i % DDDS.length]!;
  return `${ddd}9${String(Math.floor(i / DDDS.length)).padStart(8, '0')}`;
}

/** Writes the lead file chunk by chunk; returns the phones to put on the opt-out list. */
async function writeFile(file: string, leads: number): Promise<string[]> {
  const out = fs.createWriteStream(file);
  const write = (b: Buffer) => (out.write(b) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(cp1252('Nome;Telefone;CPF;Valor em aberto;Dias em atraso;Observação\r\n'));
  const optOuts: string[] = [];
  let chunk: string[] = [];
  for (let i = 0; i < leads; i++) {
    const m = mobile(i);
    let phone = i % 3 === 0 ? `(${m.slice(0, 2)}) ${m.slice(2, 7)}-${m.slice(7)}` : i % 3 === 1 ? `0${m.slice(0, 2)} ${m.slice(2)}` : `+55${m}`;
    if (i % 100 === 57) phone = '12345'; // 1 % bad lines
    if (i % 100 === 58) phone = mobile(i - 50); // 1 % repeats of an earlier lead
    if (i % 100 === 59) optOuts.push(`+55${m}`); // 1 % already opted out
    const cpf = String(100_000_000_00 + i).replace(/(\d{3})(\d{3})(\d{3})(\d{2})/, '$1.$2.$3-$4');
    chunk.push(`${NAMES[i % NAMES.length]};${phone};${cpf};"${(i % 5000) + 10},${String(i % 100).padStart(2, '0')}";${i % 120};${NOTES[i % NOTES.length]}`);
    if (chunk.length === 10_000) {
      await write(cp1252(chunk.join('\r\n') + '\r\n'));
      chunk = [];
    }
  }
  if (chunk.length) await write(cp1252(chunk.join('\r\n') + '\r\n'));
  await new Promise<void>((r) => out.end(() => r()));
  return optOuts;
}

interface ChildReport {
  peakRss: number;
  peakHeap: number;
  liveHeap: number;
  baseRss: number;
  seconds: number;
  code: number;
  result: { leads: number; rejected: number; inserted: number; updated: number; opted_out: number; duplicates_in_file: number; batches: number } | null;
  err: string;
}

/** In the child: the CLI import, its memory sampled. */
async function child(file: string, campaign: string): Promise<void> {
  const { run } = await import('../../scripts/campaigns');
  const memory = sampleMemory();
  const out: string[] = [];
  const err: string[] = [];
  const started = Date.now();
  const code = await run(['import-leads', campaign, file, '--json'], { ...process.env }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  const mem = memory.stop();
  let result: ChildReport['result'] = null;
  try {
    result = JSON.parse(out.join('\n')) as ChildReport['result'];
  } catch {
    result = null;
  }
  const report: ChildReport = { ...mem, seconds: (Date.now() - started) / 1000, code, result, err: err.join('\n').slice(0, 2000) };
  process.stdout.write(JSON.stringify(report) + '\n');
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--leads <n,...>', 'file sizes in leads', '100000')
    .option('--child <file>')
    .option('--campaign <id>')
    .parse(process.argv)
    .opts<{ leads: string; child?: string; campaign?: string }>();
  if (o.child) return child(o.child, o.campaign!);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leads-bench-'));
  console.log('starting an ephemeral local stack…');
  const stack = await startStackProcess();
  const db = new Client({ connectionString: stack.env.DATABASE_URL });
  await db.connect();
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  console.log('leads      file      time     rows/s   base RSS  peak RSS  peak heap  live heap  in db    summary');
  try {
    for (const leads of o.leads.split(',').map(Number)) {
      const file = path.join(dir, `leads-${leads}.csv`);
      const optOuts = await writeFile(file, leads);
      for (let i = 0; i < optOuts.length; i += 5000) {
        await db.query(`insert into opt_outs (phone_number, source) select unnest($1::text[]), 'import' on conflict do nothing`, [optOuts.slice(i, i + 5000)]);
      }
      const [{ id }] = (await db.query<{ id: string }>(`select (campaign_create(jsonb_build_object('name', 'Bench ' || $1::text || ' ' || clock_timestamp()::text)) ->> 'id') as id`, [leads])).rows as [{ id: string }];
      const stdout = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ['--expose-gc', ...process.execArgv, __filename, '--child', file, '--campaign', id], {
          env: { ...process.env, SUPABASE_URL: stack.env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let s = '';
        p.stdout.on('data', (c: Buffer) => (s += c.toString()));
        p.on('error', reject);
        p.on('close', () => resolve(s));
      });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport;
      if (r.code !== 0 || !r.result) throw new Error(`import exited ${r.code}: ${r.err}`);
      const [counts] = (await db.query<{ n: number; opted: number }>(`select count(*)::int as n, count(*) filter (where status = 'opted_out')::int as opted from leads where campaign_id = $1`, [id])).rows;
      const x = r.result;
      console.log(
        [
          String(leads).padEnd(10),
          mb(fs.statSync(file).size).padStart(6),
          `${r.seconds.toFixed(1)} s`.padStart(8),
          String(Math.round(leads / r.seconds)).padStart(9),
          mb(r.baseRss).padStart(9),
          mb(r.peakRss).padStart(9),
          mb(r.peakHeap).padStart(10),
          mb(r.liveHeap).padStart(10),
          String(counts!.n).padStart(8),
          `  ${x.leads} leads read, ${x.rejected} rejected, ${x.duplicates_in_file} repeated; ${x.inserted} new, ${x.updated} merged, ${x.opted_out} opted out (db: ${counts!.opted}); ${x.batches} batches`,
        ].join(' '),
      );
      fs.rmSync(file);
    }
  } finally {
    await db.end();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
