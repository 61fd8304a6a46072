/**
 * The whisper's text (template placeholders from the lead, accents and case ignored in keys,
 * missing fields left out, the length limit) and the TwiML a campaign customer hears while
 * waiting, when abandoned, and what a machine is left; parsed, never matched as strings.
 */
import { loadConfig } from '../../src/lib/runtime/config';
import { abandonTwiml, holdTwiml, voicemailDropTwiml } from '../../src/lib/domain/campaign-calls';
import { fieldKey, renderWhisper, whisperText } from '../../src/lib/domain/whisper';
import { parseTwiml } from '../helpers/twiml';

const config = loadConfig({ DOMAIN_NAME: 'discador-1234-dev.twil.io', SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-unit-tests-only' });
const lead = { name: 'João Silva', fields: { 'Dias Atraso': 30, situação: 'em atraso', valor: '1.234,56', extra: { a: 1 }, vazio: null } };

describe('renderWhisper', () => {
  it('fills placeholders from the lead: {nome} is the name, field keys match without accents, case or spacing', () => {
    expect(renderWhisper('Cliente {nome}, conta {Situacao} há {dias_atraso} dias', lead)).toBe('Cliente João Silva, conta em atraso há 30 dias');
    expect(renderWhisper('{NOME} deve R$ {valor}', lead)).toBe('João Silva deve R$ 1.234,56');
    expect(renderWhisper('{dias-atraso}|{DIAS ATRASO}|{Dias_Atraso}', lead)).toBe('30|30|30');
  });

  it('leaves out missing fields and values that are not text or numbers, without stray spaces', () => {
    expect(renderWhisper('Cliente {nome} {sobrenome}, contrato {contrato}.', lead)).toBe('Cliente João Silva, contrato.');
    expect(renderWhisper('{extra}{vazio} ok', lead)).toBe('ok');
  });

  it('a field called nome wins over the lead name; {campanha} is the campaign', () => {
    expect(renderWhisper('{nome} / {campanha}', { name: 'João', fields: { Nome: 'Maria' } }, { campaign: 'Cobrança' })).toBe('Maria / Cobrança');
  });

  it('cuts at maxChars on a word boundary and drops control characters', () => {
    const long = renderWhisper('{texto}', { name: null, fields: { texto: 'palavra '.repeat(60) } }, { maxChars: 50 });
    expect(long.length).toBeLessThanOrEqual(50);
    expect(long.endsWith('palavra')).toBe(true);
    expect(renderWhisper('a\u0000b\nc\td', { name: null, fields: {} })).toBe('a b c d');
    expect(renderWhisper('{nome}', { name: 'x'.repeat(300), fields: {} }).length).toBe(200);
  });

  it('keys compare without accents or case', () => {
    expect(fieldKey(' Situação  Atual ')).toBe('situacao_atual');
  });
});

describe('whisperText', () => {
  it('uses the template, else (none, or nothing rendered) a default naming the lead and the campaign', () => {
    expect(whisperText({ template: 'Cliente {nome}', name: 'Ana', fields: {}, campaign_name: 'Cobrança' })).toBe('Cliente Ana');
    expect(whisperText({ template: null, name: 'Ana', fields: {}, campaign_name: 'Cobrança' })).toBe('Cliente Ana, campanha Cobrança.');
    expect(whisperText({ template: '{nada}', name: null, fields: {}, campaign_name: 'Vendas' })).toBe('Cliente sem nome, campanha Vendas.');
  });
});

describe('campaign call TwiML', () => {
  it('hold: a short sentence, then back to the connect step with the attempt', () => {
    const t = parseTwiml(holdTwiml(config, '42').toString());
    expect(t.children.map((c) => c.name)).toEqual(['Say', 'Redirect']);
    expect(t.children[0]!.text).toBe('Um momento, por favor.');
    expect(t.children[1]!.text).toBe('https://discador-1234-dev.twil.io/voice/outbound?step=connect&attempt=42');
    expect(t.children[1]!.attrs['method']).toBe('POST');
  });

  it('abandon: names the company (campaign, else COMPANY_NAME), promises a callback unless the campaign hangs up, then hangs up', () => {
    const callback = parseTwiml(abandonTwiml(config, { treatment: 'callback', company_name: 'Banco X' }).toString());
    expect(callback.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect(callback.children[0]!.text).toBe('Aqui é da Banco X. No momento todos os nossos atendentes estão ocupados. Vamos retornar a sua ligação em breve. Obrigado.');
    const fromConfig = parseTwiml(abandonTwiml({ ...config, COMPANY_NAME: 'Loja Y' }, { treatment: 'hangup', company_name: null }).toString());
    expect(fromConfig.children[0]!.text).toBe('Aqui é da Loja Y. No momento todos os nossos atendentes estão ocupados. Obrigado.');
    const queue = parseTwiml(abandonTwiml(config, { treatment: 'queue', company_name: null }).toString());
    // 'queue': the live customer waits in the default service queue instead of being hung up on.
    expect(queue.children.map((c) => [c.name, c.text, c.attrs['method']])).toEqual([
      ['Redirect', 'https://discador-1234-dev.twil.io/voice/queue?queue=geral&source=campaign', 'POST'],
    ]);
  });

  it('voicemail drop: the audio, else the text, else the default; always hangs up; unknown call: just hangs up', () => {
    const audio = parseTwiml(voicemailDropTwiml(config, { audio: '/recado.mp3', text: 'x', company_name: null }).toString());
    expect(audio.children.map((c) => [c.name, c.text])).toEqual([['Play', 'https://discador-1234-dev.twil.io/recado.mp3'], ['Hangup', '']]);
    const text = parseTwiml(voicemailDropTwiml(config, { audio: null, text: 'Ligue para nós.', company_name: null }).toString());
    expect(text.children.map((c) => [c.name, c.text])).toEqual([['Say', 'Ligue para nós.'], ['Hangup', '']]);
    const dflt = parseTwiml(voicemailDropTwiml(config, { audio: null, text: null, company_name: 'Banco X' }).toString());
    expect(dflt.children[0]!.text).toBe('Olá, aqui é da Banco X. Por favor, retorne esta ligação quando puder. Obrigado.');
    expect(parseTwiml(voicemailDropTwiml(config, null).toString()).children.map((c) => c.name)).toEqual(['Hangup']);
  });
});
