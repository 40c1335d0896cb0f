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
export { combineTrackers, type Tracker, type Metrics, type Sample } from './tracking/tracker.js';
export { JsonlTracker } from './tracking/jsonl.js';
export { TensorBoardTracker } from './tracking/tensorboard/tracker.js';
export { SafeTracker, type SafeTrackerOptions } from './tracking/safe.js';
export { ConsoleTracker, type ConsoleTrackerOptions } from './tracking/console.js';
export { WandbTracker, type WandbOptions } from './tracking/wandb.js';
export { CheckpointStore, COMPLETE_MARKER, type CheckpointInfo, type CheckpointStoreOptions } from './train/checkpoint-store.js';
export { loadConfig, parseConfig, type LoadConfigOptions, type LoadedConfig } from './config/load.js';
export { readConfigFile } from './config/file.js';
export { applyOverrides, parseOverrideValue } from './config/overrides.js';
export { describeZodIssues } from './config/zod-errors.js';
export { importModuleReference, ModuleReferenceSchema, type ModuleReference } from './config/modules.js';
