/**
 * The service queues (docs/queue.md): where callers wait when no agent can take them.
 *   npm run queues -- list
 *   npm run queues -- show geral
 *   npm run queues -- set geral --announce-every 45 --max-wait 300 --on-max-wait both \
 *       --service-level 60 --callback-campaign retorno-geral --agents 3,7
 *   npm run queues -- set geral --agents all --callback-campaign none
 *   npm run queues -- stats --from 2026-11-01 --to 2026-12-01 [--queue geral]
 * `set` creates the queue when it does not exist. Every change goes through one SQL function
 * (queue_set in supabase/migrations/*_service_queue.sql), which refuses bad values with
 * nothing written. Service numbers: `npm run numbers -- set-service <number> --queue <name>`.
 */
import { Command, Option } from 'commander';
import { CliError, cliMain, ctxOf, emit, emitPlan, EXIT, openDb, positiveInt, rpcOrThrow, runProgram, withCommonOptions, type CommonOptions, type Env, type Io } from './lib/cli';
import type { QueueSettings } from '../src/lib/domain/queue';

const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

function queueName(v: string): string {
  if (!NAME.test(v)) throw new CliError(`queue name must be 1 to 40 of a-z, 0-9, _ and -, starting with a letter or digit, got "${v}"`, EXIT.USAGE, 'USAGE');
  return v;
}

function key(name: string) {
  return (v: string): string => {
    if (!/^[0-9]$/.test(v)) throw new CliError(`${name} must be one digit 0-9, got "${v}"`, EXIT.USAGE, 'USAGE');
    return v;
  };
}

function agentIds(v: string): number[] | null {
  if (v === 'all') return null;
  const ids = v.split(',').map((x) => x.trim());
  if (!ids.length || ids.some((x) => !/^[1-9][0-9]{0,15}$/.test(x))) {
    throw new CliError(`--agents must be "all" or agent ids separated by commas (e.g. 3,7), got "${v}"`, EXIT.USAGE, 'USAGE');
  }
  return ids.map(Number);
}

