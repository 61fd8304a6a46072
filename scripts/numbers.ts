/**
 * Brazilian phone numbers of the Twilio account: search, buy, point at the
 * functions, list, sync into the phone_numbers pool, release.
 *   npm run numbers -- search --type mobile --area-code 11
 *   npm run numbers -- buy +5511912345678 --address-sid AD… --bundle-sid BU…
 *   npm run numbers -- point all
 *   npm run numbers -- sync
 *   npm run numbers -- flag-spam +5511912345678 --note "labelled by carrier X"
 *   npm run numbers -- unflag-spam +5511912345678
 *   npm run numbers -- set-cap +5511912345678 120
 *   npm run numbers -- set-cooldown +5511912345678 30
 */
import { Command, Option } from 'commander';
import type twilio from 'twilio';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  emitPlan,
  EXIT,
  checkUrl,
  openDb,
  phoneArg,
  positiveInt,
  requireEnv,
  rpcOrThrow,
  runProgram,
  twilioClient,
  twilioError,
  twilioSettings,
  twilioUrl,
  wireParams,
  type CommonOptions,
  type Ctx,
  type Env,
  type Io,
  type PlannedStep,
  type TwilioSettings,
  withCommonOptions,
} from './lib/cli';
import { smsUrl, statusCallbackUrl, voiceFallbackUrl, voiceInboundUrl } from '../src/lib/domain/callback-urls';

type NumberType = 'local' | 'mobile' | 'toll_free';
/** The fields of an AvailablePhoneNumbers Local/Mobile/TollFree result that `search` shows. */
interface AvailableNumber {
  phoneNumber: string;
  friendlyName: string;
  locality: string;
  region: string;
  addressRequirements: string;
  capabilities: object;
}
type IncomingNumber = Awaited<ReturnType<twilio.Twilio['incomingPhoneNumbers']['list']>>[number];

/** The phone_numbers.number_type of an E.164 number: +55 800 → toll_free, DDD + 9 digits starting 9 → mobile, other +55 → local; null outside Brazil. */
export function inferNumberType(e164: string): NumberType | null {
  if (!e164.startsWith('+55')) return null;
  const national = e164.slice(3);
  if (national.startsWith('800')) return 'toll_free';
  const subscriber = national.slice(2);
  return subscriber.length === 9 && subscriber.startsWith('9') ? 'mobile' : 'local';
}

/**
 * The webhook settings every number of the account gets (paths are part of the product's
 * contract, see the README's URL table): VoiceUrl, a VoiceFallbackUrl that answers without the database
 * (Twilio calls it when VoiceUrl fails or times out), a StatusCallback carrying Twilio's
 * retry fragment (see src/lib/domain/callback-urls.ts), and the SmsUrl that reads opt-out
 * words and keeps other messages for the team (SMS and WhatsApp).
 */
export function webhookParams(functionsBaseUrl: string) {
  const at = { baseUrl: functionsBaseUrl };
  return {
    voiceUrl: voiceInboundUrl(at),
    voiceMethod: 'POST',
    voiceFallbackUrl: voiceFallbackUrl(at),
    voiceFallbackMethod: 'POST',
    statusCallback: statusCallbackUrl(at),
    statusCallbackMethod: 'POST',
    smsUrl: smsUrl(at),
    smsMethod: 'POST',
  };
}

function functionsBaseUrl(env: Env): string {
  const url = requireEnv(env, 'FUNCTIONS_BASE_URL', 'where the deployed functions answer, e.g. https://discador-1234-dev.twil.io');
  checkUrl('FUNCTIONS_BASE_URL', url);
  return url.replace(/\/+$/, '');
}

const SEARCH_TYPES = { local: 'Local', mobile: 'Mobile', 'toll-free': 'TollFree' } as const;
type SearchType = keyof typeof SEARCH_TYPES;

