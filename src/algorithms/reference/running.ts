/** Welford statistics of one batch as [count, mean, m2]; non-finite values are skipped. */
export function runningStats(values: ArrayLike<number>): Float64Array {
  let count = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    count++;
    const delta = v - mean;
    mean += delta / count;
    m2 += delta * (v - mean);
  }
  return Float64Array.of(count, mean, m2);
}
