/**
 * What this machine can do, measured by the native core: the ceilings that model
 * benchmarks report their speed against.
 */
import { callNative, native } from '../native.js';

export interface MachineCeilings {
  /** f32 matrix product rate through the same gemm the decoders use (n x n x n, best of reps). */
  matmulGflops: number;
  /** Multi-threaded copy rate, bytes read plus bytes written. */
  copyGbps: number;
}

export function measureMachine({ matmulSize = 1536, copyBytes = 256 << 20, reps = 5 } = {}): MachineCeilings {
  return {
    matmulGflops: callNative(() => native.matmulGflops(matmulSize, reps)),
    copyGbps: callNative(() => native.copyGbps(copyBytes, reps)),
  };
}
