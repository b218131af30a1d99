/**
 * Redis away, calls stay (issue 19 item 3), with two real nodes, real audio RTP and one Redis that
 * is killed. While it is away: media flows; the room open on B keeps admitting newcomers and
 * resumes on B (a bogus resume there is RESUME_FAILED); a new room, a relay through A, a relayed
 * client's request are answered UNAVAILABLE at once (not after a 5 s timeout); /readyz says 503
 * `redis-unavailable` while /healthz stays 200; the metrics say Redis is down and the node knows only
 * itself. Once Redis is back, a bogus resume through either node is RESUME_FAILED too. An SDK client relayed through A whose connection drops meanwhile retries its resume
 * (UNAVAILABLE is retryable) and is back, the same peer, once Redis is. SIGTERM while Redis is away
 * drains without it: the node's rooms hear SERVER_SHUTDOWN at DRAIN_TIMEOUT_MS and it exits 0; the
 * client relayed to it is told once Redis is back.
 */
import { ConnectError, connectRoomSocket } from '../../client/connect';
import { request } from '../../client/request';
import type { RoomClient } from '../../client/sdk';
import { waitFor as waitUntil } from '../e2e/support/wait';
import { nextEvent, nodeRoomClient, testTrack } from '../e2e/support/node-sdk';
import { httpsJson } from '../helpers/https-json';
import { samples, scrape } from '../helpers/prometheus';
import { waitFor } from '../helpers/server';
import { startTcpLink, type TcpLink } from '../helpers/tcp-link';
import { CallClient, mediaFlows } from './support/call-client';
import { roomOn, startClusterNodes, type ClusterNode } from './support/cluster-nodes';
import { freePort, startRedis, type TestRedis } from './support/redis';

jest.setTimeout(90_000);

const GRACE_MS = 15_000;
const DRAIN_TIMEOUT_MS = 2_000;
let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
let bMetrics: string;
let link: TcpLink;
const clients: CallClient[] = [];
const sdks: RoomClient[] = [];

function client(name: string, roomId: string, node: ClusterNode): CallClient {
  const c = new CallClient({ name, roomId, node: () => node, graceMs: GRACE_MS });
  clients.push(c);
  return c;
}

/** How a connection attempt ends: 'ok', or the refusal's code, and how long it took. */
async function attempt(node: ClusterNode, roomId: string, auth?: Record<string, unknown>) {
  const startedAt = Date.now();
  try {
    const socket = await connectRoomSocket(node.url, roomId, { insecure: true, auth });
    socket.disconnect();
    return { outcome: 'ok', ms: Date.now() - startedAt };
  } catch (error) {
    return { outcome: error instanceof ConnectError ? error.code : String(error), ms: Date.now() - startedAt };
  }
}

const readiness = async (node: ClusterNode) => (await httpsJson(`${node.url}/readyz`)).status;

