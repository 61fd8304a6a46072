/** What the agent page shows: Brazilian numbers, durations, waits and API errors in pt-BR. */
import { errorText, formatDuration, formatPhoneBR, waitText } from '../../src/web/agent/format';

describe('formatPhoneBR', () => {
  it.each([
    ['+5511990000001', '(11) 99000-0001'],
    ['+5521987654321', '(21) 98765-4321'],
    ['+551130001000', '(11) 3000-1000'],
    ['+558140041234', '(81) 4004-1234'],
    ['+5508001234567', '0800 123 4567'],
    ['+14155550100', '+14155550100'],
    ['client:ana', 'client:ana'],
    ['+55119900', '+55119900'],
    ['', 'Número desconhecido'],
    [null, 'Número desconhecido'],
  ])('%s → %s', (raw, shown) => expect(formatPhoneBR(raw)).toBe(shown));
});

describe('durations and waits', () => {
  it('formats seconds as m:ss and h:mm:ss, never negative', () => {
    expect([formatDuration(0), formatDuration(59.9), formatDuration(61), formatDuration(3725), formatDuration(-4)]).toEqual(['0:00', '0:59', '1:01', '1:02:05', '0:00']);
  });
  it('says a wait in words', () => {
    expect([waitText(1), waitText(45), waitText(60), waitText(90), waitText(121), waitText(0.2)]).toEqual([
      '1 segundo', '45 segundos', '1 minuto', '1 minuto e 30 segundos', '2 minutos e 1 segundo', '1 segundo',
    ]);
  });
});

describe('errorText', () => {
  it('names the lockout wait, and every code the API documents has its own sentence', () => {
    expect(errorText('account_locked', 90)).toBe('Muitas tentativas sem sucesso. Tente novamente em 1 minuto e 30 segundos.');
    const codes = ['invalid_credentials', 'unauthenticated', 'session_expired', 'forbidden_role', 'agent_busy', 'conflict', 'not_found', 'bad_request', 'database_unavailable', 'network', 'softphone_not_configured', 'body_too_large', 'opted_out', 'offer_gone', 'twilio_refused'];
    expect(errorText('something_else')).toBe('Erro inesperado (something_else). Tente novamente.');
    for (const c of codes) expect(errorText(c)).not.toMatch(/^Erro inesperado/);
  });
});
