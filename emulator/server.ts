/**
 * CLI: runs the Twilio emulator until interrupted.
 *   tsx emulator/server.ts --port 3010 [--host 127.0.0.1] [--speed 1] [--cps 1]
 *     [--account-sid AC…] [--auth-token …] [--require-address] [--require-bundle] [--quiet]
 *     [--dialing-permissions BR,US|*] [--verified-caller-id +E164]…
 *     [--party '{"number":"+55…","answerAfter":2}']… [--number '+55…=http://app/voice/inbound']…
 * Prints the base URL and the main account's credentials.
 */
import { parseArgs } from 'node:util';
import { startEmulator } from './index';

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.EMULATOR_PORT ?? '3010' },
      host: { type: 'string', default: '127.0.0.1' },
      speed: { type: 'string', default: '1' },
      cps: { type: 'string' },
      'account-sid': { type: 'string', default: process.env.TWILIO_ACCOUNT_SID },
      'auth-token': { type: 'string', default: process.env.TWILIO_AUTH_TOKEN },
      'require-address': { type: 'boolean', default: false },
      'require-bundle': { type: 'boolean', default: false },
      party: { type: 'string', multiple: true },
      number: { type: 'string', multiple: true },
      quiet: { type: 'boolean', default: false },
      'dialing-permissions': { type: 'string' },
      'verified-caller-id': { type: 'string', multiple: true },
    },
  });
  const emu = await startEmulator({
    port: Number(values.port),
    host: values.host,
    speed: Number(values.speed),
    cps: values.cps ? Number(values.cps) : undefined,
    accountSid: values['account-sid'],
    authToken: values['auth-token'],
    requireAddressForBR: values['require-address'],
    requireBundleForBR: values['require-bundle'],
    dialingPermissions: values['dialing-permissions']?.split(',').map((c) => c.trim()).filter(Boolean),
    verifiedCallerIds: values['verified-caller-id'],
    log: values.quiet ? undefined : (line) => console.log(line),
  });
  for (const p of values.party ?? []) emu.addParty(JSON.parse(p));
  for (const n of values.number ?? []) {
    const [phoneNumber, voiceUrl] = n.split('=');
    if (phoneNumber) emu.addNumber({ phoneNumber, voiceUrl });
  }
  console.log(`Twilio emulator listening on ${emu.url} (speed x${values.speed})`);
  console.log(`TWILIO_API_BASE_URL=${emu.url}`);
  console.log(`TWILIO_ACCOUNT_SID=${emu.accountSid}`);
  console.log(`TWILIO_AUTH_TOKEN=${emu.authToken}`);
  const stop = () => void emu.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
