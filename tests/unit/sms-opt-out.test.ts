/** The opt-out word rule for SMS and WhatsApp, and how Twilio's message addresses are read. */
import { cutCodePoints, messageKind, normaliseWords, OPT_OUT_WORDS, parseMessageAddress, withNinthDigit, withoutSignature } from '../../src/lib/domain/sms-opt-out';

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
    ['full-width letters', 'ＳＡＩＲ'],
    ['full-width STOP', 'ＳＴＯＰ'],
    ['mathematical bold', '𝐒𝐀𝐈𝐑'],
    ['the "st" ligature', 'ﬆop'],
    ['the long s', 'ſair'],
    ['a zero-width space inside', 'S\u200BAIR'],
    ['a zero-width space before', '\u200BSAIR'],
    ['a zero-width joiner inside', 'pa\u200Drar'],
    ['a soft hyphen inside', 'sa\u00ADir'],
    ['a soft hyphen after', 'SAIR\u00AD'],
    ['a word joiner after', 'PARAR\u2060'],
    ['a byte-order mark before', '\uFEFFstop'],
    ['an iPhone signature', 'SAIR\nEnviado do meu iPhone'],
    ['an Android signature (CRLF)', 'Parar\r\nEnviado do meu Galaxy'],
    ['an English signature', 'stop\n\nSent from my iPhone'],
    ['a "--" signature', 'sair\n-- \nMaria'],
    ['"stop calling me"', 'Pare de me ligar'],
    ['"stop calling" (plural)', 'Parem de ligar'],
    ['"stop sending me messages"', 'parem de me mandar mensagens'],
    ['"stop sending"', 'pare de enviar sms'],
    ['"stop receiving"', 'parar de receber'],
    ['"stop sending to me", thanks', 'Pare de mandar mensagem para mim, obrigado'],
    ['a phrase and a word', 'pare de ligar. SAIR'],
    ["Twilio's UNSUBSCRIBE", 'UNSUBSCRIBE'],
    ["Twilio's CANCEL", 'Cancel'],
    ["Twilio's END", 'END'],
    ["Twilio's QUIT", 'quit'],
    ["Twilio's STOPALL", 'STOPALL'],
    ["Twilio's OPTOUT", 'OPTOUT'],
    ["Twilio's REVOKE", 'revoke'],
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
    ['a conjugation alone', 'parem'],
    ['"pare de" and something else', 'pare de me ligar, vou pagar amanhã'],
    ['"stop" about something else', 'parar de pagar'],
    ['"I no longer want" (a person reads it)', 'não quero mais receber'],
    ['only a signature after a message', 'Oi\nEnviado do meu iPhone'],
    ['the signature-like first line is the message', 'Enviado do meu iPhone\nSAIR'],
    ['spelled out', 'S A I R'],
    ['"the end" in a sentence', 'end of the month I pay'],
  ])('%s: %p is a message', (_why, body) => {
    expect(messageKind(body)).toBe('message');
  });
});

describe('normaliseWords', () => {
  it('drops accents, case and punctuation', () => {
    expect(normaliseWords('  Não, QUERO sáir!! ')).toEqual(['nao', 'quero', 'sair']);
  });
  it('folds compatibility forms and removes invisible format characters before splitting', () => {
    expect(normaliseWords('ＳＡ\u200BＩＲ 𝐏𝐀𝐑𝐄\u00AD')).toEqual(['sair', 'pare']);
  });
});

describe('withoutSignature', () => {
  it('cuts a signature line and what follows, never the first line', () => {
    expect(withoutSignature('SAIR\nEnviado do meu iPhone')).toBe('SAIR');
    expect(withoutSignature('Enviado do meu iPhone')).toBe('Enviado do meu iPhone');
    expect(withoutSignature('sair\nenviado')).toBe('sair\nenviado');
  });
});

describe('cutCodePoints', () => {
  it('counts code points, so an emoji at the limit stays whole', () => {
    expect(cutCodePoints('ab😀c', 3)).toBe('ab😀');
    expect(cutCodePoints('a'.repeat(1599) + '😀x', 1600)).toBe('a'.repeat(1599) + '😀');
    expect(cutCodePoints('abc', 5)).toBe('abc');
    expect(cutCodePoints('😀😀😀', 2)).toBe('😀😀');
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
