/** The opt-out word rule for SMS and WhatsApp, and how Twilio's message addresses are read. */
import { messageKind, normaliseWords, OPT_OUT_WORDS, parseMessageAddress, withNinthDigit } from '../../src/lib/domain/sms-opt-out';

describe('messageKind', () => {
  it.each(OPT_OUT_WORDS.map((w) => [w]))('%s alone, in any case, is an opt-out', (word) => {
    for (const v of [word, word.toUpperCase(), word[0]!.toUpperCase() + word.slice(1)]) expect(messageKind(v)).toBe('opt_out');
  });

  it.each([
    ['accents', 'SAÍR'],
    ['accents (combining)', 'sa\u0069\u0301r'],
    ['accents on another word', 'CÀNCELÁR'],
    ['surrounding whitespace and newlines', '  \n Parar \t '],
    ['punctuation', 'sair.'],
    ['punctuation around', '"STOP!!!"'],
    ['emoji', 'SAIR 🙏'],
    ['full-width spaces', '\u3000sair\u3000'],
    ['repeated word', 'sair sair'],
    ['two opt-out words', 'pare, parar'],
    ['please after', 'SAIR por favor'],
    ['please before', 'Por favor, PARE'],
    ['thanks', 'descadastrar, obrigado'],
    ['"I want to leave"', 'quero sair'],
    ['"I want to unsubscribe"', 'Eu quero me descadastrar'],
    ['"from the list"', 'sair da lista'],
    ['greeting', 'Boa tarde, cancelar'],
    ['abbreviated please', 'sair pfv'],
  ])('%s: %p is an opt-out', (_why, body) => {
    expect(messageKind(body)).toBe('opt_out');
  });

  it.each([
    ['a longer word that contains one', 'PAREDE'],
    ['another longer word', 'sairam'],
    ['English past tense', 'stopped'],
    ['glued words', 'sairpor favor'],
    ['a negation', 'não quero sair'],
    ['a question about something else', 'quero sair do atraso, como pago?'],
    ['cancel something else', 'cancelar o boleto'],
    ['leave somewhere', 'sair de casa'],
    ['a plain message', 'Olá, gostaria de negociar minha dívida'],
    ['empty', ''],
    ['only courtesy', 'obrigado'],
    ['only punctuation', '?!'],
    ['digits', '9'],
    ['opt-in word', 'voltar'],
  ])('%s: %p is a message', (_why, body) => {
    expect(messageKind(body)).toBe('message');
  });
});

describe('normaliseWords', () => {
  it('drops accents, case and punctuation', () => {
    expect(normaliseWords('  Não, QUERO sáir!! ')).toEqual(['nao', 'quero', 'sair']);
  });
});

describe('parseMessageAddress', () => {
  it('reads SMS and WhatsApp addressing', () => {
    expect(parseMessageAddress('+5511987654321')).toEqual({ ok: true, channel: 'sms', phone: '+5511987654321' });
    expect(parseMessageAddress('whatsapp:+5511987654321')).toEqual({ ok: true, channel: 'whatsapp', phone: '+5511987654321' });
    expect(parseMessageAddress('WhatsApp:+5511987654321')).toMatchObject({ ok: true, channel: 'whatsapp' });
  });

  it.each([[undefined], [''], ['28888'], ['BANCO'], ['whatsapp:'], ['whatsapp:BANCO'], ['+55 11 98765-4321'], ['5511987654321'], ['sms:+5511987654321']])(
    '%p is not a phone number',
    (raw) => {
      expect(parseMessageAddress(raw).ok).toBe(false);
    },
  );
});

describe('withNinthDigit', () => {
  it('adds the 9 to an 8-digit Brazilian mobile (WhatsApp IDs) and leaves everything else', () => {
    expect(withNinthDigit('+551187654321')).toBe('+5511987654321');
    expect(withNinthDigit('+5511987654321')).toBe('+5511987654321');
    expect(withNinthDigit('+551130001000')).toBe('+551130001000'); // landline
    expect(withNinthDigit('+14155550100')).toBe('+14155550100');
  });
});
