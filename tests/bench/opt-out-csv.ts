/**
 * `npx tsx tests/bench/opt-out-csv.ts [--lines 1000000,100000]`: memory of `opt-out import`
 * on big files. For each size it writes an Excel pt-BR style file (Windows-1252, `;`,
 * "Número;Observação", a mix of the formats spreadsheets hold, 1 % bad lines, some old
 * 8-digit mobiles), then runs the real CLI import in a fresh process against a loopback
 * stand-in for PostgREST that answers every opt_out_import batch, sampling the process's
 * RSS and heap while it reads. Flat memory = the same peak for 100k and 1M lines.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { sampleMemory } from './memory';

const DDDS = ['11', '21', '31', '41', '51', '61', '71', '81', '85', '91'];
const REASONS = ['não ligar', 'pediu para sair', 'cobrança indevida', 'reclamação no Procon', ''];

/** Latin-1 range text to Windows-1252 bytes (the reasons above use only letters both share). */
const cp1252 = (s: string) => Buffer.from(s, 'latin1');

/** Writes `lines` data lines, chunk by chunk (the generator does not hold the file either). */
async function writeFile(file: string, lines: number): Promise<void> {
  const out = fs.createWriteStream(file);
  const write = (b: Buffer) => (out.write(b) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(cp1252('Número;Observação\r\n'));
  let chunk: string[] = [];
  for (let i = 0; i < lines; i++) {
    const ddd = DDDS[i % DDDS.length]!;
    const n = String(i).padStart(8, '0');
    let phone: string;
    switch (i % 10) {
      case 0:
        phone = `(${ddd}) 9${n.slice(0, 4)}-${n.slice(4)}`;
        break;
      case 1:
        phone = `0${ddd} 9 ${n}`;
        break;
      case 2:
        phone = `+55 ${ddd} 9${n}`;
        break;
      case 3:
        phone = `"0xx${ddd} 9${n.slice(0, 4)}-${n.slice(4)}"`;
        break;
      case 4:
        phone = `${ddd} 8${n.slice(1, 4)}-${n.slice(4)}`; // old 8-digit mobile
        break;
      default:
        phone = `55${ddd}9${n}`;
    }
    if (i % 100 === 99) phone = '12345'; // 1 % bad lines
    chunk.push(`${phone};${REASONS[i % REASONS.length]}`);
    if (chunk.length === 10_000) {
      await write(cp1252(chunk.join('\r\n') + '\r\n'));
      chunk = [];
    }
  }
  if (chunk.length) await write(cp1252(chunk.join('\r\n') + '\r\n'));
  await new Promise<void>((r) => out.end(() => r()));
}

/** A loopback stand-in for PostgREST's /rpc/opt_out_import: counts rows, answers like the SQL function. */
async function fakePostgrest(): Promise<{ url: string; rows: () => number; close: () => Promise<void> }> {
  let rows = 0;
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { p_rows: unknown[] };
      const n = body.p_rows.length;
      rows += n;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: n, distinct: n, added: n, already_listed: 0 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, rows: () => rows, close: () => new Promise((r) => server.close(() => r())) };
}

interface ChildReport {
  peakRss: number;
  peakHeap: number;
  liveHeap: number;
  baseRss: number;
  seconds: number;
  code: number;
  summary: string;
}

/** In the child: run the CLI import, sampling memory every 20 ms. */
async function child(file: string): Promise<void> {
  const { run } = await import('../../scripts/opt-out');
  const memory = sampleMemory();
  const out: string[] = [];
  const started = Date.now();
  const code = await run(['import', file, '--no-progress'], { ...process.env, USER: 'bench' }, { out: (l) => out.push(l), err: () => {} });
  const report: ChildReport = { ...memory.stop(), seconds: (Date.now() - started) / 1000, code, summary: out.at(-1) ?? '' };
  process.stdout.write(JSON.stringify(report) + '\n');
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--lines <n,...>', 'file sizes in data lines', '100000,1000000')
    .option('--heap-limit <MB>', "V8's old-space limit for the import process (--max-old-space-size)")
    .option('--child <file>')
    .parse(process.argv)
    .opts<{ lines: string; heapLimit?: string; child?: string }>();
  if (o.child) return child(o.child);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-bench-'));
  const api = await fakePostgrest();
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  console.log(`heap limit: ${o.heapLimit ? `${o.heapLimit} MB` : "V8's default"}`);
  console.log('lines      file      time    lines/s   base RSS  peak RSS  peak heap  live heap  summary');
  try {
    for (const lines of o.lines.split(',').map(Number)) {
      const file = path.join(dir, `lista-${lines}.csv`);
      await writeFile(file, lines);
      const before = api.rows();
      const stdout = await new Promise<string>((resolve, reject) => {
        const v8 = ['--expose-gc', ...(o.heapLimit ? [`--max-old-space-size=${o.heapLimit}`] : [])];
        const p = spawn(process.execPath, [...v8, ...process.execArgv, __filename, '--child', file], {
          env: { ...process.env, SUPABASE_URL: api.url, SUPABASE_SERVICE_ROLE_KEY: 'bench' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let s = '';
        p.stdout.on('data', (c: Buffer) => (s += c.toString()));
        p.on('error', reject);
        p.on('close', () => resolve(s));
      });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport;
      if (r.code !== 0) throw new Error(`import exited ${r.code}: ${r.summary}`);
      console.log(
        [
          String(lines).padEnd(10),
          mb(fs.statSync(file).size).padStart(6),
          `${r.seconds.toFixed(1)} s`.padStart(8),
          String(Math.round(lines / r.seconds)).padStart(9),
          mb(r.baseRss).padStart(9),
          mb(r.peakRss).padStart(9),
          mb(r.peakHeap).padStart(10),
          mb(r.liveHeap).padStart(10),
          ` ${r.summary} (stand-in received ${api.rows() - before} rows)`,
        ].join(' '),
      );
      fs.rmSync(file);
    }
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
