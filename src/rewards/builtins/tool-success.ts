/** toolSuccess: the fraction of tool calls that were read and ran without error. */
import type { Episode, ToolCallRecord, Turn } from '../../core/episode.js';
import { rewardFunction, type RewardFunction } from '../types.js';
import type { BuiltinOptions } from './per-turn.js';

export interface ToolSuccessOptions extends BuiltinOptions {
  /** Score when no tool was called. Default 0 (tasks that need tools should not pay for skipping them). */
  noCalls?: number;
}

export function toolSuccess(options: ToolSuccessOptions = {}): RewardFunction {
  const name = options.name ?? 'tool_success';
  const noCalls = options.noCalls ?? 0;
  const fractionOk = (calls: ToolCallRecord[]) => (calls.length ? calls.filter((c) => c.ok).length / calls.length : noCalls);
  if ((options.scope ?? 'episode') === 'turn') return rewardFunction({ name, scope: 'turn', score: (turn: Turn) => fractionOk(turn.toolCalls) });
  return rewardFunction({ name, scope: 'episode', score: (episode: Episode) => fractionOk(episode.turns.flatMap((t) => t.toolCalls)) });
}
