/**
 * /voice/screen?agent=<id>[&step=key] — the whisper of a follow-me call on the agent's mobile
 * (`<Number url>`, run on the mobile before the bridge; the caller hears ringing). It names the
 * agent and asks for 1; pressing 1 (step=key, the Gather action) logs the acceptance on the
 * caller's call and connects; no key or another key hangs up, which the caller's Dial sees as
 * no answer (a mobile's own voicemail never presses 1). Allowed verbs there: Play, Say, Gather,
 * Hangup (twilio.com/docs/voice/twiml/number).
 * Database down: the prompt without the agent's name; the key still decides.
 */
import { screenKeyTwiml, screenTwiml, screenUrl } from '../../lib/domain/follow-me';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { gatherParams, parseParams } from '../../lib/runtime/params';
import { int, oneOf } from '../../lib/runtime/validate';

const screenParams = {
  ...gatherParams,
  agent: int(1, Number.MAX_SAFE_INTEGER),
  step: oneOf(['key'] as const).orElse(undefined),
};

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const p = parseParams(screenParams, params);
    const key = p.step === 'key' ? (p.Digits ?? '') : null;
    const r = unwrap(await db.rpc<{ agent_name: string | null }>('follow_me_screen', { p_agent_id: p.agent, p_parent_call_sid: p.ParentCallSid ?? null, p_key: key }));
    if (p.step === 'key') return screenKeyTwiml(config, p.Digits);
    return screenTwiml(config, r.agent_name, screenUrl(config, p.agent, 'key'));
  },
  (config, params) => {
    if (params['step'] === 'key') return screenKeyTwiml(config, params['Digits']);
    const agent = /^[1-9][0-9]{0,15}$/.test(params['agent'] ?? '') ? Number(params['agent']) : null;
    if (!config || agent === null) return screenKeyTwiml(config, undefined);
    return screenTwiml(config, null, screenUrl(config, agent, 'key'));
  },
);
