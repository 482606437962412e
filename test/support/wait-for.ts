export interface WaitForOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is being waited for; goes into the timeout error. */
  description: string;
}

/**
 * Polls `probe` until it returns a value other than undefined/false, and returns that value.
 * Throws after `timeoutMs` with the description and the last value or error seen.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  { timeoutMs, intervalMs = 100, description }: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      // A probe may fail while the thing comes up (connection refused); keep polling until the deadline.
      last = error;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await new Promise((resolveSleep) => setTimeout(resolveSleep, Math.min(intervalMs, remaining)));
  }
  const shown = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}; last value: ${shown}`);
}
