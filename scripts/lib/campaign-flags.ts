/**
 * The campaign settings as command-line flags (create and update share them): each flag
 * writes one or a few settings of src/lib/domain/campaigns.ts, and a --settings JSON file
 * may give any of them (flags win). Checking the values is the shared schema's job; these
 * parsers only turn words into values and refuse what cannot be read.
 */
import fs from 'node:fs';
import { Command, Option } from 'commander';
import {
  ABANDON_TREATMENTS,
  AMD_MACHINE_ACTIONS,
  AMD_UNKNOWN_ACTIONS,
  CALLER_ID_STRATEGIES,
  CAMPAIGN_KINDS,
  CAMPAIGN_MODES,
  DISPOSITION_OUTCOMES,
  PACING_BEHAVIOURS,
  RETRY_OUTCOMES,
  WINDOW_PROFILES,
  type CampaignSettings,
} from '../../src/lib/domain/campaigns';
import { CliError, EXIT } from './cli';

const usage = (message: string) => new CliError(message, EXIT.USAGE, 'USAGE');

/** A number, or a percentage ("3%" → 0.03). */
function fraction(name: string) {
  return (v: string): number => {
    const m = /^\s*(\d+(?:[.,]\d+)?)\s*(%?)\s*$/.exec(v);
    if (!m) throw usage(`${name} must be a number or a percentage, got "${v}"`);
    const n = Number(m[1]!.replace(',', '.'));
    return m[2] ? n / 100 : n;
  };
}

function num(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(',', '.'));
    if (v.trim() === '' || !Number.isFinite(n)) throw usage(`${name} must be a number, got "${v}"`);
    return n;
  };
}

/** "08:00-20:00" → the pair; "closed" → nulls. */
export function hoursArg(name: string) {
  return (v: string): [string, string] | null => {
    if (/^\s*(closed|fechado|none)\s*$/i.test(v)) return null;
    const m = /^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/.exec(v);
    if (!m) throw usage(`${name} must be HH:MM-HH:MM or closed, got "${v}"`);
    const pad = (t: string) => t.padStart(5, '0');
    return [pad(m[1]!), pad(m[2]!)];
  };
}

/** Minutes from "30", "30m", "2h" or "1d". */
function minutes(v: string): number | null {
  const m = /^(\d+)\s*(m|min|h|d)?$/i.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'm').toLowerCase();
  return unit === 'h' ? n * 60 : unit === 'd' ? n * 1440 : n;
}

/** "busy=30m:3" → ['busy', {delay_minutes: 30, max: 3}], collected. */
export function retryArg(v: string, previous: Record<string, { delay_minutes: number; max: number }> = {}) {
  const m = /^\s*([a-z_]+)\s*=\s*([^:]+):\s*(\d+)\s*$/.exec(v);
  const outcome = m?.[1];
  if (!m || !outcome || !(RETRY_OUTCOMES as readonly string[]).includes(outcome)) {
    throw usage(`--retry must be OUTCOME=DELAY:MAX with OUTCOME one of ${RETRY_OUTCOMES.join(', ')} (e.g. busy=30m:3), got "${v}"`);
  }
  const delay = minutes(m[2]!);
  if (delay === null) throw usage(`--retry delay must be minutes, or a number with m, h or d (e.g. 30m, 2h), got "${m[2]}"`);
  return { ...previous, [outcome]: { delay_minutes: delay, max: Number(m[3]) } };
}

/** "promessa:Promessa de pagamento:done" → one disposition, collected. */
export function dispositionArg(v: string, previous: { code: string; label: string; outcome: string }[] = []) {
  const parts = v.split(':');
  const outcome = parts.pop()?.trim() ?? '';
  const code = parts.shift()?.trim() ?? '';
  const label = parts.join(':').trim();
  if (!code || !label || !(DISPOSITION_OUTCOMES as readonly string[]).includes(outcome)) {
    throw usage(`--disposition must be CODE:LABEL:OUTCOME with OUTCOME one of ${DISPOSITION_OUTCOMES.join(', ')}, got "${v}"`);
  }
  return [...previous, { code, label, outcome }];
}

