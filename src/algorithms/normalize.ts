/**
 * Turns user options into the exact arguments of the kernels (typed arrays, defaults
 * filled). The native core and the TypeScript reference both start from this.
 */
import { fail } from '../core/errors.js';
import { checkDisjoint, optional, toFloat32, toInt32, toMask, toOutput, type Mask } from './inputs.js';
import {
  DEFAULT_SCALE,
  GAE_DEFAULTS,
  GROUP_DEFAULTS,
  type Estimator,
  type GaeOptions,
  type GaeResult,
  type GroupAdvantageOptions,
  type Scale,
} from './types.js';

export interface GaeArgs {
  rewards: Float32Array;
  values: Float32Array;
  dones?: Uint8Array;
  mask?: Uint8Array;
  offsets?: Int32Array;
  bootstrap?: Float32Array;
  gamma: number;
  lambda: number;
  whiten: boolean;
  /** Where to write the result; absent: new arrays. */
  out?: GaeResult;
}

export function gaeArgs(options: GaeOptions): GaeArgs {
  if (options === null || typeof options !== 'object') fail('ERR_INVALID_ARGUMENT', 'computeGae takes an options object { rewards, values, ... }');
  const args: GaeArgs = {
    rewards: toFloat32('rewards', options.rewards),
    values: toFloat32('values', options.values),
    dones: optional(options.dones, (v) => toMask('dones', v)),
    mask: optional(options.mask, (v) => toMask('mask', v)),
    offsets: optional(options.offsets, (v) => toInt32('offsets', v)),
    bootstrap: optional(options.bootstrap, (v) => toFloat32('bootstrap', v)),
    gamma: number('gamma', options.gamma ?? GAE_DEFAULTS.gamma),
    lambda: number('lambda', options.lambda ?? GAE_DEFAULTS.lambda),
    whiten: options.whiten ?? GAE_DEFAULTS.whiten,
  };
  if (options.out !== undefined && options.out !== null) args.out = gaeOutputs(options.out, args);
  return args;
}

function gaeOutputs(out: unknown, a: GaeArgs): GaeResult {
  if (typeof out !== 'object' || out === null) {
    fail('ERR_INVALID_ARGUMENT', 'out must be an object { advantages, returns } of two Float32Arrays of the rewards\' length');
  }
  const { advantages, returns } = out as Partial<GaeResult>;
  const n = a.rewards.length;
  const buffers = { advantages: toOutput('out.advantages', advantages, n, 'reward'), returns: toOutput('out.returns', returns, n, 'reward') };
  checkDisjoint(
    [['out.advantages', buffers.advantages], ['out.returns', buffers.returns]],
    [['rewards', a.rewards], ['values', a.values], ['dones', a.dones], ['mask', a.mask], ['offsets', a.offsets], ['bootstrap', a.bootstrap]],
  );
  return buffers;
}

export interface GroupArgs {
  rewards: Float32Array;
  groupSize?: number;
  groupIds?: Int32Array;
  estimator: Estimator;
  scale: Scale;
  eps: number;
  /** Where to write the advantages; absent: a new array. */
  out?: Float32Array;
}

export function groupArgs(options: GroupAdvantageOptions): GroupArgs {
  if (options === null || typeof options !== 'object') fail('ERR_INVALID_ARGUMENT', 'groupAdvantages takes an options object { rewards, groupSize, ... }');
  const estimator = options.estimator ?? GROUP_DEFAULTS.estimator;
  if (!(estimator in DEFAULT_SCALE)) {
    fail('ERR_INVALID_ARGUMENT', `unknown estimator '${estimator}'; expected one of 'grpo', 'dr_grpo', 'rloo', 'reinforce_pp'`);
  }
  const scale = options.scale ?? DEFAULT_SCALE[estimator];
  if (!['group', 'batch', 'none'].includes(scale)) {
    fail('ERR_INVALID_ARGUMENT', `unknown scale '${scale}'; expected one of 'group', 'batch', 'none'`);
  }
  const hasSize = options.groupSize !== undefined && options.groupSize !== null;
  const hasIds = options.groupIds !== undefined && options.groupIds !== null;
  if (hasSize === hasIds) {
    fail('ERR_INVALID_GROUPS', 'give exactly one of groupSize (equal consecutive groups) or groupIds (one id per reward)');
  }
  if (hasSize && !(Number.isInteger(options.groupSize) && options.groupSize! >= 1 && options.groupSize! <= 0xffffffff)) {
    fail('ERR_INVALID_GROUPS', `groupSize must be a positive integer, got ${options.groupSize}`);
  }
  const args: GroupArgs = {
    rewards: toFloat32('rewards', options.rewards),
    groupSize: hasSize ? options.groupSize : undefined,
    groupIds: hasIds ? toInt32('groupIds', options.groupIds) : undefined,
    estimator,
    scale,
    eps: number('eps', options.eps ?? GROUP_DEFAULTS.eps),
  };
  if (options.out !== undefined && options.out !== null) {
    args.out = toOutput('out', options.out, args.rewards.length, 'reward');
    checkDisjoint([['out', args.out]], [['rewards', args.rewards], ['groupIds', args.groupIds]]);
  }
  return args;
}

export interface WhitenArgs {
  values: Float32Array;
  mask?: Uint8Array;
  out?: Float32Array;
}

export function whitenArgs(values: Float32Array | number[], mask?: Mask | number[], out?: Float32Array): WhitenArgs {
  const args: WhitenArgs = { values: toFloat32('values', values), mask: optional(mask, (m) => toMask('mask', m)) };
  if (out !== undefined && out !== null) {
    args.out = toOutput('out', out, args.values.length, 'value');
    checkDisjoint([['out', args.out]], [['values', args.values], ['mask', args.mask]]);
  }
  return args;
}

function number(name: string, value: unknown): number {
  if (typeof value !== 'number') fail('ERR_INVALID_PARAMETER', `${name} must be a number, got ${typeof value}`);
  return value;
}
