/**
 * The agent decisions: which statuses an agent may choose and when, pause reasons and
 * disposition lists as configured, callback dates, and how the database's refusals and the
 * poll's session verdicts become API errors.
 */
import {
  AGENT_STATUSES,
  CHOOSABLE_STATUSES,
  agentRefusal,
  mayLeave,
  parseCallbackAt,
  pollResult,
  statusChoice,
  statusRequestProblem,
  unwrapAgent,
  type AgentStateResponse,
} from '../../src/lib/domain/agents';
import { ConfigError, dispositionCodes, loadConfig, pauseReasons } from '../../src/lib/runtime/config';
import { DB_UNAVAILABLE, DbUnavailable } from '../../src/lib/runtime/db';
import { HttpError } from '../../src/lib/runtime/http';

const reasons = ['Intervalo', 'Almoço', 'Banheiro'];
const base = { SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-unit-tests-only', DOMAIN_NAME: 'x.twil.io' };

describe('status requests', () => {
  it.each(CHOOSABLE_STATUSES.filter((s) => s !== 'paused'))('%s takes no reason', (s) => {
    expect(statusRequestProblem(s, undefined, reasons)).toBeNull();
    expect(statusRequestProblem(s, '  ', reasons)).toBeNull();
    expect(statusRequestProblem(s, 'Intervalo', reasons)).toMatch(/only given with paused/);
  });

  it('paused needs a reason from the list (trimmed, exact case)', () => {
    expect(statusRequestProblem('paused', 'Almoço', reasons)).toBeNull();
    expect(statusRequestProblem('paused', ' Almoço ', reasons)).toBeNull();
    expect(statusRequestProblem('paused', undefined, reasons)).toMatch(/needs a reason/);
    expect(statusRequestProblem('paused', 'almoço', reasons)).toMatch(/must be one of Intervalo, Almoço, Banheiro/);
    expect(statusRequestProblem('paused', 'Cochilo', reasons)).toMatch(/must be one of/);
  });

  it.each(['reserved', 'busy', 'wrap_up', 'AVAILABLE', '', 'lunch'])('status %j cannot be chosen', (s) => {
    expect(statusRequestProblem(s, undefined, reasons)).toMatch(/status must be one of available, paused, offline/);
  });
});

describe('leaving a status', () => {
  const table: [string, string, boolean][] = [];
  for (const current of AGENT_STATUSES) for (const next of CHOOSABLE_STATUSES) {
    const expected = current === 'busy' ? false : current === 'reserved' ? next === 'offline' : true;
    table.push([current, next, expected]);
  }
  it.each(table)('%s → %s: %s', (current, next, expected) => {
    expect(mayLeave(current as never, next as never)).toBe(expected);
    const choice = statusChoice(current as never, next, next === 'paused' ? 'Intervalo' : undefined, reasons);
    expect(choice.ok).toBe(expected);
    if (!choice.ok) expect(choice.refusal).toBe('agent_busy');
  });

  it('a malformed request is a 400 even for a busy agent (the request is judged first)', () => {
    expect(statusChoice('busy', 'paused', undefined, reasons)).toMatchObject({ ok: false, refusal: 'bad_request' });
  });
});

describe('configured lists', () => {
  it('defaults: the five pause reasons and nine disposition codes', () => {
    const config = loadConfig(base);
    expect(pauseReasons(config)).toEqual(['Intervalo', 'Almoço', 'Banheiro', 'Treinamento', 'Feedback']);
    expect(dispositionCodes(config)).toEqual(['acordo', 'promessa_pagamento', 'recusa', 'numero_errado', 'retornar', 'sem_interesse', 'nao_ligar', 'venda', 'outro']);
  });

  it('presence, wrap-up and token lifetime have defaults and bounds', () => {
    const config = loadConfig(base);
    expect([config.AGENT_PRESENCE_SECONDS, config.WRAP_UP_SECONDS, config.VOICE_TOKEN_TTL_SECONDS]).toEqual([20, 30, 3600]);
    expect(loadConfig({ ...base, WRAP_UP_SECONDS: '0' }).WRAP_UP_SECONDS).toBe(0);
    expect(() => loadConfig({ ...base, AGENT_PRESENCE_SECONDS: '2' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, VOICE_TOKEN_TTL_SECONDS: '90000' })).toThrow(ConfigError);
  });

  it('softphone keys are optional but must be shaped like Twilio SIDs when set', () => {
    expect(loadConfig(base).TWILIO_API_KEY).toBeUndefined();
    expect(() => loadConfig({ ...base, TWILIO_API_KEY: 'AK123' })).toThrow(/TWILIO_API_KEY/);
    expect(() => loadConfig({ ...base, TWILIO_TWIML_APP_SID: 'AP123' })).toThrow(/TWILIO_TWIML_APP_SID/);
    expect(loadConfig({ ...base, TWILIO_API_KEY: 'SK' + 'a'.repeat(32), TWILIO_TWIML_APP_SID: 'AP' + 'b'.repeat(32) }).TWILIO_TWIML_APP_SID).toBe('AP' + 'b'.repeat(32));
  });
});

describe('callback_at', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  it('takes an ISO date-time with a zone, as an instant', () => {
    expect(parseCallbackAt('2026-11-27T14:00:00-03:00', now)).toEqual({ ok: true, value: '2026-11-27T17:00:00.000Z' });
    expect(parseCallbackAt('2026-11-25T12:30Z', now)).toEqual({ ok: true, value: '2026-11-25T12:30:00.000Z' });
  });
  it.each([
    ['2026-11-27 14:00', /ISO 8601/],
    ['2026-11-27T14:00:00', /ISO 8601/],
    ['amanhã', /ISO 8601/],
    ['2026-02-31T10:00:00Z', /not a real date/],
    ['2026-11-24T12:00:00Z', /past/],
    ['2028-01-01T12:00:00Z', /within a year/],
  ])('refuses %j', (raw, problem) => {
    const r = parseCallbackAt(raw, now);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });
});

describe('refusals', () => {
  it.each([
    ['DA400', 400, 'bad_request'],
    ['DA404', 404, 'not_found'],
    ['DA409', 409, 'agent_busy'],
  ])('SQLSTATE %s is %i %s', (code, status, api) => {
    expect(agentRefusal(code)).toMatchObject({ status, code: api });
    try {
      unwrapAgent({ data: null, error: { code, message: 'the database words' } });
      throw new Error('no throw');
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      expect(e).toMatchObject({ status, code: api });
      expect((e as Error).message).not.toContain('the database words');
    }
  });

  it('other failures keep their meaning: unreachable database, a data exception', () => {
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(() => unwrapAgent({ data: null, error: { code: DB_UNAVAILABLE, message: 'down' } })).toThrow(DbUnavailable);
    expect(() => unwrapAgent({ data: null, error: { code: '22023', message: 'x' } })).toThrow(expect.objectContaining({ status: 400 }));
    expect(unwrapAgent({ data: 7, error: null })).toBe(7);
  });

  it('the poll: an ended session is 401 session_expired, a non-agent 403 forbidden_role', () => {
    expect(() => pollResult({ error: 'session_expired' })).toThrow(expect.objectContaining({ status: 401, code: 'session_expired' }));
    expect(() => pollResult({ error: 'forbidden_role' })).toThrow(expect.objectContaining({ status: 403, code: 'forbidden_role' }));
    const state = { agent: {}, offer: null, call: null, waiting: [], voicemails: [], missed: [], server_time: 'now' } as unknown as AgentStateResponse;
    expect(pollResult(state)).toBe(state);
  });
});
