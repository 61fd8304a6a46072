/**
 * A campaign's settings: their shape and limits (one zod schema shared by the CLI and the
 * /api/campaigns functions), the refusals of the campaign SQL functions turned into stable
 * codes and words, and the shapes they answer. The SQL functions
 * (supabase/migrations/*_campaigns_leads.sql) check the same rules again where cheap, so a
 * client that skips this module still cannot store a campaign that breaks them.
 *
 * Settings use the column names of public.campaigns (snake_case) end to end: the CLI builds
 * this object from its flags, the API takes it as JSON, SQL applies it with
 * jsonb_populate_record.
 */
import { campaignWindowProfile, neverOpens } from './calling-window';
import { z } from 'zod';

export const CAMPAIGN_KINDS = ['collections', 'sales'] as const;
export const CAMPAIGN_MODES = ['preview', 'power', 'predictive'] as const;
export const PACING_BEHAVIOURS = ['ADAPT_HARD_LIMIT', 'ADAPT_TAPERED', 'ADAPT_AVERAGE'] as const;
export const WINDOW_PROFILES = ['collections_sp', 'custom'] as const;
export const CALLER_ID_STRATEGIES = ['round_robin', 'random', 'least_used'] as const;
export const AMD_MACHINE_ACTIONS = ['hangup', 'voicemail'] as const;
export const AMD_UNKNOWN_ACTIONS = ['connect', 'hangup'] as const;
export const ABANDON_TREATMENTS = ['callback', 'queue', 'hangup'] as const;
export const DISPOSITION_OUTCOMES = ['done', 'retry', 'callback', 'opt_out'] as const;
/** Automatic outcomes a campaign retries by its own rules (delay and maximum each). */
export const RETRY_OUTCOMES = ['busy', 'no_answer', 'machine', 'failed', 'abandoned'] as const;
/** Statuses a campaign may be put in (draft is where it starts). */
export const CAMPAIGN_STATUSES = ['draft', 'active', 'paused', 'finished'] as const;
/** The 27 federative units (states and the Federal District). */
export const UFS = ['AC', 'AL', 'AP', 'AM', 'BA', 'CE', 'DF', 'ES', 'GO', 'MA', 'MT', 'MS', 'MG', 'PA', 'PB', 'PR', 'PE', 'PI', 'RJ', 'RN', 'RS', 'RO', 'RR', 'SC', 'SP', 'SE', 'TO'] as const;

/** 'HH:MM' (24 h; 24:00 closes at midnight). */
const TIME = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be a time HH:MM (00:00 to 24:00)');
const day = TIME.nullable();

export const retryRuleSchema = z.strictObject({
  delay_minutes: z.number().int().min(1).max(43_200),
  max: z.number().int().min(0).max(20),
});

export const dispositionSchema = z.strictObject({
  code: z.string().regex(/^[a-z0-9_]{1,40}$/, 'must be 1-40 lower-case letters, digits or _'),
  label: z.string().trim().min(1).max(80),
  outcome: z.enum(DISPOSITION_OUTCOMES),
});

/**
 * Every setting a campaign has, each optional (create needs only `name`; update changes
 * what it names). Limits are the columns' checks, narrowed where the product needs it.
 */
