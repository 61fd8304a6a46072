import { backoffSeconds, classifyMediaUrl, recordingKey } from '../../src/lib/domain/recordings/layout';

const CA = 'CA' + 'a'.repeat(32);
const RE = 'RE' + 'b'.repeat(32);
const AC = 'AC' + 'c'.repeat(32);

describe('recordingKey', () => {
  it('is yyyy/mm/dd/<CallSid>/<RecordingSid>.wav by the UTC date the recording started', () => {
    expect(recordingKey({ callSid: CA, recordingSid: RE, startedAt: '2026-11-25T23:59:30Z' })).toBe(`2026/11/25/${CA}/${RE}.wav`);
    // 22:30 in São Paulo on the 25th is already the 26th in UTC.
    expect(recordingKey({ callSid: CA, recordingSid: RE, startedAt: '2026-11-25T22:30:00-03:00' })).toBe(`2026/11/26/${CA}/${RE}.wav`);
    expect(recordingKey({ callSid: CA, recordingSid: RE, startedAt: new Date('2027-01-02T00:00:00Z') }, 'mp3')).toBe(`2027/01/02/${CA}/${RE}.mp3`);
  });
  it('refuses malformed SIDs and a missing start (no key made of junk)', () => {
    expect(() => recordingKey({ callSid: 'CA../../x', recordingSid: RE, startedAt: '2026-11-25T00:00:00Z' })).toThrow(/CallSid/);
    expect(() => recordingKey({ callSid: CA, recordingSid: 'RE1', startedAt: '2026-11-25T00:00:00Z' })).toThrow(/RecordingSid/);
    expect(() => recordingKey({ callSid: CA, recordingSid: RE, startedAt: 'never' })).toThrow(/start time/);
  });
});

describe('backoffSeconds', () => {
  it('doubles from 15 s and stops at an hour', () => {
    expect([0, 1, 2, 3, 4, 8, 9, 50].map((n) => backoffSeconds(n))).toEqual([0, 15, 30, 60, 120, 1920, 3600, 3600]);
    expect(backoffSeconds(3, 2, 10)).toBe(8);
    expect(backoffSeconds(Number.NaN)).toBe(0);
  });
});

describe('classifyMediaUrl', () => {
  const media = `https://api.twilio.com/2010-04-01/Accounts/${AC}/Recordings/${RE}`;
  it("accepts Twilio's API host (and regional ones) at this recording's own path", () => {
    expect(classifyMediaUrl(media, RE)).toEqual({ kind: 'twilio', url: media });
    expect(classifyMediaUrl(`${media}.wav`, RE)).toEqual({ kind: 'twilio', url: media });
    expect(classifyMediaUrl(media.replace('api.twilio.com', 'api.dublin.ie1.twilio.com'), RE).kind).toBe('twilio');
  });
  it('accepts the configured TWILIO_API_BASE_URL (the emulator), and only its origin', () => {
    const local = `http://127.0.0.1:3010/2010-04-01/Accounts/${AC}/Recordings/${RE}`;
    expect(classifyMediaUrl(local, RE, 'http://127.0.0.1:3010')).toEqual({ kind: 'twilio', url: local });
    expect(classifyMediaUrl(local, RE, 'http://127.0.0.1:3011').kind).toBe('refused');
    expect(classifyMediaUrl(local, RE).kind).toBe('refused');
  });
  it('refuses other hosts, look-alikes, plain http, credentials in the URL and another recording', () => {
    for (const bad of [
      `https://api.twilio.com.evil.example/2010-04-01/Accounts/${AC}/Recordings/${RE}`,
      `https://evil.example/api.twilio.com/2010-04-01/Accounts/${AC}/Recordings/${RE}`,
      `https://eviltwilio.com/2010-04-01/Accounts/${AC}/Recordings/${RE}`,
      media.replace('https:', 'http:'),
      media.replace('https://', 'https://user:pw@'),
      media.replace('api.twilio.com', 'api.twilio.com:8443'),
      media.replace(RE, 'RE' + 'd'.repeat(32)),
      `https://api.twilio.com/2010-04-01/Accounts/${AC}/Calls/${CA}`,
      'not a url',
      '',
    ]) {
      expect([bad, classifyMediaUrl(bad, RE).kind]).toEqual([bad, 'refused']);
    }
    expect(classifyMediaUrl(null, RE)).toEqual({ kind: 'refused', reason: 'the recording has no media URL' });
  });
  it("takes an https URL in AWS S3 as the account's external storage", () => {
    for (const ext of [
      `https://acme-calls.s3.sa-east-1.amazonaws.com/rec/${AC}/${RE}`,
      `https://acme-calls.s3.amazonaws.com/${RE}`,
      `https://s3.sa-east-1.amazonaws.com/acme-calls/${RE}`,
    ]) {
      expect(classifyMediaUrl(ext, RE).kind).toBe('external');
    }
    expect(classifyMediaUrl(`http://acme-calls.s3.amazonaws.com/${RE}`, RE).kind).toBe('refused');
    expect(classifyMediaUrl(`https://acme.s3.amazonaws.com.evil.example/${RE}`, RE).kind).toBe('refused');
  });
});
