/**
 * Lead import through /api/campaigns/import: the leads of a CSV body (the CLI's reader) or
 * of JSON rows (phones normalised as the CSV's are), and their batches to leads_import_batch.
 * Loaded by the import function on its first import only (it brings the phone-number
 * library), so the function's cold start stays light.
 */
import { z } from 'zod';
import { HttpError } from '../runtime/http';
import type { Db } from '../runtime/db';
import { IMPORT_BATCH_ROWS, type ImportBatchCounts } from './campaigns';
import { IMPORT_MAX_BODY_BYTES, IMPORT_MAX_ROWS, unwrapCampaign } from './campaigns-api';
import { bytesSource, collectLeadsCsv, LeadsCsvError, LeadsCsvTooManyRows, type LeadRow, type LeadsCsvFormat } from './leads-csv';
import { parsePhoneWithNinthDigit } from './phone';

/** The body of /api/campaigns/import: a CSV (text, or base64 bytes in any encoding) or JSON rows. */
export const importBody = z
  .strictObject({
    campaign_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    csv: z.string().min(1).optional(),
    csv_base64: z.string().min(1).optional(),
    rows: z.array(z.unknown()).min(1).max(IMPORT_MAX_ROWS).optional(),
    phone_column: z.string().min(1).max(100).optional(),
    name_column: z.string().min(1).max(100).optional(),
    id_column: z.string().min(1).max(100).optional(),
    /** Import nothing when any line or row is rejected. */
    strict: z.boolean().optional(),
  })
  .refine((b) => [b.csv, b.csv_base64, b.rows].filter((x) => x !== undefined).length === 1, 'give exactly one of csv, csv_base64 or rows');

export type ImportBody = z.infer<typeof importBody>;

const jsonRow = z.strictObject({
  phone_number: z.string().max(60),
  name: z.string().max(200).nullish(),
  external_id: z.string().max(100).nullish(),
  data: z.record(z.string().min(1).max(200), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()])).optional(),
});


/** A line or row that was not imported. */
export interface ImportRejection {
  line?: number;
  row?: number;
  reason: string;
  input: string;
}

/** The leads of an import body, and what was refused. */
export async function leadsOfBody(b: ImportBody): Promise<{ rows: LeadRow[]; rejected: ImportRejection[]; duplicates: number; format: LeadsCsvFormat | null; fields: string[] }> {
  if (b.rows) {
    const rows: LeadRow[] = [];
    const rejected: ImportRejection[] = [];
    const seen = new Set<string>();
    let duplicates = 0;
    b.rows.forEach((raw, i) => {
      const r = jsonRow.safeParse(raw);
      if (!r.success) {
        rejected.push({ row: i, reason: r.error.issues.map((x) => (x.path.length ? `${x.path.join('.')}: ${x.message}` : x.message)).join('; '), input: JSON.stringify(raw).slice(0, 80) });
        return;
      }
      const phone = parsePhoneWithNinthDigit(r.data.phone_number);
      if (!phone.ok) {
        rejected.push({ row: i, reason: phone.reason, input: r.data.phone_number });
        return;
      }
      if (seen.has(phone.e164)) duplicates++;
      seen.add(phone.e164);
      // A null-prototype object: a key such as __proto__ or constructor is a field like any other.
      const data: Record<string, string> = Object.create(null) as Record<string, string>;
      // The validated entries read from the input itself (a parsed record drops __proto__).
      const given = (raw as { data?: unknown }).data;
      const entries = r.data.data && typeof given === 'object' && given !== null ? Object.entries(given as Record<string, string | number | boolean | null>) : [];
      const bad = entries.find(([k, v]) => k.trim() === '' || k.length > 200 || !(v === null || ['number', 'boolean'].includes(typeof v) || (typeof v === 'string' && v.length <= 1000)));
      if (bad) {
        const why = bad[0].trim() === '' ? 'a field name is empty' : `${bad[0].slice(0, 40)}: not a text, number or boolean of at most 1000 characters`;
        rejected.push({ row: i, reason: `data: ${why}`, input: JSON.stringify(raw).slice(0, 80) });
        return;
      }
      for (const [k, v] of entries) if (v !== null && v !== '') data[k.trim()] = String(v);
      rows.push({ line: i + 1, phone_number: phone.e164, name: r.data.name?.trim() || null, external_id: r.data.external_id?.trim() || null, data });
    });
    const fields = [...new Set(rows.flatMap((r) => Object.keys(r.data)))];
    return { rows, rejected, duplicates, format: null, fields };
  }
  const bytes = b.csv !== undefined ? Buffer.from(b.csv, 'utf8') : Buffer.from(b.csv_base64!, 'base64');
  if (bytes.length > IMPORT_MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `the CSV must be at most ${IMPORT_MAX_BODY_BYTES} bytes`);
  try {
    const r = await collectLeadsCsv(bytesSource(bytes), { phoneColumn: b.phone_column, nameColumn: b.name_column, idColumn: b.id_column, maxRows: IMPORT_MAX_ROWS });
    if (r.rows.length > IMPORT_MAX_ROWS) throw new HttpError(413, 'too_many_leads', `at most ${IMPORT_MAX_ROWS} leads per request: use \`npm run campaigns -- import-leads\` for bigger files`);
    return { rows: r.rows, rejected: r.rejected, duplicates: r.stats.duplicates, format: r.format, fields: r.format.fields.map((x) => x.key) };
  } catch (e) {
    if (e instanceof LeadsCsvTooManyRows) throw new HttpError(413, 'too_many_leads', `at most ${IMPORT_MAX_ROWS} leads per request: use \`npm run campaigns -- import-leads\` for bigger files`);
    if (e instanceof LeadsCsvError) throw new HttpError(400, 'invalid_file', e.message);
    throw e;
  }
}

/** Sends leads to leads_import_batch in batches (with the field names in column order); returns the summed counts. */
export async function importLeads(db: Db, campaignIdValue: number, rows: LeadRow[], fields: string[]): Promise<Omit<ImportBatchCounts, 'received' | 'distinct'> & { batches: number }> {
  const totals = { inserted: 0, updated: 0, merged_in_batch: 0, opted_out: 0, batches: 0 };
  for (let i = 0; i < rows.length; i += IMPORT_BATCH_ROWS) {
    const r = unwrapCampaign(await db.rpc<ImportBatchCounts>('leads_import_batch', { p_campaign_id: campaignIdValue, p_rows: rows.slice(i, i + IMPORT_BATCH_ROWS), p_fields: fields }));
    totals.inserted += r.inserted;
    totals.updated += r.updated;
    totals.merged_in_batch += r.merged_in_batch;
    totals.opted_out += r.opted_out;
    totals.batches++;
  }
  return totals;
}
