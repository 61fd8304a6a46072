/**
 * The history URLs' query (São Paulo days, defaults, limits) and the CSV writer of its tables
 * (BOM, ";", decimal commas, formula guard), without a database.
 */
import { HistoryQueryError, parseHistoryQuery, type HistoryReport } from '../../src/lib/domain/history';
import { historyCsv, historyCsvName } from '../../src/lib/domain/history-csv';

// 2026-11-26 01:30 UTC is still the 25th in São Paulo (22:30).
const NOW = Date.parse('2026-11-26T01:30:00Z');

describe('parseHistoryQuery', () => {
  it('reads days as São Paulo days, both included', () => {
    expect(parseHistoryQuery({ from: '2025-03-10', to: '2025-03-11', group: 'hour' }, NOW)).toEqual({
      from: '2025-03-10T03:00:00.000Z',
      to: '2025-03-12T03:00:00.000Z',
      group: 'hour',
      campaignId: null,
      agentId: null,
      fromDay: '2025-03-10',
      toDay: '2025-03-11',
    });
  });

  it('defaults to the last 7 São Paulo days (today alone by hour)', () => {
    expect(parseHistoryQuery({}, NOW)).toMatchObject({ from: '2026-11-19T03:00:00.000Z', to: '2026-11-26T03:00:00.000Z', group: 'day', fromDay: '2026-11-19', toDay: '2026-11-25' });
    expect(parseHistoryQuery({ group: 'hour' }, NOW)).toMatchObject({ from: '2026-11-25T03:00:00.000Z', to: '2026-11-26T03:00:00.000Z' });
  });

  it('takes instants with an offset, the end excluded', () => {
    expect(parseHistoryQuery({ from: '2025-03-10T12:00:00-03:00', to: '2025-03-11T00:00:00Z', campaign_id: '7', agent_id: 3 }, NOW)).toMatchObject({
      from: '2025-03-10T15:00:00.000Z',
      to: '2025-03-11T00:00:00.000Z',
      campaignId: 7,
      agentId: 3,
      toDay: '2025-03-10',
    });
  });

  it.each([
    [{ from: '2025-03-11', to: '2025-03-10' }, 'the range must end after it starts (to before from)'],
    [{ from: '2025-01-01', to: '2025-03-04' }, 'the range can be at most 62 days'],
    [{ from: '2025-03-01', to: '2025-03-08', group: 'hour' }, 'grouped by hour, the range can be at most 7 days'],
    [{ group: 'month' }, 'group must be hour or day'],
    [{ from: '2025-02-29' }, 'from is not a real date: 2025-02-29'],
    [{ to: '2025-03-10T10:00' }, 'to must be a date (YYYY-MM-DD, São Paulo time) or an instant (ISO 8601 with offset): 2025-03-10T10:00'],
    [{ from: '2025-02-30T10:00Z' }, 'from is not a real date and time: 2025-02-30T10:00Z'],
    [{ to: '2025-04-31T23:00:00-03:00' }, 'to is not a real date and time: 2025-04-31T23:00:00-03:00'],
    [{ from: '2025-03-10T24:00Z' }, 'from is not a real date and time: 2025-03-10T24:00Z'],
    [{ agent_id: '0' }, 'agent_id must be a positive whole number'],
    [{ campaign_id: '1e3' }, 'campaign_id must be a positive whole number'],
  ])('refuses %j', (q, message) => {
    expect(() => parseHistoryQuery(q, NOW)).toThrow(new HistoryQueryError(message));
  });
});

describe('historyCsv', () => {
  const report = {
    dispositions: [
      { code: 'promessa', count: 2, share: 0.6667 },
      { code: '@SUM(A1)', count: 1, share: null },
    ],
  } as unknown as HistoryReport;

  it('writes UTF-8 with a BOM, ";", CRLF, decimal commas, empty nulls and guarded formulas', () => {
    expect(historyCsv(report, 'dispositions')).toBe('\ufefftabulação;quantidade;participação\r\npromessa;2;0,6667\r\n\'@SUM(A1);1;\r\n');
  });

  it('names the file after the table and the days', () => {
    const q = parseHistoryQuery({ from: '2025-03-10', to: '2025-03-10', group: 'hour' }, NOW);
    expect(historyCsvName(q, 'agents')).toBe('historico-agentes-2025-03-10-por-hora.csv');
  });
});
