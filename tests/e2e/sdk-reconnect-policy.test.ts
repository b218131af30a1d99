/**
 * The SDK's `reconnectPolicy` option, in Node against the real server, the connection cut for real
 * (a TCP relay in front of the server destroys it and refuses new ones):
 *  - the policy is asked before each resume attempt (retry count, time since the drop, the
 *    server's grace, the previous attempt's error) and the client waits what it answers;
 *  - a policy that gives up ends the session at once with closed(DISCONNECTED);
 *  - whatever the policy answers, the client does not try past the server's grace.
 * The default policy's delays are unit-tested in tests/unit/sdk/reconnect-policy.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ReconnectContext, ReconnectPolicy, RoomClient } from '../../client/sdk';
import { startTestServer, type TestServer } from '../helpers/server';
import { startTcpLink, type TcpLink } from '../helpers/tcp-link';
import { nextEvent, nodeRoomClient } from './support/node-sdk';

const GRACE_MS = 4_000;
/** The test policy's wait between attempts: unlike any of the default policy's first waits (250, 500, 1,000 ms). */
const POLICY_DELAY_MS = 400;
const TRANSIENT = ['CONNECT_FAILED', 'DISCONNECTED', 'TIMEOUT', 'RATE_LIMITED'];

/** Answers `answer(context)` and records every context it is asked with. */
function recordingPolicy(answer: (context: ReconnectContext) => number | null): ReconnectPolicy & { asked: ReconnectContext[] } {
  const asked: ReconnectContext[] = [];
  return {
    asked,
    nextRetryDelayInMs: (context) => {
      asked.push(context);
      return answer(context);
    },
  };
}

describe('RoomClient reconnectPolicy, in Node', () => {
  let tmpDir: string;
  let server: TestServer;
  let link: TcpLink;
  const clients: RoomClient[] = [];

  async function joinThroughLink(reconnectPolicy: ReconnectPolicy): Promise<RoomClient> {
    const client = nodeRoomClient({
      roomId: `sdk-policy-${clients.length}-${Date.now().toString(36)}`,
      displayName: 'Bo',
      serverUrl: `https://127.0.0.1:${link.port}`,
      socketOptions: { rejectUnauthorized: false, transports: ['websocket'] },
      reconnectPolicy,
    });
    clients.push(client);
    await client.join();
    return client;
  }

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-sdk-policy-'));
    server = await startTestServer({ RECONNECT_GRACE_MS: String(GRACE_MS), CERTS_DIR: tmpDir });
    link = await startTcpLink(server.port);
  });

  afterEach(() => link.restore());

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.leave()));
    await link?.close();
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('asked before each attempt with what happened so far; the client waits what it answers', async () => {
    const policy = recordingPolicy(({ retryCount }) => (retryCount === 0 ? 0 : POLICY_DELAY_MS));
    const bo = await joinThroughLink(policy);

    const reconnecting = nextEvent(bo, 'reconnecting');
    link.cut();
    await reconnecting;
    // Failed attempts at the policy's pace (at 0, 400, 800, 1,200 ms), then the network is back.
    await new Promise((resolve) => setTimeout(resolve, 3.5 * POLICY_DELAY_MS));
    const reconnected = nextEvent(bo, 'reconnected');
    link.restore();
    const back = await reconnected;

    const asked = policy.asked;
    expect(asked.length).toBeGreaterThanOrEqual(3);
    // Each attempt was asked for, the last one succeeded.
    expect(back.attempts).toBe(asked.length);
    expect(asked.map((c) => c.retryCount)).toEqual(asked.map((_, i) => i));
    expect(asked.every((c) => c.graceMs === GRACE_MS)).toBe(true);
    expect(asked[0]?.lastError).toBeUndefined();
    for (const context of asked.slice(1)) expect(TRANSIENT).toContain(context.lastError?.code);
    for (let i = 1; i < asked.length; i++) {
      const current = asked[i] as ReconnectContext;
      const previous = asked[i - 1] as ReconnectContext;
      expect(current.elapsedMs).toBeGreaterThanOrEqual(previous.elapsedMs);
    }
    // The waits were the policy's: from the second attempt on, at least POLICY_DELAY_MS apart
    // (1 ms for the wall clock's rounding against the timer's).
    for (let i = 2; i < asked.length; i++) {
      const current = asked[i] as ReconnectContext;
      const previous = asked[i - 1] as ReconnectContext;
      expect(current.elapsedMs - previous.elapsedMs).toBeGreaterThanOrEqual(POLICY_DELAY_MS - 1);
    }
    expect(bo.state).toBe('joined');
  });

  test('a policy that gives up ends the session at once: closed(DISCONNECTED), long before the grace', async () => {
    const policy = recordingPolicy(({ retryCount }) => (retryCount < 2 ? 0 : null));
    const bo = await joinThroughLink(policy);

    const closed = nextEvent(bo, 'closed');
    const cutAt = Date.now();
    link.cut();
    expect(await closed).toEqual({ reason: 'DISCONNECTED' });
    expect(Date.now() - cutAt).toBeLessThan(GRACE_MS);
    expect(policy.asked.map((c) => c.retryCount)).toEqual([0, 1, 2]);
    expect(bo.state).toBe('closed');
  });

  test('a wait longer than the grace is cut to the grace: the client gives up then, not when the policy said', async () => {
    const policy = recordingPolicy(({ retryCount }) => (retryCount === 0 ? 0 : 60_000));
    const bo = await joinThroughLink(policy);

    const closed = nextEvent(bo, 'closed', () => true, GRACE_MS + 10_000);
    const cutAt = Date.now();
    link.cut();
    expect(await closed).toEqual({ reason: 'DISCONNECTED' });
    const closedAfterMs = Date.now() - cutAt;
    expect(closedAfterMs).toBeGreaterThanOrEqual(GRACE_MS - 100);
    expect(closedAfterMs).toBeLessThan(GRACE_MS + 10_000);
    // One immediate attempt, then the wait the policy asked for, cut to what was left of the grace.
    expect(policy.asked.slice(0, 2).map((c) => c.retryCount)).toEqual([0, 1]);
  });
});
