/** The supervisor board's text: pt-BR figures, the board's codes in words, highlights, and clocks that tick between polls. */
import type { BoardResponse } from '../../src/lib/domain/board';
import {
  actionErrorText,
  agoText,
  formatAmdMix,
  formatClock,
  formatDec1,
  formatDec2,
  formatInt,
  formatPercent,
  formatPhone,
  formatTimeSP,
} from '../../src/web/dashboard/format';
import { COLUMNS, abandonLevel, boardView, capLevel, stateLevel, waitLevel, type Row } from '../../src/web/dashboard/view';

const fields = (row: Row) => Object.fromEntries(row.cells.map((c) => [c.field, c.text]));

describe('format', () => {
  it('writes numbers, percents and durations the pt-BR way, null as —', () => {
    expect([formatInt(1234), formatInt('7'), formatInt(null), formatInt('x')]).toEqual(['1.234', '7', '—', '—']);
    expect([formatDec1(17.66), formatDec1(0), formatDec2(2.5), formatDec2(null)]).toEqual(['17,7', '0,0', '2,50', '—']);
    expect([formatPercent(0.0312), formatPercent(1 / 3), formatPercent(0), formatPercent(1), formatPercent(null)]).toEqual(['3,1%', '33,3%', '0,0%', '100,0%', '—']);
    expect([formatClock(0), formatClock(59.9), formatClock(61), formatClock(600), formatClock(3725), formatClock(-3), formatClock(null)]).toEqual([
      '00:00', '00:59', '01:01', '10:00', '1:02:05', '00:00', '—',
    ]);
    expect([agoText(0), agoText(7.9), agoText(119), agoText(300), agoText(7300)]).toEqual(['há 0 s', 'há 7 s', 'há 119 s', 'há 5 min', 'há 2 h']);
  });

  it('writes phone numbers as Brazilians do', () => {
    expect([formatPhone('+5511990000001'), formatPhone('+551130001000'), formatPhone('+14155550100'), formatPhone(null)]).toEqual([
      '(11) 99000-0001', '(11) 3000-1000', '+14155550100', '—',
    ]);
  });

  it('writes the AMD mix in a fixed order, unknown results last, nothing as —', () => {
    expect(formatAmdMix({ unknown: 1, human: 2, machine_start: 1, weird: 3, fax: 0 })).toBe('Humano 2 · Máquina 1 · Indefinido 1 · weird 3');
    expect([formatAmdMix({}), formatAmdMix(null)]).toEqual(['—', '—']);
    // The board's 'none' (an AMD time without a result) is history's 'unknown': Indefinido.
    expect(formatAmdMix({ human: 1, none: 2 })).toBe('Humano 1 · Indefinido 2');
    expect(formatAmdMix({ none: 1, unknown: 1 })).toBe('Indefinido 2');
  });

  it('writes times of day on São Paulo\'s clock', () => {
    const now = Date.parse('2026-11-26T15:00:00Z');
    expect(formatTimeSP('2026-11-26T14:03:00Z', now)).toBe('11:03');
    expect(formatTimeSP('2026-11-25T14:03:00Z', now)).toBe('25/11 11:03');
    expect(formatTimeSP(null, now)).toBe('—');
  });

  it('says why an action was refused, with the API message after it', () => {
    expect(actionErrorText(409, 'call_ended', 'the call has ended')).toBe('A ligação já terminou; nada foi feito. (the call has ended)');
    expect(actionErrorText(409, 'no_agent', 'no agent')).toBe('Não há agente nesta ligação. (no agent)');
    expect(actionErrorText(404, 'internal_error', 'Not Found')).toBe('Esta ação não está disponível neste servidor (404).');
    expect(actionErrorText(404, 'not_found', 'not found')).toBe('Não encontrado (talvez já tenha terminado). (not found)');
    expect(actionErrorText(500, 'weird', 'boom')).toBe('Erro 500 (weird): boom');
    expect(actionErrorText(0, 'network', '')).toBe('Sem conexão com o servidor. Verifique a rede.');
  });
});

describe('highlights', () => {
  it('idle, paused and wrap-up too long warn, twice as long alerts; busy never', () => {
    expect([stateLevel('available', 299), stateLevel('available', 300), stateLevel('available', 600)]).toEqual([null, 'warn', 'alert']);
    expect([stateLevel('paused', 899), stateLevel('paused', 900), stateLevel('wrap_up', 180), stateLevel('busy', 99999)]).toEqual([null, 'warn', 'warn', null]);
    expect([waitLevel(59), waitLevel(60), waitLevel(180)]).toEqual([null, 'warn', 'alert']);
  });
  it('abandon near (80 % of the cap) and over; caller IDs near and at their cap', () => {
    expect([abandonLevel(0.02, 0.03), abandonLevel(0.024, 0.03), abandonLevel(0.03, 0.03), abandonLevel(null, 0.03), abandonLevel(0.5, 0)]).toEqual([null, 'warn', 'alert', null, null]);
    expect([capLevel(107, 120), capLevel(108, 120), capLevel(120, 120), capLevel(5, null)]).toEqual([null, 'warn', 'alert', null]);
  });
});

