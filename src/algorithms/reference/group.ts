/**
 * Group-relative advantages, ALGORITHMS.md section 1. NaN rewards are missing: left out
 * of every statistic, advantage 0. Groups with fewer than two valid members or all-equal
 * valid rewards get advantage 0.
 */
import { fail } from '../../core/errors.js';
import { groupArgs } from '../normalize.js';
import type { GroupAdvantageOptions } from '../types.js';
import { checkLength, checkRange } from './checks.js';

interface Stats {
  count: number;
  mean: number;
  /** Sample standard deviation (n - 1). */
  std: number;
  allEqual: boolean;
}

export function statsOf(rewards: ArrayLike<number>): Stats {
  const valid = Array.from(rewards).filter((r) => !Number.isNaN(r));
  const count = valid.length;
  if (count === 0) return { count, mean: 0, std: 0, allEqual: true };
  const mean = valid.reduce((a, b) => a + b, 0) / count;
  const squares = valid.reduce((a, r) => a + (r - mean) ** 2, 0);
  const std = count > 1 ? Math.sqrt(squares / (count - 1)) : 0;
  return { count, mean, std, allEqual: valid.every((r) => r === valid[0]) };
}

export function groupAdvantages(options: GroupAdvantageOptions): Float32Array {
  const { rewards, groupSize, groupIds, estimator, scale, eps, out } = groupArgs(options);
  checkRange('eps', eps, 0, Number.MAX_VALUE);
  const groupOf = groupIndex(rewards.length, groupSize, groupIds);
  const members: number[][] = [];
  groupOf.forEach((g, i) => (members[g] ??= []).push(rewards[i]));
  const groups = members.map(statsOf);
  const batch = statsOf(rewards);

  const advantage = (r: number, i: number): number => {
    if (Number.isNaN(r)) return 0;
    const group = groups[groupOf[i]];
    let centered: number;
    if (estimator === 'reinforce_pp') {
      if (batch.count < 2 || batch.allEqual) return 0;
      centered = r - batch.mean;
    } else {
      if (group.count < 2 || group.allEqual) return 0;
      centered = r - group.mean;
      if (estimator === 'rloo') centered *= group.count / (group.count - 1);
    }
    const divisor = scale === 'group' ? group.std + eps : scale === 'batch' ? batch.std + eps : 1;
    return centered / divisor;
  };
  const result = out ?? new Float32Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) result[i] = advantage(rewards[i], i);
  return result;
}

/** The dense group index of each sample, in order of first appearance. */
function groupIndex(len: number, groupSize: number | undefined, groupIds: Int32Array | undefined): number[] {
  if (groupSize !== undefined) {
    if (len % groupSize !== 0) {
      fail(
        'ERR_INVALID_GROUPS',
        `groupSize ${groupSize} does not divide the batch of ${len} rewards; pass groups of equal size back to back, or groupIds for ragged groups`,
      );
    }
    return Array.from({ length: len }, (_, i) => Math.floor(i / groupSize));
  }
  const ids = groupIds!;
  checkLength('groupIds', ids.length, 'rewards', len);
  const negative = ids.findIndex((id) => id < 0);
  if (negative >= 0) fail('ERR_INVALID_GROUPS', `groupIds[${negative}] is negative (${ids[negative]}); group ids must be non-negative integers`);
  const dense = new Map<number, number>();
  return Array.from(ids, (id) => {
    if (!dense.has(id)) dense.set(id, dense.size);
    return dense.get(id)!;
  });
}
