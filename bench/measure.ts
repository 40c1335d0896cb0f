/** Timing helpers for benchmarks: the best of repeated runs, each long enough to time. */
import { performance } from 'node:perf_hooks';

/** Best seconds per call of `fn`, over rounds of at least `minSeconds` each. */
export function bestSecondsPerCall(fn: () => unknown, { rounds = 5, minSeconds = 0.05 } = {}): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      fn();
      calls++;
      elapsed = (performance.now() - start) / 1000;
    } while (elapsed < minSeconds);
    best = Math.min(best, elapsed / calls);
  }
  return best;
}

/**
 * Memory bandwidth of producing a new array from an old one (allocate + copy), in GB/s
 * counting bytes read plus bytes written: the least work a kernel that returns fresh
 * output arrays can do.
 */
export function copyBandwidthGbps(elements = 16_000_000): number {
  const src = new Float32Array(elements).fill(1);
  const seconds = bestSecondsPerCall(() => src.slice(), { rounds: 7 });
  return (2 * src.byteLength) / seconds / 1e9;
}

/**
 * Memory bandwidth of `Float32Array.set` into a buffer that already exists (its pages
 * mapped), in GB/s counting bytes read plus bytes written: the least work a kernel that
 * writes into the caller's buffers can do.
 */
export function setBandwidthGbps(elements = 16_000_000): number {
  const src = new Float32Array(elements).fill(1);
  const dst = new Float32Array(elements).fill(0);
  const seconds = bestSecondsPerCall(() => dst.set(src), { rounds: 7 });
  return (2 * src.byteLength) / seconds / 1e9;
}
