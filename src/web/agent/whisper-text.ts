/**
 * The whisper as the agent hears it, for the screen pop: the campaign's template with `{campo}`
 * placeholders filled from the lead. Follows the rules of the call flow's renderWhisper
 * (src/lib/domain/whisper.ts), which the page cannot import (its bundle carries no server
 * code): a placeholder names an imported field whatever its accents and case (`{Dias_Atraso}`
 * = `dias_atraso`), `{nome}` / `{name}` is the lead's name unless a field has that name, an
 * unknown field is left empty, spaces are collapsed, and the text stops at `max` characters.
 */

/** A field name as placeholders match it: no accents, lower case, spaces and dashes as `_`. */
export function fieldKey(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim()
    .replace(/[\s-]+/g, '_');
}

/** The whisper text for a lead, or '' without a template. */
export function whisperText(template: string | null | undefined, lead: { name: string | null; fields: Record<string, unknown> }, max = 200): string {
  if (!template) return '';
  const fields = new Map<string, string>();
  for (const [k, v] of Object.entries(lead.fields ?? {})) {
    if (v === null || v === undefined || typeof v === 'object') continue;
    fields.set(fieldKey(k), String(v));
  }
  const out = template.replace(/\{([^{}]{1,60})\}/g, (_, raw: string) => {
    const key = fieldKey(raw);
    const value = fields.get(key);
    if (value !== undefined) return value;
    return key === 'nome' || key === 'name' ? lead.name ?? '' : '';
  });
  const text = out.replace(/\s+/g, ' ').trim();
  return text.length > max ? text.slice(0, max).trimEnd() : text;
}
