/**
 * The compute backend: every heavy primitive the trainer, rollouts, evaluation, demo and
 * CLI need, over token ids and typed arrays. `native` (the in-process Rust engine, a
 * `Model` from loadModel) is the default; `tinker` drives a Tinker-compatible training
 * service. Nothing above this interface needs to know which one runs.
 *
 *   sample            generate(prompts, options)           completions with their log-probs
 *   compute log-probs score(sequences, options)            per-token log-probs, no gradient
 *   forward_backward  trainStep(batch, config)             the loss's gradient, then
 *   + optim_step                                           clipping and one AdamW update
 *   save/load state   saveTrainingState / loadTrainingState
 *   export weights    save(dir) (HF folder), saveAdapter(dir) (PEFT folder)
 */
import type { TrainBatch, TrainStepConfig, TrainStepMetrics } from '../model/train.js';
import type { Completion, GenerateOptions, ModelConfig, ScoreOptions, ScoreResult } from '../model/types.js';

export interface ComputeBackend {
  /** 'native' or 'tinker'. */
  readonly kind: string;
  readonly config: ModelConfig;
  /** The local path of the base weights, when there is one (adapters record it). */
  readonly source?: string;
  /** Whether training updates LoRA adapters (checkpoints then hold an adapter folder). */
  readonly trainsAdapters?: boolean;
  tokenize(text: string): Int32Array;
  detokenize(ids: Int32Array | number[]): string;
  generate(prompts: Int32Array[], options: GenerateOptions): Promise<Completion[]>;
  score(sequences: Int32Array[], options?: ScoreOptions): Promise<ScoreResult[]>;
  trainStep(batch: TrainBatch, config: TrainStepConfig): Promise<TrainStepMetrics>;
  save(dir: string): Promise<void>;
  saveTrainingState(dir: string): Promise<void>;
  loadTrainingState(dir: string): Promise<void>;
  saveAdapter(dir: string): Promise<void>;
  /** Log-probs of the frozen starting policy (the KL reference), when beta > 0. */
  reference?(): Promise<Pick<ComputeBackend, 'score'>>;
  /** Releases remote resources (sessions, models). */
  close?(): Promise<void>;
}