function day(name: string) {
  return (v: string): string => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00-03:00`))) {
      throw new CliError(`${name} must be a date YYYY-MM-DD, got "${v}"`, EXIT.USAGE, 'USAGE');
    }
    return v;
  };
}

type Listed = QueueSettings & { numbers: string[]; waiting: number };

function lines(q: QueueSettings & Partial<Listed>): string[] {
  return [
    `${q.name}${q.waiting !== undefined ? ` (${q.waiting} waiting)` : ''}`,
    `  announce every ${q.announce_every_seconds} s, max wait ${q.max_wait_seconds} s then ${q.on_max_wait}, service level ${q.service_level_seconds} s`,
    `  keys: callback ${q.callback ? q.callback_key : '(no callback campaign)'}, voicemail ${q.voicemail_key}; hold music ${q.hold_music}`,
    `  agents: ${q.agent_ids ? q.agent_ids.join(', ') : 'every routable agent'}; callbacks into campaign ${q.callback_campaign ?? '(none)'}`,
    ...(q.numbers ? [`  service numbers: ${q.numbers.length ? q.numbers.join(', ') : '(none)'}`] : []),
  ];
}

/** Runs the queues CLI with these arguments; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = new Command('queues').description('service queues: settings, service numbers, figures');
    const ctx = (opts: CommonOptions) => ctxOf({ env, io }, opts);

    withCommonOptions(program.command('list').description('every queue with its settings, service numbers and callers waiting now')).action(async (opts: CommonOptions) => {
      const c = ctx(opts);
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'queue_list', args: {} }]);
      const queues = await rpcOrThrow<Listed[]>(openDb(env), env, 'queue_list', {});
      emit(c, { queues }, () => (queues.length ? queues.flatMap(lines) : ['no queues']));
    });

    withCommonOptions(program.command('show').description('one queue').argument('<name>', 'the queue')).action(async (name: string, opts: CommonOptions) => {
      const c = ctx(opts);
      queueName(name);
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'queue_list', args: {} }]);
      const q = (await rpcOrThrow<Listed[]>(openDb(env), env, 'queue_list', {})).find((x) => x.name === name);
      if (!q) throw new CliError(`no queue named ${name} (npm run queues -- list)`, EXIT.FAILED, 'NOT_FOUND');
      emit(c, { queue: q }, () => lines(q));
    });

    withCommonOptions(
      program
        .command('set')
        .description('create a queue or change its settings (options left out keep their value)')
        .argument('<name>', 'the queue (a-z, 0-9, _ and -, up to 40)')
        .option('--announce-every <seconds>', 'seconds between announcements of position and wait (15-600)', positiveInt('--announce-every', 600))
        .option('--max-wait <seconds>', 'longest wait before the caller is offered a voicemail or callback (30-3600)', positiveInt('--max-wait', 3600))
        .addOption(new Option('--on-max-wait <what>', 'at the max wait').choices(['voicemail', 'callback', 'both']))
        .option('--service-level <seconds>', 'answered within this many seconds counts for the service level (5-3600)', positiveInt('--service-level', 3600))
        .option('--callback-key <digit>', 'the key for a callback (default 1)', key('--callback-key'))
        .option('--voicemail-key <digit>', 'the key for a voicemail (default 2)', key('--voicemail-key'))
        .option('--hold-music <path>', 'an asset path, e.g. /queue-music.wav')
        .option('--agents <ids|all>', 'agent ids who serve it (e.g. 3,7), or "all" (every routable agent)', agentIds)
        .option('--callback-campaign <name|none>', 'campaign that callback requests become leads of; "none" = no callbacks'),
    ).action(
      async (
        name: string,
        opts: CommonOptions & {
          announceEvery?: number; maxWait?: number; onMaxWait?: string; serviceLevel?: number; callbackKey?: string; voicemailKey?: string;
          holdMusic?: string; agents?: number[] | null; callbackCampaign?: string;
        },
      ) => {
        const c = ctx(opts);
        const p: Record<string, unknown> = { name: queueName(name) };
        if (opts.announceEvery !== undefined) p['announce_every_seconds'] = opts.announceEvery;
        if (opts.maxWait !== undefined) p['max_wait_seconds'] = opts.maxWait;
        if (opts.onMaxWait !== undefined) p['on_max_wait'] = opts.onMaxWait;
        if (opts.serviceLevel !== undefined) p['service_level_seconds'] = opts.serviceLevel;
        if (opts.callbackKey !== undefined) p['callback_key'] = opts.callbackKey;
        if (opts.voicemailKey !== undefined) p['voicemail_key'] = opts.voicemailKey;
        if (opts.holdMusic !== undefined) {
          if (!/^\/[A-Za-z0-9._/-]{1,200}$/.test(opts.holdMusic)) throw new CliError(`--hold-music must be an asset path like /queue-music.wav, got "${opts.holdMusic}"`, EXIT.USAGE, 'USAGE');
          p['hold_music'] = opts.holdMusic;
        }
        if (opts.agents !== undefined) p['agent_ids'] = opts.agents;
        if (opts.callbackCampaign !== undefined) p['callback_campaign'] = opts.callbackCampaign === 'none' ? null : opts.callbackCampaign;
        if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'queue_set', args: { p } }]);
        const q = await rpcOrThrow<QueueSettings>(openDb(env), env, 'queue_set', { p });
        emit(c, { queue: q }, () => lines(q));
      },
    );

    withCommonOptions(
      program
        .command('stats')
        .description('per queue and day (São Paulo): callers, answered, within the service level, abandoned, voicemail, callback, waits')
        .requiredOption('--from <date>', 'first day, YYYY-MM-DD', day('--from'))
        .requiredOption('--to <date>', 'day after the last, YYYY-MM-DD', day('--to'))
        .option('--queue <name>', 'one queue only', queueName),
    ).action(async (opts: CommonOptions & { from: string; to: string; queue?: string }) => {
      const c = ctx(opts);
      const args = { p_from: `${opts.from}T00:00:00-03:00`, p_to: `${opts.to}T00:00:00-03:00`, p_queue: opts.queue ?? null };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'queue_stats', args }]);
      const rows = await rpcOrThrow<Record<string, number | string | null>[]>(openDb(env), env, 'queue_stats', args);
      emit(c, { stats: rows }, () =>
        rows.length
          ? rows.map(
              (r) =>
                `${r['day']} ${r['queue_name']}: ${r['entered']} callers, ${r['answered']} answered (${r['answered_in_level']} within level), ` +
                `${r['abandoned']} abandoned, ${r['voicemail']} voicemail, ${r['callback']} callback, ${r['timeout']} max wait; ` +
                `avg wait ${r['avg_wait_seconds'] ?? '-'} s, service level ${r['service_level'] === null ? '-' : `${Math.round(Number(r['service_level']) * 1000) / 10}%`}`,
            )
          : ['no callers in that period'],
      );
    });

    return program;
  });
}

if (require.main === module) cliMain(run);