beforeAll(async () => {
  redis = await startRedis();
  const env = { ROOM_EMPTY_TIMEOUT_MS: '20000', RECONNECT_GRACE_MS: String(GRACE_MS), DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) };
  const metricsPort = await freePort();
  [a, b] = await startClusterNodes(redis.url, [
    { id: 'node-a', env },
    { id: 'node-b', env: { ...env, METRICS_PORT: String(metricsPort) } },
  ]);
  bMetrics = String((await b.line((l) => l.message === 'server listening')).metrics);
  link = await startTcpLink(Number(new URL(a.url).port));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.stop();
  await Promise.all(sdks.map((sdk) => sdk.leave()));
  await link?.close();
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

test('Redis away: calls go on, the rooms of a node keep admitting and resuming, the rest is UNAVAILABLE at once, readiness says so', async () => {
  const roomId = await roomOn(b, a, 'away');
  const ada = client('ada', roomId, b); // local on B
  const bob = client('bob', roomId, a); // relayed by A to B
  for (const c of [ada, bob]) await c.join();
  const sue = nodeRoomClient({ serverUrl: `https://127.0.0.1:${link.port}`, roomId, displayName: 'sue' }); // SDK, relayed by A
  sdks.push(sue);
  await sue.join();
  await sue.publishTrack('microphone', testTrack('audio'));
  await mediaFlows([ada, bob]);
  const [adaPeer, suePeer] = [ada.peerId, sue.peerId];

  await redis.kill();
  await waitUntil('both nodes to say Redis is away', async () =>
    (await readiness(a)) === 503 && (await readiness(b)) === 503 ? true : undefined,
  );
  expect((await httpsJson(`${b.url}/readyz`)).body).toMatchObject({ status: 'redis-unavailable' });
  expect((await httpsJson(`${b.url}/healthz`)).status).toBe(200);
  const metrics = samples((await scrape(bMetrics)).text);
  expect(metrics.get('confsfu_cluster_redis_up')).toBe(0);
  expect(metrics.get('confsfu_cluster_nodes{state="active"}')).toBe(1);

  // Calls go on: media never goes through Redis.
  await mediaFlows([ada, bob]);
  // The room open on B admits a newcomer on B, and a dropped client of B resumes there as the same peer.
  const eve = client('eve', roomId, b);
  await eve.join();
  ada.socket!.io.engine.close();
  await waitFor(() => ada.events.includes('resumed'), 'ada to resume on B', 5_000);
  expect(ada.peerId).toBe(adaPeer);
  await mediaFlows([ada, eve]);
  // A resume nobody can honour is RESUME_FAILED, as always.
  const stranger = await connectRoomSocket(b.url, roomId, { insecure: true });
  await expect(request(stranger, 'resume', { resumeToken: 'not-a-resume-token-of-this-room' })).rejects.toMatchObject({
    code: 'RESUME_FAILED',
  });
  stranger.disconnect();

  // What needs Redis is refused at once, retryable.
  for (const refused of [await attempt(b, 'brand-new-room'), await attempt(a, roomId)]) {
    expect(refused.outcome).toBe('UNAVAILABLE');
    expect(refused.ms).toBeLessThan(1_000);
  }
  const askedAt = Date.now();
  await expect(bob.request('getRouterRtpCapabilities', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(Date.now() - askedAt).toBeLessThan(1_000);

  // The SDK client's connection drops: its resume through A is UNAVAILABLE, retried until Redis is back.
  const reconnected = nextEvent(sue, 'reconnected', () => true, GRACE_MS);
  link.cut();
  await new Promise((r) => setTimeout(r, 300));
  link.restore();
  await new Promise((r) => setTimeout(r, 1_500));
  expect(sue.state).toBe('reconnecting');

  await redis.start();
  await waitUntil('both nodes to be ready again', async () =>
    (await readiness(a)) === 200 && (await readiness(b)) === 200 ? true : undefined,
  );
  await reconnected;
  expect(sue.peerId).toBe(suePeer);
  // The relayed client is served again (untouched, or resynced and resumed as the same peer).
  await waitUntil(
    'bob to be served again',
    async () =>
      bob.recovering === undefined && bob.connected
        ? bob.request('getRouterRtpCapabilities', {}).then(
            () => true,
            () => undefined,
          )
        : undefined,
    { timeoutMs: GRACE_MS },
  );
  await mediaFlows([ada, bob, eve]);
  for (const c of [ada, bob, eve]) expect(c.events.filter((e) => e.startsWith('roomClosed') || e.startsWith('ended'))).toEqual([]);
  // Through the other node too, a resume nobody can honour is RESUME_FAILED.
  const relayedStranger = await connectRoomSocket(a.url, roomId, { insecure: true });
  await expect(request(relayedStranger, 'resume', { resumeToken: 'not-a-resume-token-of-this-room' })).rejects.toMatchObject({
    code: 'RESUME_FAILED',
  });
  relayedStranger.disconnect();
});

test('SIGTERM while Redis is away: the node drains without it, its rooms hear SERVER_SHUTDOWN at the deadline, it exits 0', async () => {
  const [ada, bob, eve] = clients as [CallClient, CallClient, CallClient];
  await redis.kill();
  await waitUntil('B to say Redis is away', async () => ((await readiness(b)) === 503 ? true : undefined));
  const termAt = Date.now();
  b.child.kill('SIGTERM');
  await b.line((l) => String(l.message).startsWith('drain() | draining'), 3_000);
  expect(await Promise.race([b.exited, new Promise((r) => setTimeout(() => r('still running'), DRAIN_TIMEOUT_MS + 8_000))])).toBe(0);
  expect(Date.now() - termAt).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS - 100);
  for (const c of [ada, eve]) expect(c.events).toContain('roomClosed:SERVER_SHUTDOWN');

  // The client A relayed to B could not hear it (Redis was away): it is told once Redis is back and B is known gone.
  await redis.start();
  await waitFor(() => bob.events.includes('roomClosed:MEDIA_FAILURE'), 'bob to be told his room is gone', GRACE_MS);
  await waitFor(() => bob.events.includes('rejoined'), 'bob to join again (the room re-created on A)', GRACE_MS);
});
