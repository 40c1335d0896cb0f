/** GAE, written as plainly as ALGORITHMS.md section 2 states it. */
import { fail } from '../../core/errors.js';
import { gaeArgs } from '../normalize.js';
import type { GaeOptions, GaeResult } from '../types.js';
import { checkLength, checkOffsets, checkRange } from './checks.js';
import { whitenInPlace } from './whiten.js';

export function computeGae(options: GaeOptions): GaeResult {
  const { rewards, values, dones, mask, offsets, bootstrap, gamma, lambda, whiten, out } = gaeArgs(options);
  const len = rewards.length;
  checkLength('values', values.length, 'rewards', len);
  if (dones) checkLength('dones', dones.length, 'rewards', len);
  if (mask) checkLength('mask', mask.length, 'rewards', len);
  checkRange('gamma', gamma, 0, 1);
  checkRange('lambda', lambda, 0, 1);
  const bounds = offsets ?? Int32Array.of(0, len);
  checkOffsets(bounds, len);
  const n = bounds.length - 1;
  if (bootstrap && bootstrap.length !== n) {
    fail(
      'ERR_LENGTH_MISMATCH',
      `bootstrap has length ${bootstrap.length} but there are ${n} trajectories; give one V_T per trajectory (0 for terminal ones)`,
    );
  }

  const advantages = out?.advantages ?? new Float32Array(len);
  const returns = out?.returns ?? new Float32Array(len);
  for (let k = 0; k < n; k++) {
    let nextValue = bootstrap ? bootstrap[k] : 0;
    let last = 0;
    for (let t = bounds[k + 1] - 1; t >= bounds[k]; t--) {
      if (!mask || mask[t] !== 0) {
        const notDone = dones && dones[t] !== 0 ? 0 : 1;
        const delta = rewards[t] + gamma * nextValue * notDone - values[t];
        last = delta + gamma * lambda * notDone * last;
        nextValue = values[t];
      }
      advantages[t] = last;
      returns[t] = last + values[t];
    }
  }
  if (whiten) whitenInPlace(advantages, mask);
  return { advantages, returns };
}
