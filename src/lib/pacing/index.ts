/** Pacing: how many calls a campaign places now (pure; safe to bundle into Twilio Functions). */
export * from './types';
export { decidePacing, riskTolerance, shiftProgress, DEFAULT_MIN_SAMPLE_DIALS, DEFAULT_MIN_TALK_SAMPLES } from './decide';
export {
  agentFreeWithin,
  expectedPositivePart,
  forecastParts,
  liveRatePerDial,
  liveRateWhileRinging,
  lognormalCdf,
  normalCdf,
  outcomeWith,
  probEndsWithin,
} from './forecast';
export type { ForecastParts } from './forecast';