/** One owned number as `list` / `sync` report it. */
export interface OwnedNumber {
  sid: string;
  phone_number: string;
  friendly_name: string;
  number_type: NumberType | null;
  voice_url: string | null;
  voice_fallback_url: string | null;
  sms_url: string | null;
  status_callback: string | null;
  pointed?: boolean;
}

function owned(n: IncomingNumber, base?: string): OwnedNumber {
  const row: OwnedNumber = {
    sid: n.sid,
    phone_number: n.phoneNumber,
    friendly_name: n.friendlyName,
    number_type: inferNumberType(n.phoneNumber),
    voice_url: n.voiceUrl || null,
    voice_fallback_url: n.voiceFallbackUrl || null,
    sms_url: n.smsUrl || null,
    status_callback: n.statusCallback || null,
  };
  if (base) {
    const w = webhookParams(base);
    row.pointed = n.voiceUrl === w.voiceUrl && n.voiceFallbackUrl === w.voiceFallbackUrl && n.statusCallback === w.statusCallback && n.smsUrl === w.smsUrl;
  }
  return row;
}

async function findOwned(client: twilio.Twilio, s: TwilioSettings, e164: string): Promise<IncomingNumber> {
  const found = (await client.incomingPhoneNumbers.list({ phoneNumber: e164 })).find((n) => n.phoneNumber === e164);
  if (!found) throw new CliError(`${e164} is not a number of account ${s.accountSid} (see \`numbers list\`)`, EXIT.FAILED, 'NOT_FOUND');
  return found;
}

function incomingUrl(s: TwilioSettings, sid = ''): string {
  return twilioUrl(s, `/Accounts/${s.accountSid}/IncomingPhoneNumbers${sid ? '/' + sid : ''}.json`);
}

/** What `caller_id_configure` may change on one number. */
interface RotationSettings {
  spam?: boolean;
  spam_note?: string;
  daily_cap?: number;
  cooldown_seconds?: number;
}

/** A number's rotation settings as `caller_id_configure` returns them. */
export interface RotationState {
  phone_number: string;
  ddd: number | null;
  is_active: boolean;
  dedicated_to_agent: boolean;
  daily_cap: number;
  cooldown_seconds: number;
  spam_flagged_at: string | null;
  spam_note: string | null;
  calls_today: number;
}

function rotationLine(r: RotationState): string {
  const state = !r.is_active ? 'inactive' : r.dedicated_to_agent ? 'dedicated to an agent' : r.spam_flagged_at ? `flagged as spam since ${r.spam_flagged_at}` : 'in rotation';
  return `  ${state}; cap ${r.daily_cap}/day (${r.calls_today} today), cool-down ${r.cooldown_seconds} s${r.spam_note ? `; note: ${r.spam_note}` : ''}`;
}

