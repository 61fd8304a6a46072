import { parsePhone, parsePhoneWithNinthDigit } from '../../src/lib/domain/phone';

describe('parsePhoneWithNinthDigit', () => {
  test.each([
    ['11 8765-4321', '+5511987654321'],
    ['(11) 8765-4321', '+5511987654321'],
    ['+55 11 8765-4321', '+5511987654321'],
    ['0055 11 8765-4321', '+5511987654321'],
    ['011 8765-4321', '+5511987654321'],
    ['0 15 11 8765-4321', '+5511987654321'],
    ['0xx11 8765-4321', '+5511987654321'],
    ['21 6543-2109', '+5521965432109'],
    ['(85) 9876-5432', '+5585998765432'],
    // libphonenumber still accepts 8-digit numbers starting 7 as mobiles; the whole old mobile range 6-9 gets the 9.
    ['11 7765-4321', '+5511977654321'],
  ])('old mobile %s becomes %s, flagged', (input, e164) => {
    expect(parsePhone(input).ok ? (parsePhone(input) as { e164: string }).e164 : 'invalid').not.toBe(e164);
    expect(parsePhoneWithNinthDigit(input)).toMatchObject({ ok: true, e164, type: 'MOBILE', ninthDigitAdded: true });
  });

  test.each([
    ['11 3333-4444', '+551133334444'],
    ['(21) 2222-3333', '+552122223333'],
    ['51 5555-1234', '+555155551234'],
    ['11 98765-4321', '+5511987654321'],
    ['0800 123 4567', '+558001234567'],
  ])('%s stays %s, not flagged', (input, e164) => {
    expect(parsePhoneWithNinthDigit(input)).toMatchObject({ ok: true, e164, ninthDigitAdded: false });
  });

  test.each([
    ['8765-4321', /not a valid Brazilian number/], // no area code: nothing to complete
    ['11 8765-4321 ramal 2', /letters/],
    ['00 8765-4321', /./],
    ['11 1765-4321', /not a valid Brazilian number/], // 8 digits starting 1: neither range
  ])('%s is still refused', (input, reason) => {
    const r = parsePhoneWithNinthDigit(input);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(reason);
  });
});
