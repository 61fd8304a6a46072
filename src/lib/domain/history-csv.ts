/**
 * The history tables as CSV for Excel pt-BR, with the writer the leads export uses (csv.ts:
 * UTF-8 with a BOM, `;` between cells, formula-looking values guarded with an apostrophe,
 * quoting): pt-BR headers, numbers with a decimal comma and ratios as fractions (0,0345),
 * CRLF line ends (RFC 4180).
 */
import { CSV_BOM, EXPORT_DELIMITER, csvCell } from './csv';
import { HISTORY_TABLES, cellText, type HistoryQuery, type HistoryReport, type HistoryTableName } from './history';

/** The CSV file of one table of a report. */
export function historyCsv(report: HistoryReport, table: HistoryTableName): string {
  const t = HISTORY_TABLES[table];
  const lines = [t.columns.map((col) => csvCell(col.label)).join(EXPORT_DELIMITER)];
  for (const row of t.rows(report)) lines.push(t.columns.map((col) => csvCell(cellText(col, row[col.key]))).join(EXPORT_DELIMITER));
  return CSV_BOM + lines.map((l) => l + '\r\n').join('');
}

/** The download's file name: historico-<table>-<first day>_<last day>[-hora].csv. */
export function historyCsvName(q: HistoryQuery, table: HistoryTableName): string {
  const span = q.fromDay === q.toDay ? q.fromDay : `${q.fromDay}_${q.toDay}`;
  return `historico-${HISTORY_TABLES[table].file}-${span}${q.group === 'hour' ? '-por-hora' : ''}.csv`;
}
