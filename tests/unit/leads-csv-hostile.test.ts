/**
 * Lead files and rows built to break the reader: hundreds of thousands of blank lines, more
 * leads than a request takes, and field names that are Object.prototype members.
 */
import { leadsOfBody } from '../../src/lib/domain/campaigns-import';
import { bytesSource, collectLeadsCsv, exportLine, LeadsCsvTooManyRows } from '../../src/lib/domain/leads-csv';
import { HttpError } from '../../src/lib/runtime/http';

describe('blank lines and row limits', () => {
  it('400,000 blank lines after the header are counted and skipped, not a crash', async () => {
    const bytes = Buffer.concat([Buffer.from('telefone;nome\n11987654321;Ana\n'), Buffer.alloc(400_000, 0x0a)]);
    const r = await collectLeadsCsv(bytesSource(bytes), {});
    expect(r.rows.map((x) => x.phone_number)).toEqual(['+5511987654321']);
    expect(r.stats.blankLines).toBe(400_000);
  });

  it('400,000 blank lines before the header are skipped too', async () => {
    const bytes = Buffer.concat([Buffer.alloc(400_000, 0x0a), Buffer.from('telefone;nome\n11987654321;Ana\n')]);
    const r = await collectLeadsCsv(bytesSource(bytes), {});
    expect(r.rows).toHaveLength(1);
    expect(r.stats.physicalLines).toBe(r.stats.headerLines + r.stats.blankLines + r.stats.continuationLines + r.stats.linesRead);
  });

  it('maxRows stops reading as soon as the file has one lead too many', async () => {
    const lines = ['telefone'];
    for (let i = 0; i < 50; i++) lines.push(`119${80000000 + i}`);
    await expect(collectLeadsCsv(bytesSource(Buffer.from(lines.join('\n'))), { maxRows: 10 })).rejects.toBeInstanceOf(LeadsCsvTooManyRows);
    await expect(collectLeadsCsv(bytesSource(Buffer.from(lines.join('\n'))), { maxRows: 50 })).resolves.toMatchObject({ rows: expect.any(Array) });
  });

  it('an API body with more leads than a request takes is a 413 too_many_leads', async () => {
    const lines = ['telefone'];
    for (let i = 0; i < 20_500; i++) lines.push(`119${80000000 + i}`);
    const err = await leadsOfBody({ campaign_id: 1, csv: lines.join('\n') } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 413, code: 'too_many_leads' });
  });
});

describe('field names that are Object.prototype members', () => {
  const lead = (data: Record<string, unknown>) => ({
    id: 1, phone_number: '+5511987654321', name: 'A', external_id: null, status: 'pending', attempts: 0, outcome: null,
    last_attempt_at: null, next_attempt_at: null, callback_at: null, data,
  });

  it('export: constructor / toString / __proto__ are empty cells unless the lead has them', () => {
    const line = exportLine(lead(JSON.parse('{"cidade":"SP"}')) as never, ['cidade', 'constructor', '__proto__', 'toString']);
    expect(line.split(';').slice(-4)).toEqual(['SP', '', '', '']);
    const own = exportLine(lead(JSON.parse('{"constructor":"c","__proto__":"p","toString":"t"}')) as never, ['constructor', '__proto__', 'toString']);
    expect(own.split(';').slice(-3)).toEqual(['c', 'p', 't']);
  });

  it('CSV: a column named __proto__ is kept as a field', async () => {
    const r = await collectLeadsCsv(bytesSource(Buffer.from('telefone;__proto__;constructor;nome\n11987654321;x;y;Ana\n')), {});
    expect(Object.keys(r.rows[0]!.data).sort()).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(r.rows[0]!.data))).toEqual(JSON.parse('{"__proto__":"x","constructor":"y"}'));
  });

  it('JSON rows: __proto__ is a field; an empty field name (after trim) rejects the row', async () => {
    const r = await leadsOfBody({
      campaign_id: 1,
      rows: [JSON.parse('{"phone_number":"11987654321","data":{"__proto__":"x","a":"z"}}'), JSON.parse('{"phone_number":"11987654322","data":{"  ":"y","a":"z"}}')],
    } as never);
    expect(r.rows).toHaveLength(1);
    expect(Object.keys(r.rows[0]!.data).sort()).toEqual(['__proto__', 'a']);
    expect(r.fields.sort()).toEqual(['__proto__', 'a']);
    expect(r.rejected).toEqual([expect.objectContaining({ row: 1, reason: expect.stringMatching(/field name is empty/) })]);
  });
});
