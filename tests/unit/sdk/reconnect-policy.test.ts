/**
 * The SDK's default ReconnectPolicy: the first attempt at once, then 250 ms doubling to 2 s
 * (README "Staying in the call"), and its options. How the engine follows a policy (the grace
 * bound, giving up on null) is tested against a real server in tests/e2e/sdk-reconnect-policy.test.ts.
 */
import { DefaultReconnectPolicy, RoomClientError, type ReconnectContext } from '../../../client/sdk';

const GRACE_MS = 30_000;

function delays(policy: DefaultReconnectPolicy, attempts: number): number[] {
  return Array.from({ length: attempts }, (_, retryCount) => {
    const context: ReconnectContext = {
      retryCount,
      elapsedMs: retryCount * 1_000,
      graceMs: GRACE_MS,
      ...(retryCount > 0 ? { lastError: new RoomClientError('CONNECT_FAILED', 'refused') } : {}),
    };
    const delay = policy.nextRetryDelayInMs(context);
    if (delay === null) throw new Error('the default policy gave up');
    return delay;
  });
}

describe('DefaultReconnectPolicy', () => {
  test('tries at once, then waits 250 ms doubling up to 2 s, and keeps trying (the grace is the bound)', () => {
    expect(delays(new DefaultReconnectPolicy(), 8)).toEqual([0, 250, 500, 1_000, 2_000, 2_000, 2_000, 2_000]);
  });

  test('its first wait and its longest wait are options', () => {
    expect(delays(new DefaultReconnectPolicy({ firstDelayMs: 100, maxDelayMs: 700 }), 6)).toEqual([0, 100, 200, 400, 700, 700]);
  });

  test('a long outage neither overflows nor exceeds the longest wait', () => {
    const policy = new DefaultReconnectPolicy();
    expect(policy.nextRetryDelayInMs({ retryCount: 5_000, elapsedMs: GRACE_MS, graceMs: GRACE_MS })).toBe(2_000);
  });
});
