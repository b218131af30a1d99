/**
 * Redis restarted empty, three times in a row, then stalled (SIGSTOP) past the nodes' TTL (issue 19
 * items 2 and 3), while two real nodes carry calls with real audio RTP and clients relayed both
 * ways: nobody is declared dead, both nodes register again and keep (or take back) their rooms'
 * claims, media never stops (it does not go through Redis), and no client is left joined without
 * service: each is either untouched or cut and resumed as the same peer (what its node sent it
 * during the outage may be lost), never told its room is gone.
 */
import { waitFor as waitUntil } from '../e2e/support/wait';
import { CallClient, mediaFlows } from './support/call-client';
import { inspectRedis, roomOn, startClusterNodes, TTL_MS, type ClusterNode } from './support/cluster-nodes';
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

let onA: string;
let onB: string;
let everyone: CallClient[];
let peers: string[];

/** Both nodes registered and holding their rooms, every client served (untouched, or resumed as the same peer), media flowing. */
async function allBack(what: string): Promise<void> {
  const probe = await inspectRedis(redis.url);
  try {
    await waitUntil(
      `${what}: both nodes registered and holding their rooms`,
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
  await waitUntil(
    `${what}: every client served`,
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
  expect(everyone.map((c) => c.peerId)).toEqual(peers);
  for (const c of everyone) expect(c.events.filter((e) => e.startsWith('roomClosed') || e.startsWith('ended'))).toEqual([]);
  for (const node of [a, b])
    expect(node.lines.filter((l) => l.message === 'node gone: its record expired; its rooms were released')).toEqual([]);
}

test('Redis restarted empty, three times: nobody is declared dead, claims come back, every client keeps its place and media', async () => {
  onB = await roomOn(b, a, 'outage-b');
  onA = await roomOn(a, a, 'outage-a');
  const ada = client('ada', onB, b); // local on B
  const bob = client('bob', onB, a); // relayed by A to B
  const cat = client('cat', onA, a); // local on A
  const dan = client('dan', onA, b); // relayed by B to A
  everyone = [ada, bob, cat, dan];
  for (const c of everyone) await c.join();
  await mediaFlows(everyone);
  peers = everyone.map((c) => c.peerId);

  for (let round = 1; round <= 3; round++) {
    await redis.restart(500);
    // Media does not go through Redis.
    await mediaFlows(everyone);
    await allBack(`restart ${round}`);
  }
  for (const node of [a, b]) {
    expect(node.lines.filter((l) => l.message === 'heartbeat | Redis lost its data (restarted empty?): registered again')).toHaveLength(3);
  }
});

test('Redis stalled (SIGSTOP) past the TTL: the leases lapse, nobody is declared dead, every client keeps its place and media', async () => {
  const marks = [a.lines.length, b.lines.length];
  redis.process.kill('SIGSTOP');
  try {
    await mediaFlows(everyone);
    await new Promise((r) => setTimeout(r, 2.5 * TTL_MS));
    await mediaFlows(everyone);
  } finally {
    redis.process.kill('SIGCONT');
  }
  await allBack('after the stall');
  // Each node saw its lease lapse, and confirmed it (or registered again) without having been taken for dead.
  [a, b].forEach((node, i) => {
    const messages = node.lines.slice(marks[i]).map((l) => String(l.message));
    expect(messages).toContain('lease lapsed: not refreshed in time (a stall, or Redis away); confirming it before acting');
    expect(messages.filter((m) => m.includes('taken for dead'))).toEqual([]);
  });
});