export const campaignSettingsSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    kind: z.enum(CAMPAIGN_KINDS),
    mode: z.enum(CAMPAIGN_MODES),
    /** Power mode: lines per available agent. */
    dial_ratio: z.number().min(1).max(10),
    /** Predictive mode: how the pacer adapts to the abandon rate. */
    pacing_behaviour: z.enum(PACING_BEHAVIOURS),
    max_lines: z.number().int().min(1).max(1000),
    /** Highest abandon rate (0.03 = 3 %), counted with the AMD estimate. */
    abandon_cap: z.number().min(0).max(0.1),
    /**
     * The campaign's share of the account's calls per second: whole calls (a round places
     * whole calls within one second, so 0.5 would never dial and 1.5 would act as 1).
     */
    calls_per_second: z.number().int('must be a whole number of calls per second (1 to 100)').min(1, 'must be at least 1 call per second').max(100),
    window_profile: z.enum(WINDOW_PROFILES),
    weekday_start: day,
    weekday_end: day,
    saturday_start: day,
    saturday_end: day,
    allow_sunday: z.boolean(),
    sunday_start: day,
    sunday_end: day,
    skip_holidays: z.boolean(),
    /** Per automatic outcome; the outcomes not named keep their rule. */
    retry_rules: z.partialRecord(z.enum(RETRY_OUTCOMES), retryRuleSchema),
    max_attempts: z.number().int().min(1).max(50),
    caller_id_strategy: z.enum(CALLER_ID_STRATEGIES),
    /** Prefer a caller ID of the lead's DDD, then of its state. */
    local_presence: z.boolean(),
    amd_machine: z.enum(AMD_MACHINE_ACTIONS),
    amd_unknown: z.enum(AMD_UNKNOWN_ACTIONS),
    /** An asset path, e.g. /audio/recado.mp3. */
    voicemail_audio: z.string().regex(/^\/[A-Za-z0-9._/-]{1,200}$/, 'must be an asset path like /audio/recado.mp3').nullable(),
    voicemail_text: z.string().trim().min(1).max(1000).nullable(),
    /** Share of humans AMD recognises as humans (for the abandon estimate). */
    amd_human_accuracy: z.number().gt(0).max(1),
    whisper_template: z.string().max(500).nullable(),
    /** Null: the deployment's DISPOSITION_CODES. */
    dispositions: z
      .array(dispositionSchema)
      .min(1)
      .max(40)
      .refine((list) => new Set(list.map((d) => d.code)).size === list.length, 'repeats a code')
      .nullable(),
    abandon_treatment: z.enum(ABANDON_TREATMENTS),
    company_name: z.string().trim().min(1).max(80).nullable(),
    disclaimer_seconds: z.number().min(0).max(120),
    ring_timeout: z.number().int().min(5).max(60),
  })
  .partial();

export type CampaignSettings = z.infer<typeof campaignSettingsSchema>;

/** The hours of a calling-window profile (null: closed that day). */
export interface WindowHours {
  window_profile?: (typeof WINDOW_PROFILES)[number];
  weekday_start?: string | null;
  weekday_end?: string | null;
  saturday_start?: string | null;
  saturday_end?: string | null;
  allow_sunday?: boolean;
  sunday_start?: string | null;
  sunday_end?: string | null;
}

const opens = (start: string | null | undefined, end: string | null | undefined) => Boolean(start && end && start < end);

/** True when a custom window has no open hours on any day (the collections default always opens). */
export function windowNeverOpens(w: WindowHours): boolean {
  if (w.window_profile !== 'custom') return false;
  return neverOpens(
    campaignWindowProfile({
      window_profile: 'custom',
      weekday_start: w.weekday_start ?? null,
      weekday_end: w.weekday_end ?? null,
      saturday_start: w.saturday_start ?? null,
      saturday_end: w.saturday_end ?? null,
      allow_sunday: w.allow_sunday ?? false,
      sunday_start: w.sunday_start ?? null,
      sunday_end: w.sunday_end ?? null,
      skip_holidays: true,
    }),
  );
}