const board: BoardResponse = {
  server_time: '2026-11-26T15:00:00Z',
  day_start: '2026-11-26T03:00:00Z',
  short_call_seconds: 6,
  agents: [
    { id: 1, name: 'Ana', status: 'paused', seconds_in_state: 890, pause_reason: 'Almoço', campaign_id: 3, campaign: 'Cobrança', call: null },
    { id: 2, name: 'Bia', status: 'busy', seconds_in_state: 40, pause_reason: null, campaign_id: null, campaign: null, call: { call_sid: 'CA1', customer: '+5511990000001', direction: 'outbound-api' } },
  ],
  calls: [
    { call_sid: 'CA1', direction: 'outbound-api', status: 'in-progress', campaign_id: 3, campaign: 'Cobrança', agent_id: 2, agent: 'Bia', customer: '+5511990000001', seconds: 65, recording: true },
    { call_sid: 'CA2', direction: 'inbound', status: 'ringing', campaign_id: null, campaign: null, agent_id: null, agent: null, customer: '+551130001000', seconds: 3, recording: false },
  ],
  queues: [
    { name: 'geral', waiting: 0, longest_wait_seconds: 0, entered_today: 0, answered_today: 0, abandoned_today: 0, answered_in_level_today: 0, service_level_seconds: 20, service_level_today: null },
    { name: 'vip', waiting: 2, longest_wait_seconds: 55, entered_today: 4, answered_today: 1, abandoned_today: 1, answered_in_level_today: 1, service_level_seconds: 20, service_level_today: 0.5 },
  ],
  campaigns: [
    {
      id: 3, name: 'Cobrança', mode: 'predictive', status: 'active', dial_ratio: 2.5, max_lines: 30, agents_staffed: 4, lines_in_use: 2, dial_level: 0.5,
      calls_last_hour: 9, connects_last_hour: 3, talk_minutes_per_agent_hour: 17.7, live_today: 40, abandoned_today: 1, abandon_cap: 0.03,
      abandon_rate_today: 0.025, amd_human_accuracy: 0.9, amd_estimated_abandons_today: 4.44, abandon_rate_with_amd_today: 0.1222,
      amd_today: { human: 3, machine_start: 1 },
    },
  ],
  caller_ids: [{ phone_number: '+5511990000009', calls_today: 7, daily_cap: 120, spam_flagged: false, ended_today: 5, short_today: 3, short_ratio_today: 0.6 }],
  anatel: null,
  alerts: [],
};

