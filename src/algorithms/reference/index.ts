/**
 * Pure TypeScript reference implementations of the native kernels: the executable
 * specification the native core is tested against. Exported as `reference`.
 */
export { computeGae } from './gae.js';
export { groupAdvantages } from './group.js';
export { whiten } from './whiten.js';
export { runningStats } from './running.js';
export { computePolicyLoss } from './loss.js';
