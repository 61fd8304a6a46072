/**
 * The product definitions the simulation judges a run with, in one place: the calling windows
 * (src/lib/domain/calling-window.ts), the abandon definitions
 * (src/lib/domain/pacing/definitions.ts) and the pure simulator's KPIs (simulator/kpis.ts).
 * The harness never keeps its own copy of a rule it checks the product against.
 */
import { simulateScenario } from '../simulator/kpis';

export {
  COLLECTIONS_SP,
  DDD_REGIONS,
  campaignWindowProfile,
  isOpenFor,
  type AdminHoliday,
  type CampaignWindowColumns,
  type WindowProfile,
} from '../src/lib/domain/calling-window';
export { abandonRate, estimatedAmdAbandons } from '../src/lib/domain/pacing/definitions';

/** The simulator's KPIs of one shift (simulator/kpis.ts), the fields the comparison reads. */
export interface SimulatorKpis {
  agentHours: number;
  talkMinPerAgentHour: number;
  occupancy: number;
  abandonRate: number;
  abandonRateWithAmd: number;
  dials: number;
  live: number;
  abandoned: number;
  connects: number;
  connectsPerAgentHour: number;
  meanAgentWaitS: number;
  peakLines: number;
}

/** The pure simulator, run on the same scenario for the comparison. */
export const simulatorModule: { simulateScenario(scenario: unknown, strategy: unknown, seed?: number): SimulatorKpis } = {
  simulateScenario: (scenario, strategy, seed) => simulateScenario(scenario as never, strategy as never, seed) as unknown as SimulatorKpis,
};

/** Which definitions were applied (printed with the report). */
export const sources = { windows: 'product', abandon: 'product', simulator: 'simulateScenario' } as const;

/** The DDD of a Brazilian E.164 number, or null. */
export function dddOf(e164: string): number | null {
  const m = /^\+55([1-9][0-9])[0-9]{8,9}$/.exec(e164);
  return m ? Number(m[1]) : null;
}
