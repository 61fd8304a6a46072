/**
 * POST /api/campaigns/import {campaign_id, csv | csv_base64 | rows, phone_column?,
 * name_column?, id_column?, strict?} — imports leads into a campaign: a CSV as text, or as
 * base64 bytes (any encoding the CLI reads: Windows-1252, UTF-16…), or JSON rows
 * [{phone_number, name?, external_id?, data?}]. Twilio Functions take POST bodies as
 * application/json or application/x-www-form-urlencoded only (Function Request Flow,
 * twilio.com/docs/serverless/functions-assets/functions/request-flow), so the CSV travels
 * inside the JSON. Bad lines are reported (with `strict`,
 * nothing is imported when there is one); the rest go to leads_import_batch, duplicates
 * merged. Up to 2 MiB and 20,000 leads per request; bigger files: `npm run campaigns -- import-leads`.
 */
import { campaignFunction, IMPORT_MAX_BODY_BYTES, parseWith } from '../../../lib/domain/campaigns-api';
import { ApiReply } from '../../../lib/runtime/api';

/** Rejected lines listed in the answer (the count covers all). */
const LIST_REJECTED = 1000;

export const handler = campaignFunction({ maxBodyBytes: IMPORT_MAX_BODY_BYTES }, async ({ db }, fields) => {
  // Loaded on the first import, not at cold start: it brings the phone-number library and the schema library.
  const { importBody, importLeads, leadsOfBody } = await import('../../../lib/domain/campaigns-import');
  const b = parseWith(importBody, fields);
  const { rows, rejected, duplicates, format, fields: fieldNames } = await leadsOfBody(b);
  const report = {
    campaign_id: b.campaign_id,
    format,
    leads: rows.length,
    rejected: rejected.length,
    rejected_lines: rejected.slice(0, LIST_REJECTED),
    duplicates_in_file: duplicates,
  };
  if (b.strict && rejected.length > 0) {
    return new ApiReply({ error: 'rejected_lines', message: `${rejected.length} line(s) rejected; nothing was imported`, ...report }, { status: 400 });
  }
  if (rows.length === 0) return new ApiReply({ error: 'nothing_imported', message: 'no line holds a lead that can be imported', ...report }, { status: 400 });
  return { ...report, ...(await importLeads(db, b.campaign_id, rows, fieldNames)) };
});
