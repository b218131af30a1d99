/**
 * The room is moved, not lost, when its node dies: two SDK clients (Node, mediasoup-client's fake
 * handler) in a room hosted by node B, both connected through node A. SIGKILL of B: both hear
 * `roomClosed { reason: 'MEDIA_FAILURE' }` from A, join again by themselves ('reconnecting', then
 * 'reconnected'), the room is re-created on A, they see each other again and publish again.
 */
import type { RoomSocket } from '../../client/request';
import { request } from '../../client/request';
import type { RoomClient } from '../../client/sdk';
import { nextEvent, nodeRoomClient, recordEvents, testTrack, waitUntil } from '../e2e/support/node-sdk';
import { connectToRoom } from '../helpers/server';
import { listRooms, startClusterNodes, TTL_MS, type ClusterNode } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(60_000);

let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const clients: RoomClient[] = [];
const sockets: RoomSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const env = { ROOM_EMPTY_TIMEOUT_MS: '20000' };
  [a, b] = await startClusterNodes(redis.url, [
    { id: 'node-a', env },
    { id: 'node-b', env },
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.leave()));
  for (const socket of sockets) socket.disconnect();
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

/** A room B hosts, opened through A (its opener leaves; the room waits for its people). */
async function roomOnB(): Promise<string> {
  for (let i = 0; i < 8; i++) {
    const roomId = `moving-${i}`;
    const socket = await connectToRoom(a, roomId);
    sockets.push(socket);
    await request(socket, 'join', {});
    const onB = (await listRooms(a)).find((r) => r.roomId === roomId)?.nodeId === b.id;
    await request(socket, 'leave', {});
    if (onB) return roomId;
  }
  throw new Error('no room landed on node-b');
}

test('when the room’s node dies, SDK clients join again by themselves and the call goes on on a live node', async () => {
  const roomId = await roomOnB();
  const [alice, bob] = ['alice', 'bob'].map((displayName) => {
    const client = nodeRoomClient({ serverUrl: a.url, roomId, displayName });
    clients.push(client);
    return client;
  }) as [RoomClient, RoomClient];
  await alice.join();
  await alice.publishTrack('microphone', testTrack('audio'));
  const bobSeen = nextEvent(alice, 'trackPublished', (p) => p.source === 'microphone');
  await bob.join();
  await bob.publishTrack('microphone', testTrack('audio'));
  await bobSeen;
  expect((await listRooms(a)).find((r) => r.roomId === roomId)).toMatchObject({ nodeId: b.id, peerCount: 2 });
  const closed = [...recordEvents(alice, 'closed'), ...recordEvents(bob, 'closed')];
  const oldIds = [alice.peerId, bob.peerId];

  const back = Promise.all([alice, bob].map((client) => nextEvent(client, 'reconnected', () => true, TTL_MS + 10_000)));
  const reconnecting = Promise.all([alice, bob].map((client) => nextEvent(client, 'reconnecting', () => true, TTL_MS + 5_000)));
  b.child.kill('SIGKILL');
  await reconnecting;
  await back;

  // Both are in the room again, re-created on A, as new peers that see each other and publish again.
  expect([alice.state, bob.state]).toEqual(['joined', 'joined']);
  expect([alice.peerId, bob.peerId]).not.toContain(oldIds[0]);
  await waitUntil(
    () => alice.peers.some((p) => p.peerId === bob.peerId) && bob.peers.some((p) => p.peerId === alice.peerId),
    'each to see the other again',
    10_000,
  );
  await waitUntil(
    () =>
      alice.remotePublications.some((p) => p.peerId === bob.peerId && p.source === 'microphone') &&
      bob.remotePublications.some((p) => p.peerId === alice.peerId && p.source === 'microphone'),
    'each to see the other publish again',
    10_000,
  );
  const room = (await listRooms(a)).find((r) => r.roomId === roomId);
  expect(room).toMatchObject({ nodeId: a.id, peerCount: 2, producers: { audio: 2, video: 0 } });
  expect(closed).toEqual([]);
});
