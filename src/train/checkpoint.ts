/**
 * What a checkpoint holds, inside the atomic folder of the checkpoint store:
 *
 *   model/            the weights as a HuggingFace folder (full fine-tuning), or
 *   adapter/          the LoRA adapter (PEFT layout) when training adapters
 *   training_state/   optimizer moments and step counters (model.saveTrainingState); absent
 *                     before the first optimizer step
 *   critic/           PPO's critic: value head, its trunk (or adapters) and optimizer
 *   trainer_state.json
 *
 * The trainer state is small: the step and the data position. Every random choice derives
 * from (seed, step) (see seeds.ts), so the seed is the whole RNG state.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { StatesetError } from '../core/errors.js';
import type { ComputeBackend } from '../backends/compute-backend.js';
import type { Critic } from '../model/critic.js';

export const TrainerStateSchema = z.object({
  /** Optimizer steps done. */
  step: z.number().int().nonnegative(),
  /** Scenarios (or SFT examples) consumed so far. */
  dataPosition: z.number().int().nonnegative(),
  /** The run's seed: with the step, it decides every random choice still to come. */
  seed: z.number().int().nonnegative(),
  /** Steps the optimizer skipped (non-finite loss or gradient) so far. */
  skippedSteps: z.number().int().nonnegative(),
});

export type TrainerState = z.infer<typeof TrainerStateSchema>;

export const CHECKPOINT_PARTS = { model: 'model', adapter: 'adapter', trainingState: 'training_state', critic: 'critic', trainerState: 'trainer_state.json' } as const;

export async function writeCheckpoint(
  dir: string,
  model: ComputeBackend,
  state: TrainerState,
  options: { lora: boolean; optimizerStarted: boolean; critic?: Critic },
): Promise<void> {
  if (options.lora) await model.saveAdapter(join(dir, CHECKPOINT_PARTS.adapter));
  else await model.save(join(dir, CHECKPOINT_PARTS.model));
  if (options.optimizerStarted) await model.saveTrainingState(join(dir, CHECKPOINT_PARTS.trainingState));
  if (options.critic) await options.critic.save(join(dir, CHECKPOINT_PARTS.critic));
  writeFileSync(join(dir, CHECKPOINT_PARTS.trainerState), JSON.stringify(state, null, 2) + '\n');
}

export function readTrainerState(dir: string): TrainerState {
  const path = join(dir, CHECKPOINT_PARTS.trainerState);
  try {
    return TrainerStateSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (cause) {
    throw new StatesetError('ERR_INVALID_CHECKPOINT', `${path} is missing or damaged (${(cause as Error).message}); resume from an earlier checkpoint by deleting this one.`, { cause });
  }
}