/** Adds every settings flag to a create/update command. */
export function withSettingsOptions(cmd: Command): Command {
  return cmd
    .option('--settings <file.json>', 'settings as a JSON object (column names, see docs/campaigns.md); flags override it')
    .addOption(new Option('--kind <kind>', 'what the campaign is for').choices([...CAMPAIGN_KINDS]))
    .addOption(new Option('--mode <mode>', 'preview (agent asks), power (fixed ratio) or predictive').choices([...CAMPAIGN_MODES]))
    .addOption(new Option('--ratio <n>', 'power mode: lines per available agent (1-10)').argParser(num('--ratio')))
    .addOption(new Option('--behaviour <b>', 'predictive mode: how pacing adapts to the abandon rate').choices([...PACING_BEHAVIOURS]))
    .addOption(new Option('--abandon-cap <rate>', 'highest abandon rate, e.g. 3% or 0.03').argParser(fraction('--abandon-cap')))
    .addOption(new Option('--max-lines <n>', 'most calls out at once').argParser(num('--max-lines')))
    .addOption(new Option('--cps <n>', "the campaign's share of the account's calls per second").argParser(num('--cps')))
    .addOption(new Option('--window <profile>', 'calling window: collections_sp (Mon-Fri 08-20, Sat 08-14, SP law 15.426/2014) or custom').choices([...WINDOW_PROFILES]))
    .addOption(new Option('--weekday <hours>', 'custom window, Monday to Friday: HH:MM-HH:MM or closed').argParser(hoursArg('--weekday')))
    .addOption(new Option('--saturday <hours>', 'custom window, Saturday: HH:MM-HH:MM or closed').argParser(hoursArg('--saturday')))
    .addOption(new Option('--sunday <hours>', 'custom window, Sunday: HH:MM-HH:MM or closed').argParser(hoursArg('--sunday')))
    .option('--skip-holidays', 'do not call on national, state and admin holidays')
    .option('--no-skip-holidays', 'call on holidays too')
    .option('--retry <outcome=delay:max>', `retry rule of an automatic outcome (${RETRY_OUTCOMES.join(', ')}), e.g. busy=30m:3; repeatable`, retryArg)
    .addOption(new Option('--max-attempts <n>', 'most calls to one lead').argParser(num('--max-attempts')))
    .addOption(new Option('--caller-id <strategy>', 'caller-ID rotation').choices([...CALLER_ID_STRATEGIES]))
    .option('--local-presence', "prefer a caller ID of the lead's DDD, then its state")
    .option('--no-local-presence', 'any pool number')
    .addOption(new Option('--amd-machine <action>', 'when AMD says machine: hang up, or leave a voicemail').choices([...AMD_MACHINE_ACTIONS]))
    .option('--voicemail-audio <path>', 'voicemail to leave: an asset path such as /audio/recado.mp3')
    .option('--voicemail-text <text>', 'voicemail to leave, spoken (pt-BR)')
    .addOption(new Option('--amd-unknown <action>', 'when AMD cannot tell').choices([...AMD_UNKNOWN_ACTIONS]))
    .addOption(new Option('--amd-accuracy <rate>', 'share of humans AMD gets right, for the abandon estimate (e.g. 96%)').argParser(fraction('--amd-accuracy')))
    .option('--whisper <template>', 'what the agent hears before the customer, with {field} placeholders')
    .option('--disposition <code:label:outcome>', `one disposition (outcome ${DISPOSITION_OUTCOMES.join('|')}); repeatable; replaces the list`, dispositionArg)
    .addOption(new Option('--abandon-treatment <t>', 'what an abandoned customer gets').choices([...ABANDON_TREATMENTS]))
    .option('--company-name <name>', 'the company named in the abandon message')
    .addOption(new Option('--disclaimer-seconds <s>', 'length of the disclaimer the customer hears first').argParser(num('--disclaimer-seconds')))
    .addOption(new Option('--ring-timeout <s>', 'seconds a call rings before no-answer').argParser(num('--ring-timeout')));
}

