/** stateset-agents: train multi-turn conversational agents with reinforcement learning. */
export { StatesetError, type ErrorCode } from './core/errors.js';
export { computeGae, groupAdvantages, whiten, nativeKernels, NATIVE_MIN_ELEMENTS } from './algorithms/advantages.js';
export { RunningMeanStd, type RunningMeanStdState } from './algorithms/running.js';
export { computePolicyLoss } from './algorithms/loss.js';
export type {
  KlEstimator,
  LossAggregation,
  LossNormalizer,
  PolicyLossConfig,
  PolicyLossKind,
  PolicyLossMetrics,
  PolicyLossOptions,
  PolicyLossResult,
} from './algorithms/loss-options.js';
export { learningRate, type LearningRateSchedule } from './algorithms/schedule.js';
export * as reference from './algorithms/reference/index.js';
export type {
  Estimator,
  GaeOptions,
  GaeResult,
  GroupAdvantageOptions,
  Mask,
  Scale,
} from './algorithms/types.js';
export { makeTinyModel, inspectModel, convertModel, Tokenizer, type MakeTinyModelOptions } from './io/models.js';
export type { Architecture, GenerationDefaults, ModelConfigInfo, ModelInfo, SpecialToken } from './io/types.js';
export { Model, loadModel, randomModel } from './model/model.js';
export type {
  Completion,
  GenerateOptions,
  LoadModelOptions,
  ModelConfig,
  ScoreOptions,
  ScoreResult,
} from './model/types.js';
export { measureMachine, type MachineCeilings } from './model/machine.js';
