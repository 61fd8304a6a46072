import { isE164 } from '../../src/lib/domain/e164';
import { isE164 as isE164FromPhone, parsePhone, precleanPhone, toE164 } from '../../src/lib/domain/phone';

describe('parsePhone (default country Brazil)', () => {
  it.each([
    ['(11) 99999-9999', '+5511999999999', 'MOBILE'],
    ['011 9 9999-9999', '+5511999999999', 'MOBILE'],
    ['0 15 11 99999-9999', '+5511999999999', 'MOBILE'],
    ['0055 11 99999-9999', '+5511999999999', 'MOBILE'],
    ['0 xx 11 99999-9999', '+5511999999999', 'MOBILE'],
    ['0xx11 3333-4444', '+551133334444', 'FIXED_LINE'],
    ['+55 21 2555-1234', '+552125551234', 'FIXED_LINE'],
    ['5521987654321', '+5521987654321', 'MOBILE'],
    ['0800 123 4567', '+558001234567', 'TOLL_FREE'],
    ['whatsapp:+5511999999999', '+5511999999999', 'MOBILE'],
  ])('%s → %s', (input, e164, type) => {
    const r = parsePhone(input);
    expect(r).toMatchObject({ ok: true, e164, type });
  });

  it('gives the DDD and notes a whatsapp: prefix', () => {
    expect(parsePhone('whatsapp:+5568999991234')).toMatchObject({ ok: true, ddd: '68', whatsapp: true });
    expect(parsePhone('(92) 3232-1234')).toMatchObject({ ok: true, ddd: '92', whatsapp: false });
  });

  it('gives no DDD to non-geographic numbers', () => {
    expect(parsePhone('0800 123 4567')).toMatchObject({ ok: true, ddd: undefined });
    expect(parsePhone('0300 123 4567')).toMatchObject({ ok: true, ddd: undefined });
  });

  it.each([
    ['', 'empty phone number'],
    ['abc', 'no digits in phone number'],
    ['(11) 1234-5678', 'not a valid Brazilian number'],
    ['(11) 8999-9999', 'not a valid Brazilian number'],
    ['99999-9999', 'not a valid Brazilian number'],
    ['+1 555 0100', 'not a valid number for country code +1'],
    ['1234567890123456789', 'too many digits'],
    ['(11) 99999-9999 ramal 3', 'letters in phone number'],
    ['11 99999-9999,x', 'letters in phone number'],
    ['11+99999-9999', "'+' only allowed at the start"],
  ])('refuses %j with a reason', (input, reason) => {
    const r = parsePhone(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('refuses non-strings', () => {
    expect(parsePhone(undefined)).toMatchObject({ ok: false, reason: 'empty phone number' });
    expect(parsePhone(11999999999)).toMatchObject({ ok: false });
  });

  it('toE164 throws the reason', () => {
    expect(toE164('(11) 99999-9999')).toBe('+5511999999999');
    expect(() => toE164('(11) 1234-5678')).toThrow(/not a valid Brazilian number.*"\(11\) 1234-5678"/);
  });

  it('precleanPhone strips separators and international prefixes', () => {
    expect(precleanPhone(' 0055 (11) 9.9999-9999 ')).toBe('+5511999999999');
    expect(precleanPhone('0 XX 21 2222-3333')).toBe('2122223333');
  });
});

describe('isE164 (the light check functions import without libphonenumber)', () => {
  it.each([
    ['+5511999999999', true],
    ['+266696687', true],
    ['+12025550123', true],
    ['5511999999999', false],
    ['+0511999999999', false],
    ['+55119999999999999', false],
    ['Anonymous', false],
    ['', false],
    [undefined, false],
  ])('%p → %p', (value, ok) => {
    expect(isE164(value)).toBe(ok);
    expect(isE164FromPhone(value)).toBe(ok);
  });

  it('phone.ts re-exports the same function', () => {
    expect(isE164FromPhone).toBe(isE164);
  });
});
