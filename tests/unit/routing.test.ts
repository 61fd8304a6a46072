import { customerNumber, inboundRoute, type InboundDecision } from '../../src/lib/domain/routing';

const agent = { id: 7, name: 'Ana', phone_number: '+5511990000001', client_identity: 'ana', status: 'available' };
const cfg = (over: Partial<{ OPT_OUT_INBOUND: 'continue' | 'message' | 'reject'; FALLBACK_NUMBER: string }> = {}) => ({
  OPT_OUT_INBOUND: 'continue' as const,
  FALLBACK_NUMBER: undefined as string | undefined,
  ...over,
});

describe('inboundRoute', () => {
  it('an older database without a route: rings every device of the agent who owns the number, their voicemail after', () => {
    const d: InboundDecision = { opted_out: false, agent };
    expect(inboundRoute(d, cfg())).toEqual({ kind: 'dial', target: { kind: 'agent', phone: '+5511990000001', client: 'ana' }, agentId: 7 });
  });

  it('falls back to the fallback number, then voicemail', () => {
    expect(inboundRoute({ opted_out: false, agent: null }, cfg({ FALLBACK_NUMBER: '+5511955550000' }))).toEqual({
      kind: 'dial',
      target: { kind: 'number', number: '+5511955550000' },
    });
    expect(inboundRoute({ opted_out: false, agent: null }, cfg())).toEqual({ kind: 'voicemail' });
    expect(inboundRoute({ opted_out: false, agent: { ...agent, phone_number: null, client_identity: null } }, cfg())).toEqual({ kind: 'voicemail' });
  });

  it('without the database (null decision) uses the fallback number or voicemail', () => {
    expect(inboundRoute(null, cfg({ FALLBACK_NUMBER: '+5511955550000' }))).toMatchObject({ kind: 'dial' });
    expect(inboundRoute(null, cfg())).toEqual({ kind: 'voicemail' });
  });

  it('applies OPT_OUT_INBOUND to opted-out callers', () => {
    const d: InboundDecision = { opted_out: true, agent };
    expect(inboundRoute(d, cfg({ OPT_OUT_INBOUND: 'reject' }))).toEqual({ kind: 'reject' });
    expect(inboundRoute(d, cfg({ OPT_OUT_INBOUND: 'message' }))).toEqual({ kind: 'opted-out-message' });
    expect(inboundRoute(d, cfg({ OPT_OUT_INBOUND: 'continue' }))).toMatchObject({ kind: 'dial' });
  });
});

describe('customerNumber', () => {
  it('is the caller on inbound calls and the callee otherwise', () => {
    expect(customerNumber({ Direction: 'inbound', From: '+5511999990001', To: '+551130001000' })).toBe('+5511999990001');
    expect(customerNumber({ Direction: 'outbound-api', From: '+551130001000', To: '+5511999990001' })).toBe('+5511999990001');
  });
});
