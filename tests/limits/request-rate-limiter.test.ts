/**
 * The per-socket request limiter (server/limits/rate-limits.ts): rate-limiter-flexible counts
 * every event (a steady rate, then the burst, then refusals; refusals past their limit mean
 * disconnect), and its verdict is applied synchronously from the next network read on.
 */
import { RequestRateLimiter } from '../../server/limits/rate-limits';

/** What separates two network reads: the limiter's verdicts of the previous one have landed. */
const nextRead = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function admitEach(limiter: RequestRateLimiter, key: string, count: number): Promise<boolean[]> {
  const outcomes: boolean[] = [];
  for (let i = 0; i < count; i++) {
    outcomes.push(limiter.admit(key).admitted);
    await nextRead();
  }
  return outcomes;
}

test('a steady rate per second, then the burst of its window, then refusals until the window lets go', async () => {
  const limiter = new RequestRateLimiter(
    { requestsPerSecond: 3, requestBurst: 2, disconnectAfterRefusals: 100 },
    { burstWindowSeconds: 2 },
  );
  // The 6th is over rate and burst: it is the one the library refuses; the 7th is refused at once.
  expect(await admitEach(limiter, 's', 7)).toEqual([true, true, true, true, true, true, false]);
  const refused = limiter.admit('s');
  expect(refused).toMatchObject({ admitted: false, disconnect: false });
  expect(!refused.admitted && refused.retryAfterMs).toBeGreaterThan(0);
  expect(!refused.admitted && refused.retryAfterMs).toBeLessThanOrEqual(1_000);
  // A new second: the rate again, the burst still spent within its window.
  await new Promise((resolve) => setTimeout(resolve, 1_050));
  expect(await admitEach(limiter, 's', 5)).toEqual([true, true, true, true, false]);
});

test('events read in one go are admitted before the verdict; the next read is refused', async () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 2, requestBurst: 0, disconnectAfterRefusals: 100 });
  expect([0, 1, 2, 3].map(() => limiter.admit('s').admitted)).toEqual([true, true, true, true]);
  await nextRead();
  expect(limiter.admit('s').admitted).toBe(false);
});

test('refused more than the limit within the window: disconnect', async () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 1, requestBurst: 0, disconnectAfterRefusals: 2 });
  expect(await admitEach(limiter, 's', 2)).toEqual([true, true]); // the 2nd is over: its verdict lands
  const refusals: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const admission = limiter.admit('s');
    refusals.push(!admission.admitted && admission.disconnect);
    await nextRead();
  }
  // Counted refusals: the 2nd request (over the rate), then these; the 3rd count passes the limit
  // of 2 and the next refusal carries the verdict.
  expect(refusals).toEqual([false, false, true]);
});

test('sockets are counted apart, and a forgotten socket starts afresh', async () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 1, requestBurst: 0, disconnectAfterRefusals: 100 });
  expect(await admitEach(limiter, 'a', 2)).toEqual([true, true]);
  expect(limiter.admit('b').admitted).toBe(true);
  expect(limiter.admit('a').admitted).toBe(false);
  limiter.forget('a');
  expect(limiter.admit('a').admitted).toBe(true);
});
