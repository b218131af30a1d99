/**
 * Redis restarted empty (issue 19 item 2) while two real nodes carry calls with real audio RTP and
 * clients relayed both ways, three times in a row: nobody is declared dead, both nodes register
 * again and take their rooms' claims back, media never stops (it does not go through Redis), and
 * no client is left joined without service: each is either untouched or cut and resumed as the
 * same peer (what its node sent it during the outage may be lost), never told its room is gone.
 */
import { waitFor as waitUntil } from '../e2e/support/wait';
import { CallClient, mediaFlows } from './support/call-client';
import { inspectRedis, roomOn, startClusterNodes, type ClusterNode } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(90_000);

const GRACE_MS = 15_000;
let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const clients: CallClient[] = [];

function client(name: string, roomId: string, node: ClusterNode): CallClient {
  const c = new CallClient({ name, roomId, node: () => node, graceMs: GRACE_MS });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  const env = { ROOM_EMPTY_TIMEOUT_MS: '20000', RECONNECT_GRACE_MS: String(GRACE_MS) };
  [a, b] = await startClusterNodes(redis.url, [
    { id: 'node-a', env },
    { id: 'node-b', env },
  ]);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.stop();
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

test('Redis restarted empty, three times: nobody is declared dead, claims come back, every client keeps its place and media', async () => {
  const onB = await roomOn(b, a, 'restart-b');
  const onA = await roomOn(a, a, 'restart-a');
  const ada = client('ada', onB, b); // local on B
  const bob = client('bob', onB, a); // relayed by A to B
  const cat = client('cat', onA, a); // local on A
  const dan = client('dan', onA, b); // relayed by B to A
  const everyone = [ada, bob, cat, dan];
  for (const c of everyone) await c.join();
  await mediaFlows(everyone);
  const peers = everyone.map((c) => c.peerId);

  for (let round = 1; round <= 3; round++) {
    await redis.restart(500);
    // Media does not go through Redis.
    await mediaFlows(everyone);
    const probe = await inspectRedis(redis.url);
    try {
      await waitUntil(
        `round ${round}: both nodes registered again and holding their rooms`,
        async () => {
          const [nodes, claimB, claimA] = await Promise.all([
            probe.sMembers('confsfu:nodes'),
            probe.get(`confsfu:room:${onB}`),
            probe.get(`confsfu:room:${onA}`),
          ]);
          return nodes.length === 2 && claimB === b.id && claimA === a.id ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
    } finally {
      await probe.close();
    }
    // Every client is served again: untouched, or cut and resumed (within the grace), as the same peer.
    await waitUntil(
      `round ${round}: every client served`,
      async () => {
        if (everyone.some((c) => c.recovering !== undefined || !c.connected)) return undefined;
        const answers = await Promise.all(
          everyone.map((c) =>
            c.request('getRouterRtpCapabilities', {}).then(
              () => true,
              () => false,
            ),
          ),
        );
        return answers.every(Boolean) ? true : undefined;
      },
      { timeoutMs: GRACE_MS, intervalMs: 200 },
    );
    await mediaFlows(everyone);
  }
  expect(everyone.map((c) => c.peerId)).toEqual(peers);
  for (const c of everyone) expect(c.events.filter((e) => e.startsWith('roomClosed') || e.startsWith('ended'))).toEqual([]);
  for (const node of [a, b]) {
    expect(node.lines.filter((l) => l.message === 'node gone: its record expired; its rooms were released')).toEqual([]);
    expect(node.lines.filter((l) => l.message === 'heartbeat | Redis lost its data (restarted empty?): registered again')).toHaveLength(3);
  }
});
