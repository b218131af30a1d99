/**
 * A node SIGSTOPped past its TTL (issue 19 item 2), with two real nodes carrying calls with real
 * audio RTP and clients relayed both ways. While B is stopped: the clients A relays to B's room
 * are told MEDIA_FAILURE and join again (the room moves to A); the call B relays into A's room keeps
 * its media. When B resumes: it does not serve its stale copy of the moved room (its own client is
 * told MEDIA_FAILURE at once and joins again, relayed to A: one room, on one node), and the client
 * it relays into A's room — whose session A dropped when it took B for dead — is cut and resumes
 * as the same peer within the reconnect grace. Everyone ends up served, with media.
 */
import { waitFor } from '../helpers/server';
import { CallClient, mediaFlows } from './support/call-client';
import { HEARTBEAT_MS, listRooms, roomOn, startClusterNodes, TTL_MS, type ClusterNode } from './support/cluster-nodes';
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
  if (b?.child.signalCode === null) b.child.kill('SIGCONT');
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

test('a node stopped past its TTL: its moved room is not served twice, every client is told or resumes, and media flows', async () => {
  const onB = await roomOn(b, a, 'paused-host');
  const onA = await roomOn(a, a, 'paused-edge');
  const ada = client('ada', onB, b); // local on B
  const bob = client('bob', onB, a); // relayed by A to B
  const cat = client('cat', onA, a); // local on A
  const dan = client('dan', onA, b); // relayed by B to A
  for (const c of [ada, bob, cat, dan]) await c.join();
  await mediaFlows([ada, bob, cat, dan]);
  const [danPeer, adaPeer] = [dan.peerId, ada.peerId];

  b.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  // The client A relayed to the stopped node is told its room is lost, and joins it again on A.
  await waitFor(() => bob.events.includes('rejoined'), 'bob to join again', TTL_MS + 8_000);
  expect(bob.events).toContain('roomClosed:MEDIA_FAILURE');
  // A call B only relays goes on: its media never went through B.
  await mediaFlows([cat, dan]);
  await new Promise((r) => setTimeout(r, Math.max(0, 3 * TTL_MS - (Date.now() - stoppedAt))));

  b.child.kill('SIGCONT');
  const resumedAt = Date.now();
  // B's copy of the moved room is not served: its client hears MEDIA_FAILURE at once and joins the one on A.
  await waitFor(() => ada.events.includes('roomClosed:MEDIA_FAILURE'), "B's client to be told", 2_000);
  const toldAfterMs = Date.now() - resumedAt;
  await waitFor(() => ada.events.includes('rejoined'), 'ada to join again', 10_000);
  expect(ada.peerId).not.toBe(adaPeer);
  // The client B relays into A's room was dropped there (B was taken for dead): cut, it resumes as the same peer.
  await waitFor(() => dan.events.includes('resumed'), 'dan to resume', 10_000);
  expect(dan.peerId).toBe(danPeer);
  expect(Date.now() - stoppedAt).toBeLessThan(GRACE_MS);

  await mediaFlows([ada, bob, cat, dan], 25, 10_000);
  for (const c of [ada, bob, cat, dan]) expect(c.events.filter((e) => e.startsWith('ended'))).toEqual([]);
  // One copy of each room, on A, with its two people.
  const rooms = (await listRooms(a)).filter((r) => r.roomId === onB || r.roomId === onA);
  expect(
    rooms.map((r) => ({ roomId: r.roomId, nodeId: r.nodeId, peerCount: r.peerCount })).sort((x, y) => x.roomId.localeCompare(y.roomId)),
  ).toEqual(
    [
      { roomId: onA, nodeId: a.id, peerCount: 2 },
      { roomId: onB, nodeId: a.id, peerCount: 2 },
    ].sort((x, y) => x.roomId.localeCompare(y.roomId)),
  );
  expect(b.lines.some((l) => l.message === 'reclaim() | room taken over by another node while this one was away: closed here')).toBe(true);
  expect(toldAfterMs).toBeLessThan(1_000 + 2 * HEARTBEAT_MS);
});
