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

/** The whole scenario file. */
export const ScenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string(),
    seed: z.number().int().nonnegative(),
    agents: z.number().int().positive(),
    shiftHours: z.number().positive().max(24),
    schedule: z.array(z.object({ atHour: z.number().nonnegative(), agents: z.number().int().nonnegative() })).optional(),
    leads: z.object({ human: probability, machine: probability, busy: probability, noAnswer: probability }),
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
    }),
  })
  .refine((s) => Math.abs(s.leads.human + s.leads.machine + s.leads.busy + s.leads.noAnswer - 1) < 1e-9, {
    message: 'leads probabilities must add up to 1',
  });
/** A validated scenario. */
export type Scenario = z.infer<typeof ScenarioSchema>;

/** Validates a parsed JSON value as a scenario (throws with the zod issues). */
export function parseScenario(value: unknown): Scenario {
  return ScenarioSchema.parse(value);
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