/** The options withSettingsOptions adds, as commander parses them. */
export interface SettingsOptions {
  settings?: string;
  kind?: CampaignSettings['kind'];
  mode?: CampaignSettings['mode'];
  ratio?: number;
  behaviour?: CampaignSettings['pacing_behaviour'];
  abandonCap?: number;
  maxLines?: number;
  cps?: number;
  window?: CampaignSettings['window_profile'];
  weekday?: [string, string] | null;
  saturday?: [string, string] | null;
  sunday?: [string, string] | null;
  skipHolidays?: boolean;
  retry?: Record<string, { delay_minutes: number; max: number }>;
  maxAttempts?: number;
  callerId?: CampaignSettings['caller_id_strategy'];
  localPresence?: boolean;
  amdMachine?: CampaignSettings['amd_machine'];
  voicemailAudio?: string;
  voicemailText?: string;
  amdUnknown?: CampaignSettings['amd_unknown'];
  amdAccuracy?: number;
  whisper?: string;
  disposition?: { code: string; label: string; outcome: string }[];
  abandonTreatment?: CampaignSettings['abandon_treatment'];
  companyName?: string;
  disclaimerSeconds?: number;
  ringTimeout?: number;
}

/** The settings object the flags (and --settings file) say; not yet checked. */
export function settingsFromOptions(o: SettingsOptions): Record<string, unknown> {
  let s: Record<string, unknown> = {};
  if (o.settings) {
    let text: string;
    try {
      text = fs.readFileSync(o.settings, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${o.settings}: ${(e as Error).message}`, EXIT.USAGE, 'FILE');
    }
    try {
      s = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw usage(`${o.settings} is not JSON: ${(e as Error).message}`);
    }
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw usage(`${o.settings} must hold a JSON object of settings`);
  }
  const set = (key: string, v: unknown) => {
    if (v !== undefined) s[key] = v;
  };
  set('kind', o.kind);
  set('mode', o.mode);
  if (o.ratio !== undefined && (o.mode ?? s['mode'] ?? 'power') !== 'power') throw usage('--ratio is for power mode (--mode power)');
  set('dial_ratio', o.ratio);
  if (o.behaviour !== undefined && (o.mode ?? s['mode'] ?? 'predictive') !== 'predictive') throw usage('--behaviour is for predictive mode (--mode predictive)');
  set('pacing_behaviour', o.behaviour);
  set('abandon_cap', o.abandonCap);
  set('max_lines', o.maxLines);
  set('calls_per_second', o.cps);
  const hours = o.weekday !== undefined || o.saturday !== undefined || o.sunday !== undefined;
  if (hours && o.window === 'collections_sp') throw usage('--weekday/--saturday/--sunday set a custom window: leave out --window collections_sp');
  set('window_profile', o.window ?? (hours ? 'custom' : undefined));
  if (o.weekday !== undefined) Object.assign(s, { weekday_start: o.weekday?.[0] ?? null, weekday_end: o.weekday?.[1] ?? null });
  if (o.saturday !== undefined) Object.assign(s, { saturday_start: o.saturday?.[0] ?? null, saturday_end: o.saturday?.[1] ?? null });
  if (o.sunday !== undefined) Object.assign(s, { allow_sunday: o.sunday !== null, sunday_start: o.sunday?.[0] ?? null, sunday_end: o.sunday?.[1] ?? null });
  set('skip_holidays', o.skipHolidays);
  if (o.retry) s['retry_rules'] = { ...((s['retry_rules'] as object | undefined) ?? {}), ...o.retry };
  set('max_attempts', o.maxAttempts);
  set('caller_id_strategy', o.callerId);
  set('local_presence', o.localPresence);
  set('amd_machine', o.amdMachine);
  set('voicemail_audio', o.voicemailAudio);
  set('voicemail_text', o.voicemailText);
  set('amd_unknown', o.amdUnknown);
  set('amd_human_accuracy', o.amdAccuracy);
  set('whisper_template', o.whisper);
  set('dispositions', o.disposition);
  set('abandon_treatment', o.abandonTreatment);
  set('company_name', o.companyName);
  set('disclaimer_seconds', o.disclaimerSeconds);
  set('ring_timeout', o.ringTimeout);
  return s;
}
