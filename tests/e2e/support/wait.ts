/** Polling with a deadline: E2E steps wait on conditions, never on fixed sleeps. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than undefined, and returns that.
 * On timeout, throws naming `description` (a function may report the last state it saw).
 */
export async function waitFor<T>(
  description: string | (() => string),
  probe: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 250 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof description === 'string' ? description : description()}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