/** Runs the numbers CLI with these arguments; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = new Command('numbers').description("the Twilio account's Brazilian phone numbers and the phone_numbers pool");
    const ctx = (opts: CommonOptions): Ctx => ctxOf({ env, io }, opts);

    // search ----------------------------------------------------------------------------
    withCommonOptions(
      program
        .command('search')
        .description('search Brazilian numbers available to buy (voice-enabled)')
        .addOption(new Option('--type <type>', 'kind of number').choices(Object.keys(SEARCH_TYPES)).default('local'))
        .option('--area-code <ddd>', 'two-digit DDD, e.g. 11 (sent to Twilio as Contains=+55<DDD>)')
        .option('--contains <pattern>', 'Twilio Contains pattern (digits, letters, * for one digit); not with --area-code')
        .option('--limit <n>', 'how many to show (1-100)', positiveInt('--limit', 100), 20),
    ).action(async (opts: CommonOptions & { type: SearchType; areaCode?: string; contains?: string; limit: number }) => {
      const c = ctx(opts);
      const { type, areaCode, contains, limit } = opts;
      if (areaCode !== undefined && !/^[1-9]{2}$/.test(areaCode)) {
        throw new CliError(`--area-code must be a two-digit Brazilian DDD such as 11 or 21, got "${areaCode}"`, EXIT.USAGE, 'USAGE');
      }
      if (areaCode !== undefined && type === 'toll-free') throw new CliError('toll-free numbers (0800) have no area code', EXIT.USAGE, 'USAGE');
      if (areaCode !== undefined && contains !== undefined) {
        throw new CliError('Twilio takes one Contains pattern: use --area-code or --contains, not both (e.g. --contains +551199*)', EXIT.USAGE, 'USAGE');
      }
      if (contains !== undefined && !/^\+?[0-9A-Za-z*%$]{2,16}$/.test(contains)) {
        throw new CliError(`--contains must be 2-16 characters of digits, letters, *, % or $, got "${contains}"`, EXIT.USAGE, 'USAGE');
      }
      const pattern = areaCode !== undefined ? `+55${areaCode}` : contains;
      const query = { voiceEnabled: true, contains: pattern, pageSize: limit };
      const s = twilioSettings(env, { dryRun: c.dryRun });
      if (c.dryRun) {
        emitPlan(c, [{ kind: 'rest', method: 'GET', url: twilioUrl(s, `/Accounts/${s.accountSid}/AvailablePhoneNumbers/BR/${SEARCH_TYPES[type]}.json`), params: wireParams(query) }]);
        return;
      }
      let found: AvailableNumber[];
      try {
        const list = twilioClient(s).availablePhoneNumbers('BR');
        const q = { voiceEnabled: true, contains: pattern, limit };
        found = type === 'mobile' ? await list.mobile.list(q) : type === 'toll-free' ? await list.tollFree.list(q) : await list.local.list(q);
      } catch (e) {
        throw twilioError(e, s);
      }
      const numbers = found
        // Contains is a pattern match; keep only the asked DDD whatever the matcher did.
        .filter((n) => areaCode === undefined || n.phoneNumber.startsWith(`+55${areaCode}`))
        .map((n) => ({
          phone_number: n.phoneNumber,
          friendly_name: n.friendlyName,
          number_type: inferNumberType(n.phoneNumber),
          locality: n.locality ?? null,
          region: n.region ?? null,
          address_requirements: n.addressRequirements ?? null,
          capabilities: n.capabilities,
        }));
      emit(c, { numbers }, () =>
        numbers.length
          ? numbers.map((n) => `${n.phone_number}  ${String(n.number_type).padEnd(9)}  ${[n.locality, n.region].filter(Boolean).join(' / ')}  address: ${n.address_requirements ?? '?'}`)
          : ['no numbers available for this search'],
      );
    });

    // buy -------------------------------------------------------------------------------
    withCommonOptions(
      program
        .command('buy')
        .description('buy a number; when FUNCTIONS_BASE_URL is set it is pointed at the functions in the same request')
        .argument('<number>', 'the number to buy, e.g. +5511912345678 or "(11) 91234-5678"')
        .option('--address-sid <AD…>', 'Address the number is registered to (Brazil requires one for most types)')
        .option('--bundle-sid <BU…>', 'approved regulatory Bundle (Brazil requires one for some types)')
        .option('--friendly-name <name>', 'label shown in the Console')
        .option('--no-point', 'do not set the webhooks now (run `numbers point` later)'),
    ).action(async (number: string, opts: CommonOptions & { addressSid?: string; bundleSid?: string; friendlyName?: string; point: boolean }) => {
      const c = ctx(opts);
      const e164 = phoneArg(number);
      if (opts.addressSid !== undefined && !/^AD[0-9a-fA-F]{32}$/.test(opts.addressSid)) {
        throw new CliError(`--address-sid must be "AD" followed by 32 hex digits, got "${opts.addressSid}"`, EXIT.USAGE, 'USAGE');
      }
      if (opts.bundleSid !== undefined && !/^BU[0-9a-fA-F]{32}$/.test(opts.bundleSid)) {
        throw new CliError(`--bundle-sid must be "BU" followed by 32 hex digits, got "${opts.bundleSid}"`, EXIT.USAGE, 'USAGE');
      }
      const hooks = opts.point && env.FUNCTIONS_BASE_URL?.trim() ? webhookParams(functionsBaseUrl(env)) : {};
      const params = { phoneNumber: e164, addressSid: opts.addressSid, bundleSid: opts.bundleSid, friendlyName: opts.friendlyName, ...hooks };
      const s = twilioSettings(env, { dryRun: c.dryRun });
      if (c.dryRun) {
        emitPlan(c, [{ kind: 'rest', method: 'POST', url: incomingUrl(s), params: wireParams(params) }]);
        return;
      }
      let bought: IncomingNumber;
      try {
        bought = await twilioClient(s).incomingPhoneNumbers.create(params);
      } catch (e) {
        throw twilioError(e, s);
      }
      const row = owned(bought, 'voiceUrl' in hooks ? functionsBaseUrl(env) : undefined);
      emit(c, { bought: row }, () => [
        `bought ${row.phone_number} (${row.sid})`,
        row.pointed ? `webhooks set: voice ${row.voice_url}` : 'webhooks not set: run `numbers point` when FUNCTIONS_BASE_URL is known',
        'run `numbers sync` to add it to the phone_numbers pool',
      ]);
    });

    // point -----------------------------------------------------------------------------
    withCommonOptions(
      program
        .command('point')
        .description('set VoiceUrl, VoiceFallbackUrl, StatusCallback and SmsUrl (all POST) to the functions at FUNCTIONS_BASE_URL')
        .argument('<number|all>', 'one number of the account, or "all"'),
    ).action(async (target: string, opts: CommonOptions) => {
      const c = ctx(opts);
      const all = target.toLowerCase() === 'all';
      const e164 = all ? undefined : phoneArg(target);
      const hooks = webhookParams(functionsBaseUrl(env));
      const s = twilioSettings(env, { dryRun: c.dryRun });
      if (c.dryRun) {
        emitPlan(c, [
          { kind: 'rest', method: 'GET', url: incomingUrl(s), params: e164 ? { PhoneNumber: e164 } : {}, note: 'find the number SID(s)' },
          { kind: 'rest', method: 'POST', url: incomingUrl(s, '{PN sid}'), params: wireParams(hooks), note: all ? 'for each number' : undefined },
        ]);
        return;
      }
      const client = twilioClient(s);
      let targets: IncomingNumber[];
      try {
        targets = e164 ? [await findOwned(client, s, e164)] : await client.incomingPhoneNumbers.list();
      } catch (e) {
        throw twilioError(e, s);
      }
      // A service number keeps its VoiceUrl /voice/service (set-service): the pool says which
      // numbers are. Without the database (SUPABASE_URL unset) every number gets /voice/inbound,
      // which also sends a service number nobody owns to its queue.
      const serviceQueue = new Map<string, string>();
      if (env.SUPABASE_URL?.trim()) {
        const db = openDb(env);
        for (const n of targets) {
          const q = await rpcOrThrow<string | null>(db, env, 'phone_number_service_queue', { p_number: n.phoneNumber });
          if (q) serviceQueue.set(n.phoneNumber, q);
        }
      }
      const serviceUrl = `${functionsBaseUrl(env)}/voice/service`;
      const results: { sid: string; phone_number: string; ok: boolean; voice_url?: string; error?: string }[] = [];
      for (const n of targets) {
        const voiceUrl = serviceQueue.has(n.phoneNumber) ? serviceUrl : hooks.voiceUrl;
        try {
          await client.incomingPhoneNumbers(n.sid).update({ ...hooks, voiceUrl });
          results.push({ sid: n.sid, phone_number: n.phoneNumber, ok: true, ...(voiceUrl === hooks.voiceUrl ? {} : { voice_url: voiceUrl }) });
        } catch (e) {
          results.push({ sid: n.sid, phone_number: n.phoneNumber, ok: false, error: twilioError(e, s).message });
        }
      }
      emit(c, { webhooks: hooks, numbers: results }, () =>
        results.length
          ? results.map((r) => (r.ok ? `pointed ${r.phone_number} → ${r.voice_url ?? hooks.voiceUrl}` : `FAILED  ${r.phone_number}: ${r.error}`))
          : [`account ${s.accountSid} has no numbers`],
      );
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new CliError(`${failed.length} of ${results.length} numbers could not be pointed`, EXIT.FAILED, 'PARTIAL');
    });

    // list ------------------------------------------------------------------------------
    withCommonOptions(program.command('list').description("the account's numbers and where their webhooks point")).action(async (opts: CommonOptions) => {
      const c = ctx(opts);
      const s = twilioSettings(env, { dryRun: c.dryRun });
      if (c.dryRun) {
        emitPlan(c, [{ kind: 'rest', method: 'GET', url: incomingUrl(s), params: {} }]);
        return;
      }
      let numbers: OwnedNumber[];
      try {
        const base = env.FUNCTIONS_BASE_URL?.trim() ? functionsBaseUrl(env) : undefined;
        numbers = (await twilioClient(s).incomingPhoneNumbers.list()).map((n) => owned(n, base));
      } catch (e) {
        throw twilioError(e, s);
      }
      emit(c, { numbers }, () =>
        numbers.length
          ? numbers.map(
              (n) =>
                `${n.phone_number}  ${n.sid}  ${String(n.number_type).padEnd(9)}  ${n.pointed === undefined ? '' : n.pointed ? 'pointed  ' : 'NOT pointed  '}voice: ${n.voice_url ?? '-'}`,
            )
          : [`account ${s.accountSid} has no numbers`],
      );
    });

    // sync ------------------------------------------------------------------------------
    withCommonOptions(
      program.command('sync').description("make the phone_numbers pool match the account's numbers (numbers gone from Twilio become inactive)"),
    ).action(async (opts: CommonOptions) => {
      const c = ctx(opts);
      const s = twilioSettings(env, { dryRun: c.dryRun });
      if (c.dryRun) {
        emitPlan(c, [
          { kind: 'rest', method: 'GET', url: incomingUrl(s), params: {} },
          { kind: 'rpc', fn: 'sync_phone_numbers', args: { p_account_sid: s.accountSid, p_numbers: '[{sid, phone_number, friendly_name, number_type} for each number listed]' } },
        ]);
        return;
      }
      const db = openDb(env);
      let numbers: OwnedNumber[];
      try {
        numbers = (await twilioClient(s).incomingPhoneNumbers.list()).map((n) => owned(n));
      } catch (e) {
        throw twilioError(e, s);
      }
      const payload = numbers.map((n) => ({ sid: n.sid, phone_number: n.phone_number, friendly_name: n.friendly_name, number_type: n.number_type }));
      const counts = await rpcOrThrow<{ inserted: number; updated: number; deactivated: number }>(db, env, 'sync_phone_numbers', {
        p_account_sid: s.accountSid.toLowerCase().replace(/^ac/, 'AC'),
        p_numbers: payload,
      });
      emit(c, { account_sid: s.accountSid, numbers: payload, ...counts }, () => [
        `${numbers.length} numbers on Twilio account ${s.accountSid}: ${counts.inserted} added to the pool, ${counts.updated} updated, ${counts.deactivated} deactivated`,
      ]);
    });

    // release ---------------------------------------------------------------------------
    withCommonOptions(
      program
        .command('release')
        .description('give a number back to Twilio (permanent; you may never get it again)')
        .argument('<number>', 'the number to release')
        .option('--yes', 'confirm the release'),
    ).action(async (number: string, opts: CommonOptions & { yes?: boolean }) => {
      const c = ctx(opts);
      const e164 = phoneArg(number);
      const s = twilioSettings(env, { dryRun: c.dryRun });
      if (c.dryRun) {
        const steps: PlannedStep[] = [
          { kind: 'rest', method: 'GET', url: incomingUrl(s), params: { PhoneNumber: e164 }, note: 'find the number SID' },
          { kind: 'rest', method: 'DELETE', url: incomingUrl(s, '{PN sid}'), params: {} },
        ];
        emitPlan(c, steps);
        return;
      }
      if (!opts.yes) {
        throw new CliError(`releasing ${e164} gives it back to Twilio and cannot be undone: pass --yes to confirm (or --dry-run to see the requests)`, EXIT.USAGE, 'CONFIRM');
      }
      const client = twilioClient(s);
      let sid: string;
      try {
        sid = (await findOwned(client, s, e164)).sid;
        await client.incomingPhoneNumbers(sid).remove();
      } catch (e) {
        throw twilioError(e, s);
      }
      emit(c, { released: { sid, phone_number: e164 } }, () => [
        `released ${e164} (${sid})`,
        'run `numbers sync` to mark it inactive in the phone_numbers pool',
      ]);
    });

    // rotation settings -----------------------------------------------------------------
    // What the caller-ID rotation may do with one pool number (SQL caller_id_configure).
    const configure = async (c: Ctx, number: string, settings: RotationSettings, done: (r: RotationState) => string): Promise<void> => {
      const e164 = phoneArg(number);
      const args = { p_phone_number: e164, p_settings: settings };
      if (c.dryRun) {
        emitPlan(c, [{ kind: 'rpc', fn: 'caller_id_configure', args }]);
        return;
      }
      const r = await rpcOrThrow<RotationState | { error: 'not_in_pool' | 'invalid_settings' }>(openDb(env), env, 'caller_id_configure', args);
      if ('error' in r) {
        throw r.error === 'not_in_pool'
          ? new CliError(`${e164} is not in the phone_numbers pool (run \`numbers sync\` after buying it)`, EXIT.FAILED, 'NOT_IN_POOL')
          : new CliError(`the database refused the settings ${JSON.stringify(settings)}`, EXIT.USAGE, 'INVALID_SETTINGS');
      }
      emit(c, { number: r }, () => [done(r), rotationLine(r)]);
    };

    withCommonOptions(
      program
        .command('flag-spam')
        .description('take a number out of caller-ID rotation because carriers label it as spam (a caller ID asked for by name is refused too)')
        .argument('<number>', 'a number of the pool')
        .option('--note <text>', 'why (who reported it, which app labels it), up to 200 characters'),
    ).action(async (number: string, opts: CommonOptions & { note?: string }) => {
      if (opts.note !== undefined && (opts.note.trim().length === 0 || opts.note.length > 200)) {
        throw new CliError('--note must be 1 to 200 characters', EXIT.USAGE, 'USAGE');
      }
      await configure(ctx(opts), number, { spam: true, ...(opts.note !== undefined ? { spam_note: opts.note.trim() } : {}) }, (r) => `${r.phone_number} flagged as spam: out of rotation`);
    });

    withCommonOptions(
      program.command('unflag-spam').description('put a spam-flagged number back in caller-ID rotation').argument('<number>', 'a number of the pool'),
    ).action(async (number: string, opts: CommonOptions) => {
      await configure(ctx(opts), number, { spam: false }, (r) => `${r.phone_number} back in rotation`);
    });

    withCommonOptions(
      program
        .command('set-cap')
        .description("a number's daily cap: calls per São Paulo day it may be the caller ID of")
        .argument('<number>', 'a number of the pool')
        .argument('<calls>', 'calls per day (1-100000; carriers tend to label numbers past ~150-200 a day)'),
    ).action(async (number: string, calls: string, opts: CommonOptions) => {
      const n = positiveInt('<calls>', 100_000)(calls);
      await configure(ctx(opts), number, { daily_cap: n }, (r) => `${r.phone_number} daily cap set to ${r.daily_cap}`);
    });

    withCommonOptions(
      program
        .command('set-cooldown')
        .description('the least time between two calls from a number')
        .argument('<number>', 'a number of the pool')
        .argument('<seconds>', 'seconds (0-86400; 0 = no cool-down)'),
    ).action(async (number: string, seconds: string, opts: CommonOptions) => {
      const s = Number(seconds);
      if (!/^\d+$/.test(seconds) || s > 86_400) throw new CliError(`<seconds> must be a whole number from 0 to 86400, got "${seconds}"`, EXIT.USAGE, 'USAGE');
      await configure(ctx(opts), number, { cooldown_seconds: s }, (r) => `${r.phone_number} cool-down set to ${r.cooldown_seconds} s`);
    });

    // service numbers --------------------------------------------------------------------
    // A service number's calls wait in a service queue: the pool row names the queue
    // (phone_number_set_service, checked first: nothing is changed on Twilio for an unknown
    // number or queue) and Twilio's VoiceUrl becomes /voice/service (fallback and status
    // callback as `point` sets them). `--queue none` makes it an ordinary number again
    // (VoiceUrl /voice/inbound).
    withCommonOptions(
      program
        .command('set-service')
        .description("make a number a service number: its calls hear the disclaimer and wait in a service queue (VoiceUrl /voice/service)")
        .argument('<number>', 'a number of the account and of the pool')
        .requiredOption('--queue <name>', 'the service queue (see `npm run queues -- list`), or "none" to undo'),
    ).action(async (number: string, opts: CommonOptions & { queue: string }) => {
      const c = ctx(opts);
      const e164 = phoneArg(number);
      const queue = opts.queue === 'none' ? null : opts.queue;
      if (queue !== null && !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(queue)) {
        throw new CliError(`--queue must be a queue name (a-z, 0-9, _ and -, up to 40) or "none", got "${opts.queue}"`, EXIT.USAGE, 'USAGE');
      }
      const hooks = webhookParams(functionsBaseUrl(env));
      const voiceUrl = queue === null ? hooks.voiceUrl : `${functionsBaseUrl(env)}/voice/service`;
      const twilioHooks = { ...hooks, voiceUrl };
      const s = twilioSettings(env, { dryRun: c.dryRun });
      const args = { p_number: e164, p_queue: queue };
      if (c.dryRun) {
        emitPlan(c, [
          { kind: 'rpc', fn: 'phone_number_set_service', args },
          { kind: 'rest', method: 'GET', url: incomingUrl(s), params: { PhoneNumber: e164 }, note: 'find the number SID' },
          { kind: 'rest', method: 'POST', url: incomingUrl(s, '{PN sid}'), params: wireParams(twilioHooks) },
        ]);
        return;
      }
      const client = twilioClient(s);
      let sid: string;
      try {
        sid = (await findOwned(client, s, e164)).sid;
      } catch (e) {
        throw twilioError(e, s);
      }
      const row = await rpcOrThrow<{ phone_number: string; service_queue: string | null }>(openDb(env), env, 'phone_number_set_service', args);
      try {
        await client.incomingPhoneNumbers(sid).update(twilioHooks);
      } catch (e) {
        throw twilioError(e, s);
      }
      emit(c, { number: { ...row, sid, voice_url: voiceUrl } }, () => [
        queue === null ? `${e164} is no longer a service number: VoiceUrl ${voiceUrl}` : `${e164} serves queue ${queue}: VoiceUrl ${voiceUrl}`,
      ]);
    });

    return program;
  });
}

if (require.main === module) cliMain(run);
