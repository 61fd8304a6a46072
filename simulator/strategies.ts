/** The strategies the benchmark compares. */
import type { Strategy } from './simulate';

/** Power at 1:1, 2:1 and 3:1, then predictive with each VICIdial adaptive behaviour. */
export const BENCH_STRATEGIES: readonly Strategy[] = [
  { label: 'power 1:1', mode: 'power', ratio: 1 },
  { label: 'power 2:1', mode: 'power', ratio: 2 },
  { label: 'power 3:1', mode: 'power', ratio: 3 },
  { label: 'pred HARD_LIMIT', mode: 'predictive', ratio: 4, behaviour: 'ADAPT_HARD_LIMIT' },
  { label: 'pred TAPERED', mode: 'predictive', ratio: 4, behaviour: 'ADAPT_TAPERED' },
  { label: 'pred AVERAGE', mode: 'predictive', ratio: 4, behaviour: 'ADAPT_AVERAGE' },
];

/** Preview, for completeness (agents ask for each call after looking at the lead). */
export const PREVIEW: Strategy = { label: 'preview', mode: 'preview', ratio: 1 };
