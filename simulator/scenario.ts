/** Scenario files: the campaign, its leads and its agents, validated when loaded. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { normal, type Random } from './prng';

const seconds = z.number().nonnegative();

/** A distribution of durations in seconds. */
export const DistributionSchema = z.discriminatedUnion('dist', [
  z.object({ dist: z.literal('fixed'), value: seconds }),
  z.object({ dist: z.literal('uniform'), min: seconds, max: seconds }),
  z.object({ dist: z.literal('exponential'), mean: z.number().positive() }),
  z.object({ dist: z.literal('lognormal'), mean: z.number().positive(), sd: seconds, min: seconds.optional(), max: seconds.optional() }),
]);
/** A distribution of durations in seconds. */
export type Distribution = z.infer<typeof DistributionSchema>;

const probability = z.number().min(0).max(1);

const sumsToOne = (l: { human: number; machine: number; busy: number; noAnswer: number }): boolean =>
  Math.abs(l.human + l.machine + l.busy + l.noAnswer - 1) < 1e-9;

/** What a dial reaches: shares that add up to 1. */
export const LeadMixSchema = z.object({ human: probability, machine: probability, busy: probability, noAnswer: probability });
/** What a dial reaches. */
export type LeadMix = z.infer<typeof LeadMixSchema>;

/** The whole scenario file. */
export const ScenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string(),
    seed: z.number().int().nonnegative(),
    agents: z.number().int().positive(),
    shiftHours: z.number().positive().max(24),
    schedule: z.array(z.object({ atHour: z.number().nonnegative(), agents: z.number().int().nonnegative() })).optional(),
    leads: LeadMixSchema,
    /** Lead mix from a given hour of the shift on (answer rates that change during the day); before the first entry, `leads`. */
    leadsByHour: z
      .array(LeadMixSchema.extend({ fromHour: z.number().nonnegative() }))
      .refine((entries) => entries.every((e, i) => i === 0 || e.fromHour > (entries[i - 1] as { fromHour: number }).fromHour), {
        message: 'leadsByHour must be in increasing fromHour order',
      })
      .refine((entries) => entries.every(sumsToOne), { message: 'each leadsByHour entry must add up to 1' })
      .optional(),
    /** Seconds between heartbeat ticks; the pacer also decides on every event the live system triggers on. */
    heartbeatS: z.number().positive().max(60).default(5),
    /**
     * Whether a pacing round cut short by the CPS limit is followed by another one when the
     * decision says (`followUpS`, one second later), as the live tick does; false = the
     * held-back calls wait for the next event or heartbeat.
     */
    cpsFollowUp: z.boolean().default(true),
    /** Seconds from the moment a live answer may join its agent (disclaimer over, agent given) to the join: webhook + conference join. */
    connectLatencyS: seconds.max(10).default(0.3),
    ring: z.object({ humanAnswer: DistributionSchema, machineAnswer: DistributionSchema, busy: DistributionSchema, noAnswerTimeoutS: z.number().positive() }),
    amd: z.object({ delay: DistributionSchema, humanAccuracy: probability, machineAccuracy: probability }),
    disclaimerS: seconds,
    abandonGraceS: seconds.default(2),
    patience: DistributionSchema,
    talk: DistributionSchema,
    machineTalk: DistributionSchema,
    wrapUp: DistributionSchema,
    overflow: z.enum(['queue', 'drop']).default('queue'),
    campaign: z.object({
      cps: z.number().int().positive(),
      maxLines: z.number().int().positive(),
      abandonCap: probability,
      /**
       * AMD human accuracy the campaign is configured with, for the estimate of people AMD hung
       * up on (counted as abandoned by the pacer and in the KPIs). Default 0.96; null = the
       * pacer counts no estimate (the KPIs still show the rate with the default estimate).
       */
      amdHumanAccuracy: z.number().gt(0).max(1).nullable().optional(),
    }),
    /** Read by the live campaign simulation (npm run sim:campaign); ignored here. */
    live: z.unknown().optional(),
  })
  .refine((s) => sumsToOne(s.leads), {
    message: 'leads probabilities must add up to 1',
  });
/** A validated scenario. */
export type Scenario = z.infer<typeof ScenarioSchema>;

/** Validates a parsed JSON value as a scenario (throws with the zod issues). */
export function parseScenario(value: unknown): Scenario {
  return ScenarioSchema.parse(value);
}

/** The lead mix in force at `t` seconds into the shift. */
export function leadMixAt(scenario: Scenario, t: number): LeadMix {
  let mix: LeadMix = scenario.leads;
  for (const entry of scenario.leadsByHour ?? []) if (entry.fromHour * 3600 <= t) mix = entry;
  return mix;
}

/** Directory of the shipped scenarios. */
export const SCENARIO_DIR = join(__dirname, 'scenarios');

/** Loads every scenario file in a directory, sorted by file name. */
export function loadScenarios(dir: string = SCENARIO_DIR): Scenario[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      try {
        return parseScenario(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      } catch (error) {
        throw new Error(`scenario ${f}: ${(error as Error).message}`);
      }
    });
}

/** Draws one duration. */
export function draw(d: Distribution, random: Random): number {
  switch (d.dist) {
    case 'fixed':
      return d.value;
    case 'uniform':
      return d.min + (d.max - d.min) * random();
    case 'exponential':
      return -d.mean * Math.log(1 - random());
    case 'lognormal': {
      let x = d.mean;
      if (d.sd > 0) {
        const sigma2 = Math.log(1 + (d.sd * d.sd) / (d.mean * d.mean));
        x = Math.exp(Math.log(d.mean) - sigma2 / 2 + Math.sqrt(sigma2) * normal(random));
      }
      if (d.min !== undefined) x = Math.max(d.min, x);
      if (d.max !== undefined) x = Math.min(d.max, x);
      return x;
    }
  }
}

/** Expected value of a duration (numerically for a clamped log-normal). */
export function meanOf(d: Distribution): number {
  switch (d.dist) {
    case 'fixed':
      return d.value;
    case 'uniform':
      return (d.min + d.max) / 2;
    case 'exponential':
      return d.mean;
    case 'lognormal': {
      const clamp = (x: number): number => Math.min(d.max ?? Infinity, Math.max(d.min ?? -Infinity, x));
      if (d.sd <= 0) return clamp(d.mean);
      const sigma2 = Math.log(1 + (d.sd * d.sd) / (d.mean * d.mean));
      const mu = Math.log(d.mean) - sigma2 / 2;
      const sigma = Math.sqrt(sigma2);
      // Midpoint rule over the standard normal, +-10 sd.
      const step = 0.002;
      let sum = 0;
      for (let z = -10 + step / 2; z < 10; z += step) sum += clamp(Math.exp(mu + sigma * z)) * Math.exp(-0.5 * z * z);
      return (sum * step) / Math.sqrt(2 * Math.PI);
    }
  }
}
