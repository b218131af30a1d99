/**
 * The per-socket request limiter's windows, with the clock given (server/limits/rate-limits.ts):
 * the arithmetic of rate-limiter-flexible's memory limiter and its BurstyRateLimiter, decided
 * synchronously.
 */
import { RequestRateLimiter } from '../../server/limits/rate-limits';

const T0 = 1_000_000;

test('a steady rate per second, then the burst of its 10 s window, then refusals', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 3, requestBurst: 2, disconnectAfterRefusals: 100 });
  const outcomes = Array.from({ length: 6 }, (_, i) => limiter.admit('s', T0 + i));
  expect(outcomes.map((o) => o.admitted)).toEqual([true, true, true, true, true, false]);
  // Refused: the rate window (opened at T0) ends first.
  expect(outcomes[5]).toEqual({ admitted: false, retryAfterMs: 1_000 - 5, disconnect: false });
  // A new second: the rate again, but the burst stays spent for its 10 s.
  expect([0, 1, 2, 3].map((i) => limiter.admit('s', T0 + 1_000 + i).admitted)).toEqual([true, true, true, false]);
  // Past the burst window, the burst is back.
  expect([0, 1, 2, 3, 4, 5].map((i) => limiter.admit('s', T0 + 10_000 + i).admitted)).toEqual([true, true, true, true, true, false]);
});

test('without a burst, the rate alone decides', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 2, requestBurst: 0, disconnectAfterRefusals: 100 });
  expect([0, 1, 2].map((i) => limiter.admit('s', T0 + i))).toEqual([
    { admitted: true },
    { admitted: true },
    { admitted: false, retryAfterMs: 998, disconnect: false },
  ]);
});

test('refused more than the limit within 10 s: disconnect', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 1, requestBurst: 0, disconnectAfterRefusals: 2 });
  limiter.admit('s', T0);
  const refusals = [1, 2, 3].map((i) => limiter.admit('s', T0 + i));
  expect(refusals.map((r) => !r.admitted && r.disconnect)).toEqual([false, false, true]);
});

test('sockets are counted apart, and a forgotten socket starts afresh', () => {
  const limiter = new RequestRateLimiter({ requestsPerSecond: 1, requestBurst: 0, disconnectAfterRefusals: 100 });
  expect(limiter.admit('a', T0).admitted).toBe(true);
  expect(limiter.admit('b', T0).admitted).toBe(true);
  expect(limiter.admit('a', T0 + 1).admitted).toBe(false);
  limiter.forget('a');
  expect(limiter.admit('a', T0 + 2).admitted).toBe(true);
});
