/**
 * The whisper: what an agent hears about a campaign's lead in their room just before the
 * customer joins (e.g. "Cliente João Silva, conta em atraso há 30 dias"). Campaigns write it
 * as a template with `{campo}` placeholders filled from the lead's name and imported fields.
 */
import { MESSAGES } from './messages';

/** The lead as the whisper sees it: name and the imported columns kept as fields. */
export interface WhisperLead {
  name: string | null;
  fields: Record<string, unknown> | null;
}

/** Default length limit (WHISPER_MAX_CHARS): a few seconds of speech. */
export const WHISPER_MAX_CHARS = 200;

/** Keys the lead's name answers to when no field of that name exists. */
const NAME_KEYS = ['nome', 'name', 'cliente'];
/** Keys the campaign's name answers to. */
const CAMPAIGN_KEYS = ['campanha', 'campaign'];

/** A placeholder or field name compared without accents, case, or spacing: `{Dias Atraso}` = `dias_atraso`. */
export function fieldKey(raw: string): string {
  return raw
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .trim()
    .replace(/[\s_-]+/g, '_');
}

/** A field's value as speech: text and numbers as they are; anything else (objects, null) says nothing. */
function spoken(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return v ? 'sim' : 'não';
  return '';
}

/** Cuts text to at most max characters, at a word boundary when there is one. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return (space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '');
}

/**
 * Fills a template's `{campo}` placeholders from the lead: keys match without accents, case
 * or spacing; `{nome}` is the lead's name unless a field is called so; `{campanha}` the
 * campaign's name when given; a missing field is left out. Control characters are dropped,
 * spaces collapsed, and the text cut to `maxChars` (at a word boundary).
 */
export function renderWhisper(
  template: string,
  lead: WhisperLead,
  opts: { maxChars?: number; campaign?: string | null } = {},
): string {
  const fields = new Map<string, string>();
  for (const [k, v] of Object.entries(lead.fields ?? {})) {
    const key = fieldKey(k);
    if (!fields.has(key)) fields.set(key, spoken(v));
  }
  const text = template.replace(/\{([^{}]{1,60})\}/g, (_, raw: string) => {
    const key = fieldKey(raw);
    if (fields.has(key)) return fields.get(key)!;
    if (NAME_KEYS.includes(key)) return lead.name ?? '';
    if (CAMPAIGN_KEYS.includes(key)) return opts.campaign ?? '';
    return '';
  });
  const clean = text
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/\s+([,.;:!?])/g, '$1')
    .trim();
  return clip(clean, opts.maxChars ?? WHISPER_MAX_CHARS);
}

/**
 * The whisper of a campaign call: the campaign's template rendered, or when it has none (or
 * it renders to nothing) the default naming the lead and the campaign.
 */
export function whisperText(
  data: { template: string | null; name: string | null; fields: Record<string, unknown> | null; campaign_name: string },
  maxChars = WHISPER_MAX_CHARS,
): string {
  const lead = { name: data.name, fields: data.fields };
  const rendered = data.template ? renderWhisper(data.template, lead, { maxChars, campaign: data.campaign_name }) : '';
  if (rendered) return rendered;
  return clip(MESSAGES.whisperDefault(data.name?.trim() || null, data.campaign_name), maxChars);
}
