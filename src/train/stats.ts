/** Summary statistics of a step's numbers, NaN (missing) values left out. */

export function meanOf(values: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      sum += values[i];
      n++;
    }
  }
  return n ? sum / n : NaN;
}

/** Population standard deviation (the spread of the step's rewards, not an estimate). */
export function stdOf(values: ArrayLike<number>): number {
  const mean = meanOf(values);
  const finite = Array.from(values).filter(Number.isFinite);
  return finite.length ? Math.sqrt(finite.reduce((s, v) => s + (v - mean) ** 2, 0) / finite.length) : NaN;
}

/** The mean of each numeric field over several records (e.g. the passes of one step). */
export function meanRecord(records: Record<string, number>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...keys].map((k) => [k, meanOf(records.map((r) => r[k]).filter((v) => typeof v === 'number'))]));
}

/**
 * 1 - Var(R - V) / Var(R) over the masked tokens: how much of the returns' variance a
 * critic's values account for (1: all of it; 0: no better than predicting the mean; NaN
 * when the returns do not vary).
 */
export function explainedVariance(values: Float32Array[], returns: Float32Array[], masks: Uint8Array[]): number {
  const v: number[] = [];
  const r: number[] = [];
  masks.forEach((mask, i) => mask.forEach((m, t) => m && (v.push(values[i][t]), r.push(returns[i][t]))));
  const variance = (x: number[]) => {
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    return x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  };
  const total = variance(r);
  return r.length === 0 || total === 0 ? NaN : 1 - variance(r.map((x, i) => x - v[i])) / total;
}
