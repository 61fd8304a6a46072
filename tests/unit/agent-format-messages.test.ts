/** The agent page's words for text messages and for a recording that cannot be played. */
import { channelLabel, clip, listenErrorText } from '../../src/web/agent/format';

test('channelLabel', () => {
  expect([channelLabel('whatsapp'), channelLabel('sms')]).toEqual(['WhatsApp', 'SMS']);
});

test('clip folds whitespace and cuts with an ellipsis', () => {
  expect(clip('  Olá,\n  tudo bem? ', 50)).toBe('Olá, tudo bem?');
  expect(clip('abcdefghij', 5)).toBe('abcd…');
});

test('listenErrorText: 403 and 404 in pt-BR, anything else by its code', () => {
  expect(listenErrorText(403, 'forbidden')).toBe('Você não tem permissão para ouvir este recado.');
  expect(listenErrorText(404, 'not_found')).toMatch(/^Recado não encontrado/);
  expect(listenErrorText(503, 'database_unavailable')).toBe('Sistema temporariamente indisponível. Tente em alguns segundos.');
});
