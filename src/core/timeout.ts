/** Runs sync or async user code with a deadline, so one hung callback cannot stall a run. */

export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Resolves with `run()`'s value, or rejects with a TimeoutError after `ms` milliseconds.
 * A synchronous function that never returns cannot be interrupted (JavaScript has one
 * thread); the deadline covers everything asynchronous.
 */
export async function withTimeout<T>(run: () => T | Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(run), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
