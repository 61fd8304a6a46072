/** Pacing: how many calls a campaign places now (pure; safe to bundle into Twilio Functions). */
export * from './types';
export { decidePacing, headroomFactor, riskTolerance, shiftProgress, DEFAULT_MIN_SAMPLE_DIALS, DEFAULT_MIN_TALK_SAMPLES, DEFAULT_NO_ANSWER_TIMEOUT_S } from './decide';
export {
  agentFreeWithin,
  expectedPositivePart,
  forecastParts,
  liveWithin,
  FORECAST_STEP_S,
  liveRatePerDial,
  liveRateWhileRinging,
  lognormalCdf,
  normalCdf,
  outcomeWith,
  probEndsWithin,
} from './forecast';
export type { ForecastParts } from './forecast';
export * from './definitions';
