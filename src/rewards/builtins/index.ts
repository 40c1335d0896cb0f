export { politeness, POLITE_PHRASES, type PolitenessOptions } from './politeness.js';
export { conciseness, type ConcisenessOptions } from './conciseness.js';
export { lengthPenalty, softOverlongPunishment, overlongPenalty, type LengthPenaltyOptions, type OverlongOptions } from './length.js';
export { regexReward, keywords, type RegexOptions, type KeywordsOptions } from './keywords.js';
export { toolSuccess, type ToolSuccessOptions } from './tool-success.js';
export { llmJudge, type LlmJudgeOptions } from './llm-judge.js';
export type { BuiltinOptions } from './per-turn.js';