describe('boardView', () => {
  it('writes every section, in the columns\' order', () => {
    const v = boardView(board, 0, Date.parse(board.server_time));
    expect(v.agents.map((r) => r.cells.map((c) => c.field))).toEqual(v.agents.map(() => COLUMNS.agents.map(([f]) => f)));
    expect(v.campaigns[0]!.cells.map((c) => c.field)).toEqual(COLUMNS.campaigns.map(([f]) => f));
    expect(v.callerIds[0]!.cells.map((c) => c.field)).toEqual(COLUMNS.callerIds.map(([f]) => f));
    expect(fields(v.agents[0]!)).toEqual({ name: 'Ana', status: 'Pausa', seconds_in_state: '14:50', pause_reason: 'Almoço', campaign: 'Cobrança', customer: '—' });
    expect(fields(v.agents[1]!)).toEqual({ name: 'Bia', status: 'Em ligação', seconds_in_state: '00:40', pause_reason: '—', campaign: '—', customer: '(11) 99000-0001' });
    expect(fields(v.calls[0]!)).toEqual({ campaign: 'Cobrança', agent: 'Bia', customer: '(11) 99000-0001', status: 'Em andamento', seconds: '01:05', recording: 'Gravando' });
    expect(fields(v.calls[1]!)).toEqual({ campaign: 'Receptiva', agent: '—', customer: '(11) 3000-1000', status: 'Chamando', seconds: '00:03', recording: 'Não' });
    expect(fields(v.queues[0]!)).toMatchObject({ waiting: '0', longest_wait: '00:00', service_level_today: '—' });
    expect(fields(v.queues[1]!)).toEqual({ name: 'vip', waiting: '2', longest_wait: '00:55', service_level_today: '50,0%', answered_today: '1', abandoned_today: '1' });
    expect(fields(v.campaigns[0]!)).toEqual({
      name: 'Cobrança', mode: 'Preditiva', status: 'Em andamento', dial_level: '0,50', lines_in_use: '2', agents_staffed: '4', calls_last_hour: '9',
      connects_last_hour: '3', talk_minutes_per_agent_hour: '17,7', abandon_rate_today: '2,5%', abandon_cap: '3,0%', abandon_rate_with_amd_today: '12,2%',
      amd_estimated_abandons_today: '4,4', amd_today: 'Humano 3 · Máquina 1',
    });
    expect(fields(v.callerIds[0]!)).toEqual({
      phone_number: '(11) 99000-0009', calls_today: '7', daily_cap: '120', cap_use: '5,8%', ended_today: '5', short_today: '3', short_ratio_today: '60,0%', spam_flagged: 'Não',
    });
    expect(v.anatel).toEqual({ summary: null, rows: [] });
    expect(v.alerts).toEqual([]);
    expect(Object.fromEntries(v.totals.map((c) => [c.field, c.text]))).toEqual({ signed_in: '2', talking: '1', available: '0', paused: '1', calls: '2', waiting: '2', alerts: '0' });
  });

  it('ticks the clocks between polls, and a highlight starts when the time crosses its limit', () => {
    const now = Date.parse(board.server_time);
    const at0 = boardView(board, 0, now);
    const at12 = boardView(board, 12.4, now);
    expect(at0.agents[0]!.level).toBeNull();
    expect(fields(at12.agents[0]!)['seconds_in_state']).toBe('15:02');
    expect(at12.agents[0]!.level).toBe('warn');
    expect(fields(at12.calls[0]!)['seconds']).toBe('01:17');
    expect(fields(at12.queues[1]!)['longest_wait']).toBe('01:07');
    expect(at12.queues[1]!.level).toBe('warn');
    // Nobody waiting: no clock runs.
    expect(fields(at12.queues[0]!)['longest_wait']).toBe('00:00');
  });

  it('highlights abandon near its cap (its own and with the AMD estimate apart)', () => {
    const v = boardView(board, 0, 0);
    const k = v.campaigns[0]!;
    expect(k.cells.find((c) => c.field === 'abandon_rate_today')!.level).toBe('warn');
    expect(k.cells.find((c) => c.field === 'abandon_rate_with_amd_today')!.level).toBe('alert');
    expect(k.level).toBe('alert');
  });

  it('draws the Anatel block (account first, near and over) and the open alerts with since when', () => {
    const f = (calls: number, short: number, near: boolean, over: boolean) => ({
      calls_today: calls, short_today: short, short_ratio: calls ? short / calls : null, projected_calls: calls * 2, projected_short: short * 2,
      projected_ratio: calls ? short / calls : null, near, over, reached: over, calls_last_hour: 0, short_last_hour: 0, causes: { amd_hangup: 1 },
    });
    const now = Date.parse('2026-11-26T15:00:00Z');
    const v = boardView(
      {
        ...board,
        anatel: {
          short_call_seconds: 6, daily_calls_threshold: 100000, short_percent_threshold: 85, near_percent: 80,
          day_start: '2026-11-26T03:00:00Z', calling_ends_at: '2026-11-26T23:00:00Z', seconds_left: 28800, rate_window_seconds: 3600, campaigns: [],
          account: f(1000, 100, false, false),
          caller_ids: [{ caller_id: '+5511990000009', ...f(500, 450, true, true) }, { caller_id: '+5511990000008', ...f(0, 0, true, false) }],
        },
        alerts: [{ id: 7, rule: 'queue_wait', subject: 'vip', severity: 'warning', title: 'Cliente aguardando há 4 min na fila vip', value: 240, threshold: 180, opened_at: '2026-11-26T14:56:30Z', last_sent_at: null,
          subject_label: 'fila vip', notifications: 1, seconds_open: 210, detail: {} }],
      },
      0,
      now,
    );
    expect(v.anatel.summary).toBe('Curtas: até 6 s. Bloqueio a partir de 100.000 ligações/dia com 85,0% curtas; "perto" a 80,0% desses limites.');
    expect(v.anatel.rows.map((r) => [r.key, r.level, fields(r)['state']])).toEqual([
      ['anatel-account', null, 'Normal'],
      ['anatel-+5511990000009', 'alert', 'Acima do limite'],
      ['anatel-+5511990000008', 'warn', 'Perto do limite'],
    ]);
    expect(fields(v.anatel.rows[0]!)).toEqual({
      subject: 'Conta (todos os números)', calls_today: '1.000', short_today: '100', short_ratio: '10,0%', projected_calls: '2.000', projected_short: '200', projected_ratio: '10,0%', state: 'Normal',
    });
    expect(fields(v.anatel.rows[2]!)['short_ratio']).toBe('—');
    expect(v.alerts.map((r) => [r.key, r.level, fields(r)])).toEqual([
      ['alert-7', 'warn', { severity: 'Atenção', title: 'Cliente aguardando há 4 min na fila vip', subject: 'fila vip', opened_at: '11:56 (há 3 min)' }],
    ]);
  });
});