/** The problems of the settings given together (what one field cannot say alone). */
function crossFieldProblems(s: CampaignSettings): string[] {
  const problems: string[] = [];
  const pairs = [['weekday_start', 'weekday_end'], ['saturday_start', 'saturday_end'], ['sunday_start', 'sunday_end']] as const;
  for (const [a, b] of pairs) {
    if (a in s !== b in s || (s[a] === null) !== (s[b] === null)) problems.push(`${a} and ${b} go together (both times, or both null for closed)`);
    else if (s[a] && s[b] && !(s[a]! < s[b]!)) problems.push(`${a} must come before ${b}`);
  }
  const hoursGiven = pairs.some(([a]) => a in s) || s.allow_sunday !== undefined;
  if (hoursGiven && s.window_profile === 'collections_sp') problems.push('hours are given for a custom window: set window_profile to custom (collections_sp has fixed hours)');
  if (s.allow_sunday === true && s.window_profile === 'custom' && !opens(s.sunday_start, s.sunday_end)) problems.push('allow_sunday needs sunday_start and sunday_end');
  if (s.amd_machine === 'voicemail' && s.voicemail_audio == null && s.voicemail_text == null) problems.push('amd_machine voicemail needs voicemail_audio or voicemail_text');
  return problems;
}

/** Result of checking settings: the value, or the problems in words. */
export type SettingsCheck = { ok: true; settings: CampaignSettings } | { ok: false; code: 'invalid_settings' | 'window_never_opens'; problems: string[] };

/**
 * Checks settings for campaign_create (`name` required, a custom window given whole) or
 * campaign_update (what is given). A custom window with no open hours is window_never_opens.
 */
export function checkSettings(input: unknown, purpose: 'create' | 'update'): SettingsCheck {
  const parsed = campaignSettingsSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      code: 'invalid_settings',
      problems: parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)),
    };
  }
  const s = parsed.data;
  const problems = crossFieldProblems(s);
  if (purpose === 'create' && s.name === undefined) problems.unshift('name is required');
  if (purpose === 'update' && Object.keys(s).length === 0) problems.push('no setting to change');
  if (problems.length) return { ok: false, code: 'invalid_settings', problems };
  if (s.window_profile === 'custom') {
    const whole = purpose === 'create' ? { weekday_start: '08:00', weekday_end: '20:00', saturday_start: '08:00', saturday_end: '14:00', allow_sunday: false, ...s } : s;
    const known = purpose === 'create' || ['weekday_start', 'saturday_start', 'allow_sunday'].every((k) => k in s);
    if (known && windowNeverOpens(whole)) return { ok: false, code: 'window_never_opens', problems: ['the custom calling window has no open hours on any day'] };
  }
  return { ok: true, settings: s };
}

// The SQL functions' refusals (codes and words) live in campaign-refusals.ts: the functions
// that need no settings schema load them without zod.
export { CAMPAIGN_REFUSALS, campaignRefusal, type CampaignRefusalCode } from './campaign-refusals';

// ---------------------------------------------------------------------------------------
// Shapes the SQL functions answer

/** A campaign row as campaign_json returns it. */
export type CampaignRow = Required<{ [K in keyof CampaignSettings]: unknown }> & {
  id: number;
  name: string;
  kind: string;
  mode: string;
  status: (typeof CAMPAIGN_STATUSES)[number];
  created_at: string;
  started_at: string | null;
  updated_at: string;
};

export interface LeadCounts {
  total: number;
  by_status: Record<string, number>;
}

export interface CampaignListItem {
  id: number;
  name: string;
  kind: string;
  mode: string;
  status: string;
  created_at: string;
  started_at: string | null;
  agents: number;
  leads: LeadCounts;
}

export interface CampaignShow {
  campaign: CampaignRow;
  leads: LeadCounts;
  agents: { id: number; name: string; email: string | null; status: string }[];
  usable_numbers: number;
  holidays: { id: number; day: string; uf: string | null; campaign_id: number | null; name: string }[];
}

/** What leads_import_batch answers for one batch. */
export interface ImportBatchCounts {
  received: number;
  distinct: number;
  merged_in_batch: number;
  inserted: number;
  updated: number;
  opted_out: number;
}

/** Lead rows per leads_import_batch call: big enough for few round trips, small enough for a 10 s function. */
export const IMPORT_BATCH_ROWS = 5000;
