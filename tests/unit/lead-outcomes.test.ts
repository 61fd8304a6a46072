/**
 * The pure parts of outcomes and preview: the deployment's disposition list and what each code
 * does, a campaign's own list as an admin writes it, the refusals' API answers, and the
 * whisper text the agent page shows (the same rules as the call flow's whisper).
 */
import { DEFAULT_DISPOSITIONS, deploymentDispositions, dispositionRefusal, parseDispositionList } from '../../src/lib/domain/outcomes';
import { loadConfig } from '../../src/lib/runtime/config';
import { DISPOSITION_LABEL, DISPOSITION_OUTCOME } from '../../src/web/agent/format';
import { fieldKey, whisperText } from '../../src/web/agent/whisper-text';

const config = (env: Record<string, string> = {}) => loadConfig({ SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40), PUBLIC_BASE_URL: 'https://discador.example', ...env });

describe("the deployment's dispositions", () => {
  it('DISPOSITION_CODES in order, each with its default outcome; an unknown code is done', () => {
    expect(deploymentDispositions(config()).map((d) => [d.code, d.outcome])).toEqual([
      ['acordo', 'done'],
      ['promessa_pagamento', 'done'],
      ['recusa', 'done'],
      ['numero_errado', 'invalid'],
      ['retornar', 'callback'],
      ['sem_interesse', 'done'],
      ['nao_ligar', 'opt_out'],
      ['venda', 'done'],
      ['outro', 'done'],
    ]);
    expect(deploymentDispositions(config({ DISPOSITION_CODES: 'pagou,retornar' }))).toEqual([
      { code: 'pagou', label: 'pagou', outcome: 'done' },
      { code: 'retornar', label: 'Retornar depois', outcome: 'callback' },
    ]);
  });

  it("the agent page's copy of the labels and outcomes matches the server's defaults", () => {
    for (const d of DEFAULT_DISPOSITIONS) {
      expect([d.code, DISPOSITION_LABEL[d.code]]).toEqual([d.code, d.label]);
      expect([d.code, DISPOSITION_OUTCOME[d.code] ?? 'done']).toEqual([d.code, d.outcome]);
    }
  });
});

describe("a campaign's own list", () => {
  it('accepts codes, labels and outcomes', () => {
    expect(parseDispositionList([{ code: 'pagou', label: 'Pagou', outcome: 'done' }])).toEqual({ ok: true, value: [{ code: 'pagou', label: 'Pagou', outcome: 'done' }] });
  });
  it.each([
    [[], /list of 1 to 50/],
    ['pagou', /list of 1 to 50/],
    [[{ code: 'Pagou', label: 'x', outcome: 'done' }], /code must be/],
    [[{ code: 'a', label: 'x', outcome: 'done' }, { code: 'a', label: 'y', outcome: 'done' }], /repeated/],
    [[{ code: 'a', label: '', outcome: 'done' }], /label must/],
    [[{ code: 'a', label: 'x', outcome: 'later' }], /outcome must be one of done, retry, callback, opt_out, invalid/],
  ])('%j is refused', (raw, problem) => {
    const r = parseDispositionList(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('; ')).toMatch(problem);
  });
});

describe('refusals', () => {
  it('are 400 bad_request with what to fix', () => {
    expect(dispositionRefusal('unknown_code', ['a', 'b'])).toMatchObject({ status: 400, code: 'bad_request', message: 'code must be one of a, b' });
    expect(dispositionRefusal('callback_required')).toMatchObject({ status: 400, message: expect.stringMatching(/required for a callback/) });
  });
});

describe('the whisper text on the screen pop', () => {
  const lead = { name: 'João Silva', fields: { 'Dias Atraso': 30, valor: 'R$ 120,00', nota: null } };
  it('fills placeholders whatever their accents and case; the name from {nome}; unknown ones empty', () => {
    expect(whisperText('Cliente {Nome}, conta em atraso há {dias_atraso} dias, {VALOR}{sem_campo}.', lead)).toBe('Cliente João Silva, conta em atraso há 30 dias, R$ 120,00.');
    expect(fieldKey('Situação do Contrato')).toBe('situacao_do_contrato');
  });
  it('no template, nothing; long text cut at the limit', () => {
    expect(whisperText(null, lead)).toBe('');
    expect(whisperText('x'.repeat(300), lead)).toHaveLength(200);
  });
});
