/**
 * Bench: how fast the Twilio emulator simulates a batch of dialer calls against a real HTTP TwiML app.
 *   npm run bench:emulator [-- --calls 200 --speed 200 --cps 20]
 * Each call: outbound API call with all status callbacks and async AMD, Say + Gather, the customer
 * presses 1, Dial to an agent with a whisper, 30 s of talk, Dial action, hang-up. Prints calls
 * simulated, wall time, virtual time and speed-up.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { startEmulator } from './index';
import { createTwilioClient } from '../src/lib/runtime/twilio-client';

async function main() {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '200' }, speed: { type: 'string', default: '200' }, cps: { type: 'string', default: '20' } } });
  const n = Number(values.calls);
  const emu = await startEmulator({ speed: Number(values.speed), cps: Number(values.cps), minRealTimeoutMs: 30000 });
  const VR = twilio.twiml.VoiceResponse;
  let requests = 0;
  let badSignatures = 0;
  let base = '';
  const app = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const url = base + (req.url ?? '/');
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      if (!twilio.validateRequest(emu.authToken, String(req.headers['x-twilio-signature'] ?? ''), url, params)) badSignatures++;
      const r = new VR();
      const path = new URL(url).pathname;
      if (path === '/answer') {
        r.say({ language: 'pt-BR' }, 'Olá, esta ligação pode ser gravada.');
        r.gather({ numDigits: 1, action: '/menu', timeout: 5 }).say({ language: 'pt-BR' }, 'Digite 1 para falar com um atendente.');
      } else if (path === '/menu') {
        r.dial({ action: '/dialed', timeout: 20 }).number({ url: '/whisper' }, `+55119888${String(Number(params.To?.slice(-4) ?? 0)).padStart(5, '0')}`);
      } else if (path === '/whisper') r.say('Cliente na linha');
      else if (path === '/dialed') r.hangup();
      else {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(r.toString());
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const client = createTwilioClient(emu.accountSid, emu.authToken, emu.url);
  const from = '+551130000001';
  await client.incomingPhoneNumbers.create({ phoneNumber: from });
  for (let i = 0; i < n; i++) {
    emu.addParty({ number: `+5511999${String(i).padStart(6, '0')}`, answerAfter: 2 + (i % 5), gather: ['1'], hangupAfter: 600 });
    emu.addParty({ number: `+55119888${String(i).padStart(5, '0')}`, answerAfter: 3, talkSeconds: 30 });
  }
  const wall0 = Date.now();
  const virtual0 = emu.clock.elapsed();
  const sids: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = await client.calls.create({
      to: `+5511999${String(i).padStart(6, '0')}`, from, url: `${base}/answer`, statusCallback: `${base}/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'], machineDetection: 'Enable', asyncAmd: 'true', asyncAmdStatusCallback: `${base}/amd`,
    });
    sids.push(c.sid);
  }
  await emu.waitUntilIdle({ timeoutMs: 300000 });
  const wallS = (Date.now() - wall0) / 1000;
  const virtualS = (emu.clock.elapsed() - virtual0) / 1000;
  const calls = emu.calls();
  const talked = calls.reduce((s, c) => s + c.durationS, 0);
  const bridged = calls.filter((c) => c.parentCallSid && c.status === 'completed').length;
  console.log(`calls simulated:     ${sids.length} outbound (+${calls.length - sids.length} agent legs, ${bridged} bridged)`);
  console.log(`webhooks answered:   ${requests} (bad signatures: ${badSignatures}, contract violations: ${emu.contractViolations().length})`);
  console.log(`wall time:           ${wallS.toFixed(2)} s`);
  console.log(`virtual time:        ${virtualS.toFixed(1)} s (clock speed x${emu.clock.speed})`);
  console.log(`speed-up:            ${(virtualS / wallS).toFixed(1)}x wall-clock; ${(talked / wallS).toFixed(0)} call-seconds simulated per second`);
  await emu.stop();
  await new Promise<void>((resolve) => app.close(() => resolve()));
  app.closeAllConnections();
  if (badSignatures || emu.contractViolations().length || bridged < sids.length) process.exitCode = 1;
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
