/**
 * The shipped scenario emulator/scenarios/discador/sms-opt-out.json, run by the sim against
 * the flow stack's functions (the scenario's account is the local stack's, as with `npm
 * start`): the opt-out words are confirmed and listed with their source, Twilio's retry of the
 * first message stores it once, and the question is stored for Ana, unanswered.
 */
import { join } from 'node:path';
import { LOCAL } from '../../stack/defaults';
import { loadScenario, runScenario } from '../../emulator/scenario';
import { env, sql } from '../helpers/db';

jest.setTimeout(60000);

it('discador/sms-opt-out.json: listed, confirmed, stored once; the question waits for Ana', async () => {
  const scenario = loadScenario(join(__dirname, '../../emulator/scenarios/discador/sms-opt-out.json'));
  const result = await runScenario(scenario, { appUrl: env('FUNCTIONS_BASE_URL'), accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, quiet: true });
  expect(result.failures).toEqual([]);
  expect(result.ok).toBe(true);

  const sids = Object.fromEntries(Object.entries(result.messages).map(([id, m]) => [id, m.sid]));
  const rows = await sql(
    `select m.message_sid, m.channel, m.from_number, m.kind, a.name as agent, o.source as listed
       from inbound_messages m left join agents a on a.id = m.agent_id left join opt_outs o on o.phone_number = m.from_number
      where m.message_sid = any($1) order by m.id`,
    [Object.values(sids)],
  );
  expect(rows).toEqual([
    { message_sid: sids['sms-sair'], channel: 'sms', from_number: '+5521987650001', kind: 'opt_out', agent: null, listed: 'sms' },
    { message_sid: sids['whatsapp-parar'], channel: 'whatsapp', from_number: '+5521987650002', kind: 'opt_out', agent: null, listed: 'whatsapp' },
    { message_sid: sids['question'], channel: 'sms', from_number: '+5521987650003', kind: 'message', agent: 'Ana Souza', listed: null },
  ]);
});
