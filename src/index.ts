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
export { makeTinyModel, inspectModel, convertModel, Tokenizer, type MakeTinyModelOptions, type TinySize } from './io/models.js';
export type { Architecture, GenerationDefaults, ModelConfigInfo, ModelInfo, SpecialToken } from './io/types.js';
export { exportGguf, GGUF_TYPES, type ExportGgufOptions, type GgufExport, type GgufType } from './io/export.js';
export { resolveModelPath, isHubRepoId, type ModelSource } from './io/hub/resolve.js';
export { Model, loadModel, randomModel } from './model/model.js';
export type { ComputeBackend } from './backends/compute-backend.js';
export type { BackendConfig } from './backends/config.js';
export { TinkerBackend, type TinkerTimings } from './backends/tinker/backend.js';
export type { TinkerBackendOptions } from './backends/tinker/options.js';
export type {
  Completion,
  GenerateOptions,
  LoadModelOptions,
  ModelConfig,
  ScoreOptions,
  ScoreResult,
} from './model/types.js';
export { measureMachine, type MachineCeilings } from './model/machine.js';
export { Critic, type CriticInfo, type CriticStepConfig, type CriticStepMetrics, type ValueBatch } from './model/critic.js';
export type { LoraOptions, StepPhases, TrainBatch, TrainStepConfig, TrainStepMetrics } from './model/train.js';
export { type Message, type Role, type ToolCall, messageSchema, system, user, assistant } from './core/messages.js';
export type { Episode, Trajectory, Turn, ToolCallRecord } from './core/episode.js';
export { Agent, STREAM_CHUNK_TOKENS, type AgentReply, type RespondOptions } from './agent/agent.js';
export {
  agentConfigSchema,
  parseAgentConfig,
  GENERATION_DEFAULTS,
  type AgentConfig,
  type AgentConfigInput,
  type GenerationConfig,
} from './agent/config.js';
export { ChatTemplate, CHATML_TEMPLATE, type TemplateTool } from './agent/chat-template.js';
export type { Policy, PolicyConfig, PolicyCompletion, PolicyGenerateOptions } from './agent/policy.js';
export { hermesToolCalls, type ToolCallFormat, type ParsedToolCalls, type ToolCallError } from './agent/tool-calls.js';
export { agentChat, openAIChat, type ChatBackend, type OpenAIChatOptions } from './agent/chat-backend.js';
export type { Environment, EnvironmentStart, EnvironmentStep } from './env/environment.js';
export { ConversationEnvironment, type ConversationEnvironmentOptions, type ConversationState, type StopContext } from './env/conversation.js';
export type { ConversationScenario } from './env/scenario.js';
export { scriptedUser, simulatedUser, type UserSimulator, type UserTurnContext, type SimulatedUserOptions } from './env/users.js';
export { tool, describeTool, runToolCall, type Tool, type ToolOutcome } from './env/tools.js';
export { PromptDataset, singleTurnEnvironment, type PromptItem } from './env/prompt-dataset.js';
export { rewardFunction, type RewardFunction, type RewardContext, type RewardDetail, type RewardValue, type RewardScope } from './rewards/types.js';
export { combineRewards, CompositeReward, type CompositeRewardOptions, type GroupRewards, type RewardCallStats, type WeightedReward } from './rewards/composite.js';
export { combineScores, type CombineMode } from './rewards/combine.js';
export * from './rewards/builtins/index.js';
export { collectRollouts, type RolloutBatch, type RolloutOptions } from './rollout/collect.js';
export { tokenAdvantages, returnsToGo, type CreditAssignment, type CreditOptions } from './rollout/credit.js';
export { createOpenAIApp, serveOpenAI, type OpenAIServerOptions, type RunningServer } from './serve/openai-server.js';
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
export { train, Trainer, type TrainOptions, type TrainResult, type TrainerCallbacks } from './train/trainer.js';
export { TrainerConfigSchema, presetConfig, resolveConfig, type TrainerConfig, type DeepPartial } from './train/config.js';
export { ALGORITHMS, PRESETS, type Algorithm, type Preset } from './train/presets.js';
export type { TrackingOptions } from './train/tracking.js';
export { evaluate, rolloutSummary, type EvaluateOptions } from './train/evaluate.js';
export { RunConfigSchema, parseRunConfig, loadRunConfig, type RunConfig } from './train/run-config.js';
export { runDemo, DEMO_ALGORITHMS, DEMO_DEFAULTS, type DemoOptions, type DemoAlgorithm } from './demo/run.js';
export { demoScenarios, demoEnvironment, DEMO_TOPICS, DEMO_SYSTEM_PROMPT, type DemoScenario, type DemoTopic, type DemoSplit, type DemoDetails } from './demo/scenarios.js';
export { demoCorpus, type DemoCorpusOptions } from './demo/corpus.js';
export { demoReward, demoRewardFunctions, replyMetrics, CONCISE_MAX_WORDS, type ReplyMetrics } from './demo/metrics.js';
export { evaluateDemo, klToBase, type DemoEvaluation, type DemoEvaluateOptions } from './demo/evaluate.js';
export { writeDemoReport, type DemoReport, type DemoSample, type TrainingPoint } from './demo/report.js';
export { makeDemoModel, DEMO_MODEL_SFT, type MakeDemoModelOptions, type DemoModelSummary } from './demo/make-model.js';
export { SHIPPED_MODEL_DIR, ORDER_DESK_MODEL_DIR, demoModelPath } from './demo/model-path.js';
export { makeSftModel, conversationExample, type SftModelRecipe, type MakeSftModelOptions, type SftModelResult } from './demo/sft-model.js';
export { trainMeasured, acrossGroups, samplesOf, type Measurement, type MeasuredTrainingOptions } from './demo/loop.js';
export { reportPage, type ReportPage } from './demo/report-html.js';
export { runOrderDesk, ORDER_DESK_DEFAULTS, type OrderDeskOptions } from './demo/order-desk/run.js';
export { orderDesk, orderDeskScenarios, drawDistinct, ID_LETTERS, ORDER_DESK_INTENTS, type OrderDeskScenario, type OrderDeskDetails, type OrderDeskIntent, type ExpectedCall } from './demo/order-desk/scenarios.js';
export { OrderDeskEnvironment, orderDeskEnvironment, orderDeskTools } from './demo/order-desk/environment.js';
export { OrderStore, ORDER_DESK_POLICY, describeOrder, orderId, refundAllowed, addressChangeAllowed, type Order } from './demo/order-desk/orders.js';
export { traceEpisode, ORDER_DESK_CHECKS, type OrderDeskCheck, type EpisodeTrace, type TurnTrace } from './demo/order-desk/checks.js';
export { checkReward, successReward, orderDeskRewards } from './demo/order-desk/rewards.js';
export { evaluateOrderDesk, orderDeskMetrics, successByIntent, type OrderDeskMetrics, type OrderDeskEvaluation } from './demo/order-desk/evaluate.js';
export { orderDeskCorpus, corpusChoices } from './demo/order-desk/corpus.js';
export { makeOrderDeskModel, ORDER_DESK_MODEL_RECIPE } from './demo/order-desk/make-model.js';
export { writeOrderDeskReport, type OrderDeskReport } from './demo/order-desk/report.js';
