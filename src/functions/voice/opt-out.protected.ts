/**
 * /voice/opt-out — `<Gather action>` of the disclaimer. The opt-out key puts the customer's
 * number on the opt-out list and ends the call politely; any other key goes on to the agent.
 * Database down: the customer is told the request could not be registered (and it is logged).
 */
import twilio from 'twilio';
import { urlFor } from '../../lib/runtime/config';
import { BadRequest } from '../../lib/runtime/http';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { isE164 } from '../../lib/domain/e164';
import { customerNumber } from '../../lib/domain/routing';
import { say } from '../../lib/domain/twiml';
import { gatherParams, parseParams } from '../../lib/runtime/params';

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(gatherParams, params);
    const twiml = new twilio.twiml.VoiceResponse();
    if (call.Digits !== config.OPT_OUT_KEY) {
      twiml.redirect({ method: 'POST' }, urlFor(config, '/voice/outbound?step=connect'));
      return twiml;
    }
    const phone = customerNumber(call);
    if (!isE164(phone)) throw new BadRequest(`customer number ${phone} is not an E.164 phone number`, 'invalid_number');
    unwrap(await db.rpc('opt_out_from_call', { p_call_sid: call.CallSid, p_phone: phone, p_source: 'ivr' }));
    say(twiml, config, MESSAGES.optOutConfirmed);
    twiml.hangup();
    return twiml;
  },
  (config, params) => {
    console.error(`[discador] opt-out NOT recorded (database unavailable): call ${params['CallSid']} number ${params['Direction'] === 'inbound' ? params['From'] : params['To']}`);
    const twiml = new twilio.twiml.VoiceResponse();
    say(twiml, config, MESSAGES.optOutFailed);
    twiml.hangup();
    return twiml;
  },
);
