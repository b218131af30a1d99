/**
 * The per-socket request limiter (server/limits/rate-limits.ts): every event is decided as it
 * arrives, synchronously — a steady rate, then the burst, then refusals; refusals past their limit
 * mean disconnect. Events that arrive together (one network read, one long-polling POST) are
 * each counted before the next is decided: together they never get past the budget.
 */
import { RequestRateLimiter } from '../../server/limits/rate-limits';

function admitMany(limiter: RequestRateLimiter, key: string, count: number, now?: number): boolean[] {
  return Array.from({ length: count }, () => limiter.admit(key, now).admitted);
}

test('a steady rate per second, then the burst of its window, then refusals until the window lets go', () => {
  const limiter = new RequestRateLimiter(
    { requestsPerSecond: 3, requestBurst: 2, disconnectAfterRefusals: 100 },
    { burstWindowSeconds: 2 },
  );
  const t0 = 1_000_000;
  // 3 of the rate, 2 of the burst, then refused.
  expect(admitMany(limiter, 's', 7, t0)).toEqual([true, true, true, true, true, false, false]);
  const refused = limiter.admit('s', t0 + 100);
  expect(refused).toEqual({ admitted: false, retryAfterMs: 900, disconnect: false });
  // A new second: the rate again, the burst still spent within its window.
  expect(admitMany(limiter, 's', 5, t0 + 1_050)).toEqual([true, true, true, false, false]);
  // The burst window over: rate and burst again.
  expect(admitMany(limiter, 's', 6, t0 + 2_050)).toEqual([true, true, true, true, true, false]);
});

test('5,000 events at once: exactly the budget is admitted', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 50, requestBurst: 200, disconnectAfterRefusals: 1_000_000 });
  const admitted = admitMany(limiter, 's', 5_000).filter(Boolean).length;
  expect(admitted).toBe(250);
});

test('refused more than the limit within the window: the refusal past it says disconnect', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 1, requestBurst: 0, disconnectAfterRefusals: 2 });
  const t0 = 1_000_000;
  expect(limiter.admit('s', t0).admitted).toBe(true);
  const refusals = [1, 2, 3, 4].map(() => {
    const admission = limiter.admit('s', t0 + 10);
    return !admission.admitted && admission.disconnect;
  });
  expect(refusals).toEqual([false, false, true, true]);
});

test('sockets are counted apart, and a forgotten socket starts afresh', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 1, requestBurst: 0, disconnectAfterRefusals: 100 });
  expect(admitMany(limiter, 'a', 2)).toEqual([true, false]);
  expect(limiter.admit('b').admitted).toBe(true);
  expect(limiter.admit('a').admitted).toBe(false);
  limiter.forget('a');
  expect(limiter.admit('a').admitted).toBe(true);
});
