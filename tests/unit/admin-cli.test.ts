import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDotEnv, type Env, type Io } from '../../scripts/lib/cli';
import { inferNumberType, run as numbers, webhookParams } from '../../scripts/numbers';
import { run as optOut } from '../../scripts/opt-out';
import { run as subaccounts } from '../../scripts/subaccounts';

const SID = 'AC' + '0123456789abcdef'.repeat(2);

function capture(): Io & { stdout: string[]; stderr: string[]; json(): any } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    json: () => JSON.parse(stdout.join('\n')),
  };
}

describe('inferNumberType', () => {
  test.each([
    ['+558001234567', 'toll_free'],
    ['+5511912345678', 'mobile'],
    ['+551133334444', 'local'],
    ['+552140041234', 'local'],
    ['+14155552671', null],
  ])('%s → %s', (n, t) => expect(inferNumberType(n)).toBe(t));
});

test('webhookParams points voice, voice fallback, status callback and SMS at the functions, POST, without a doubled slash', () => {
  expect(webhookParams('https://x.twil.io/')).toEqual({
    voiceUrl: 'https://x.twil.io/voice/inbound',
    voiceMethod: 'POST',
    voiceFallbackUrl: 'https://x.twil.io/voice/fallback',
    voiceFallbackMethod: 'POST',
    statusCallback: 'https://x.twil.io/webhooks/call-status#rc=3&rp=5xx,ct,rt&ct=2000&rt=5000&tt=15000',
    statusCallbackMethod: 'POST',
    smsUrl: 'https://x.twil.io/webhooks/sms',
    smsMethod: 'POST',
  });
});

describe('configuration errors', () => {
  test('a missing variable is named, with a pointer to .env.example, exit 2', async () => {
    const io = capture();
    expect(await numbers(['list'], {}, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/missing environment variable TWILIO_ACCOUNT_SID.*\.env\.example/);
  });

  test('--json errors are JSON with a stable code', async () => {
    const io = capture();
    expect(await subaccounts(['list', '--json'], { TWILIO_ACCOUNT_SID: 'nope' }, io)).toBe(2);
    expect(JSON.parse(io.stderr.join(''))).toEqual({ error: { code: 'ENV_INVALID', message: expect.stringMatching(/TWILIO_ACCOUNT_SID must be "AC"/) } });
  });

  test('an invalid number is refused with parsePhone’s reason', async () => {
    const io = capture();
    expect(await numbers(['buy', '(11) 9999-9999', '--dry-run'], { TWILIO_ACCOUNT_SID: SID }, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/invalid phone number "\(11\) 9999-9999": not a valid Brazilian number \(10 digits/);
  });

  test('point needs FUNCTIONS_BASE_URL', async () => {
    const io = capture();
    expect(await numbers(['point', 'all'], { TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 't' }, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/missing environment variable FUNCTIONS_BASE_URL/);
  });

  test('release refuses without --yes', async () => {
    const io = capture();
    expect(await numbers(['release', '+5511912345678'], { TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 't' }, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/pass --yes/);
  });

  test('unknown options are usage errors (exit 2)', async () => {
    const io = capture();
    expect(await numbers(['search', '--bogus'], {}, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/unknown option '--bogus'/);
  });
});

describe('dry runs print the exact requests', () => {
  test('buy: POST IncomingPhoneNumbers with the address, bundle and webhooks', async () => {
    const io = capture();
    const env: Env = { TWILIO_ACCOUNT_SID: SID, FUNCTIONS_BASE_URL: 'https://f.example' };
    const ad = 'AD' + 'a'.repeat(32);
    expect(await numbers(['buy', '011 9 1234-5678', '--address-sid', ad, '--dry-run', '--json'], env, io)).toBe(0);
    expect(io.json()).toEqual({
      dry_run: true,
      steps: [
        {
          kind: 'rest',
          method: 'POST',
          url: `https://api.twilio.com/2010-04-01/Accounts/${SID}/IncomingPhoneNumbers.json`,
          params: {
            PhoneNumber: '+5511912345678',
            AddressSid: ad,
            VoiceUrl: 'https://f.example/voice/inbound',
            VoiceMethod: 'POST',
            VoiceFallbackUrl: 'https://f.example/voice/fallback',
            VoiceFallbackMethod: 'POST',
            StatusCallback: 'https://f.example/webhooks/call-status#rc=3&rp=5xx,ct,rt&ct=2000&rt=5000&tt=15000',
            StatusCallbackMethod: 'POST',
            SmsUrl: 'https://f.example/webhooks/sms',
            SmsMethod: 'POST',
          },
        },
      ],
    });
  });

  test('search by area code sends Contains=+55<DDD> to the type’s resource', async () => {
    const io = capture();
    expect(await numbers(['search', '--type', 'mobile', '--area-code', '21', '--limit', '5', '--dry-run', '--json'], { TWILIO_ACCOUNT_SID: SID }, io)).toBe(0);
    const step = io.json().steps[0];
    expect(step.url).toMatch(/\/AvailablePhoneNumbers\/BR\/Mobile\.json$/);
    expect(step.params).toEqual({ VoiceEnabled: true, Contains: '+5521', PageSize: 5 });
  });

  test('opt-out add: the RPC and its arguments, no database needed', async () => {
    const io = capture();
    expect(await optOut(['add', '(11) 99999-9999', '--reason', 'pediu', '--dry-run', '--json'], { USER: 'ana' }, io)).toBe(0);
    expect(io.json().steps).toEqual([
      { kind: 'rpc', fn: 'opt_out_add', args: { p_phone: '+5511999999999', p_reason: 'pediu', p_source: 'manual', p_created_by: 'cli:ana' } },
    ]);
  });

  test('opt-out import: batches, rejected lines and the summary', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-'));
    const file = path.join(dir, 'lista.csv');
    fs.writeFileSync(file, 'telefone;motivo\n11 99999-9999;a\n12;b\n21 2222-3333;c\n11 98888-7777;d\n');
    const io = capture();
    expect(await optOut(['import', file, '--source', 'procon_sp', '--batch-size', '2', '--dry-run', '--json'], { USER: 'ana' }, io)).toBe(0);
    const out = io.json();
    expect(out.lines_read).toBe(4);
    expect(out.rejected).toEqual([expect.objectContaining({ line: 3, input: '12' })]);
    expect(out.steps.map((s: any) => s.args.p_rows.map((r: any) => r.phone_number))).toEqual([
      ['+5511999999999', '+552122223333'],
      ['+5511988887777'],
    ]);
    expect(out.steps[0].args.p_source).toBe('procon_sp');
  });

  test('opt-out import: a column that does not exist is a usage error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-'));
    const file = path.join(dir, 'lista.csv');
    fs.writeFileSync(file, 'telefone\n11 99999-9999\n');
    const io = capture();
    expect(await optOut(['import', file, '--column', 'celular', '--dry-run'], {}, io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/no column named "celular"/);
  });
});

describe('loadDotEnv', () => {
  test('fills missing variables and never overrides set ones', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dotenv-'));
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, '# comment\nA=from-file\nB="quoted value"\nC=from-file\n');
    const env: Env = { C: 'from-env' };
    expect(loadDotEnv(env, file).sort()).toEqual(['A', 'B']);
    expect(env).toEqual({ A: 'from-file', B: 'quoted value', C: 'from-env' });
    expect(loadDotEnv(env, path.join(dir, 'missing'))).toEqual([]);
  });
});
