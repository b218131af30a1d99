/**
 * Two real nodes (`server/main.ts` processes) and one Redis on loopback: rooms spread over both
 * nodes; peers of one room connecting through different nodes see each other and exchange real
 * RTP both ways; a room cap is exact under concurrent joins through both nodes; the admin API of
 * either node lists every room and reaches the room's node (kick, mute, close); a peer whose
 * connection drops resumes through the other node.
 */
import { request, RequestError, type RoomSocket } from '../../client/request';
import type { NotificationMap } from '../../shared/contract';
import { publishPlain, subscribePlain } from '../helpers/plain-media';
import { connectToRoom, nextEvent, waitFor } from '../helpers/server';
import { HEARTBEAT_MS, inspectRedis, listRooms, startClusterNodes, type ClusterNode } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(60_000);

let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const sockets: RoomSocket[] = [];

async function join(node: ClusterNode, roomId: string, displayName: string) {
  const socket = await connectToRoom(node, roomId);
  sockets.push(socket);
  const joined = await request(socket, 'join', { displayName });
  return { socket, joined };
}

/** The node (a or b) hosting `roomId`, per the admin API. */
async function hostOf(roomId: string): Promise<ClusterNode> {
  const room = (await listRooms(a)).find((r) => r.roomId === roomId);
  if (!room) throw new Error(`room ${roomId} is not listed`);
  return room.nodeId === a.id ? a : b;
}

beforeAll(async () => {
  redis = await startRedis();
  [a, b] = await startClusterNodes(redis.url, [
    { id: 'node-a', env: { ROOM_EMPTY_TIMEOUT_MS: '0' } },
    { id: 'node-b', env: { ROOM_EMPTY_TIMEOUT_MS: '0' } },
  ]);
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

test('10 rooms opened through one node are spread over both, and either node lists all of them', async () => {
  for (let i = 0; i < 10; i++) await join(a, `spread-${i}`, `p${i}`);
  const [listedOnA, listedOnB] = await Promise.all([listRooms(a), listRooms(b)]);
  const spread = (rooms: typeof listedOnA) => rooms.filter((r) => r.roomId.startsWith('spread-'));
  expect(
    spread(listedOnA)
      .map((r) => r.roomId)
      .sort(),
  ).toEqual(Array.from({ length: 10 }, (_, i) => `spread-${i}`).sort());
  expect(spread(listedOnB).sort((x, y) => x.roomId.localeCompare(y.roomId))).toEqual(
    spread(listedOnA).sort((x, y) => x.roomId.localeCompare(y.roomId)),
  );
  const onA = spread(listedOnA).filter((r) => r.nodeId === a.id).length;
  const onB = spread(listedOnA).filter((r) => r.nodeId === b.id).length;
  expect(onA + onB).toBe(10);
  // Least-loaded placement: each claim counts at once, so neither node takes them all.
  expect(Math.min(onA, onB)).toBeGreaterThanOrEqual(3);
  for (const room of spread(listedOnA)) expect(room.peerCount).toBe(1);
});

test('peers of one room connecting through different nodes see each other and exchange real RTP both ways', async () => {
  const ada = await join(a, 'call', 'ada');
  const bobJoinedSeen = nextEvent<NotificationMap['peerJoined']>(ada.socket, 'peerJoined');
  const bob = await join(b, 'call', 'bob');
  expect(bob.joined.peers).toEqual([{ peerId: ada.joined.peerId, displayName: 'ada' }]);
  expect(await bobJoinedSeen).toEqual({ peerId: bob.joined.peerId, displayName: 'bob' });

  // Whichever node hosts it, one of the two is relayed through the other node.
  const host = await hostOf('call');
  expect([a.id, b.id]).toContain(host.id);

  const adaNewProducer = nextEvent<NotificationMap['newProducer']>(bob.socket, 'newProducer');
  const adaSends = await publishPlain(ada.socket, ['audio']);
  expect((await adaNewProducer).peerId).toBe(ada.joined.peerId);
  const bobNewProducer = nextEvent<NotificationMap['newProducer']>(ada.socket, 'newProducer');
  const bobSends = await publishPlain(bob.socket, ['audio']);
  expect((await bobNewProducer).peerId).toBe(bob.joined.peerId);

  const bobGets = await subscribePlain(bob.socket, [adaSends.producerIds.audio!]);
  const adaGets = await subscribePlain(ada.socket, [bobSends.producerIds.audio!]);
  try {
    await Promise.all([adaSends.send('audio', 100), bobSends.send('audio', 100)]);
    await waitFor(
      () => bobGets.received(adaSends.producerIds.audio!) >= 95 && adaGets.received(bobSends.producerIds.audio!) >= 95,
      'RTP both ways',
    );
  } finally {
    for (const udp of [adaSends.udp, bobSends.udp, bobGets.udp, adaGets.udp]) udp.close();
  }
});

test('a room cap of 3 admits exactly 3 of 10 concurrent joins made through both nodes', async () => {
  const created = await b.admin('POST', '/rooms', { roomId: 'capped', maxPeers: 3 });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ roomId: 'capped', maxPeers: 3 });
  expect([a.id, b.id]).toContain((created.body as { nodeId?: string }).nodeId);
  const outcomes = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const socket = await connectToRoom(i % 2 ? a : b, 'capped');
      sockets.push(socket);
      try {
        await request(socket, 'join', { displayName: `c${i}` });
        return 'ok';
      } catch (error) {
        return error instanceof RequestError ? error.code : String(error);
      }
    }),
  );
  expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3);
  expect(outcomes.filter((o) => o === 'ROOM_FULL')).toHaveLength(7);
  expect((await listRooms(a)).find((r) => r.roomId === 'capped')?.peerCount).toBe(3);
});

test("the admin API of the node not hosting a room reaches the room's node: mute, kick, close", async () => {
  const host = await (async () => {
    await join(a, 'managed', 'first');
    return hostOf('managed');
  })();
  const other = host === a ? b : a;
  // One peer through each node.
  const viaOther = await join(other, 'managed', 'relayed');
  const viaHost = await join(host, 'managed', 'local');

  const sends = await publishPlain(viaOther.socket, ['audio']);
  const muted = nextEvent<NotificationMap['producerPaused']>(viaOther.socket, 'producerPaused');
  const mute = await other.admin('POST', `/rooms/managed/peers/${viaOther.joined.peerId}/mute`, { kind: 'audio' });
  expect(mute).toMatchObject({ status: 200, body: { producerIds: [sends.producerIds.audio] } });
  expect(await muted).toMatchObject({ producerId: sends.producerIds.audio, reason: 'MUTED_BY_ADMIN' });
  sends.udp.close();

  const detail = await other.admin('GET', '/rooms/managed');
  expect(detail.status).toBe(200);
  expect((detail.body as { peers: unknown[]; nodeId: string }).peers).toHaveLength(3);
  expect((detail.body as { nodeId: string }).nodeId).toBe(host.id);

  const kicked = nextEvent<NotificationMap['roomClosed']>(viaOther.socket, 'roomClosed');
  const left = nextEvent<NotificationMap['peerLeft']>(viaHost.socket, 'peerLeft');
  expect((await other.admin('DELETE', `/rooms/managed/peers/${viaOther.joined.peerId}`)).status).toBe(204);
  expect(await kicked).toEqual({ reason: 'KICKED' });
  expect(await left).toEqual({ peerId: viaOther.joined.peerId });
  await waitFor(() => !viaOther.socket.connected, 'the kicked socket to be disconnected');

  const closed = nextEvent<NotificationMap['roomClosed']>(viaHost.socket, 'roomClosed');
  expect((await other.admin('DELETE', '/rooms/managed')).status).toBe(204);
  expect(await closed).toEqual({ reason: 'CLOSED_BY_ADMIN' });
  expect((await other.admin('GET', '/rooms/managed')).status).toBe(404);
});

test('a peer whose connection drops resumes through the other node, unnoticed by the others', async () => {
  const stay = await join(a, 'resumable', 'stay');
  const mover = await join(a, 'resumable', 'mover');
  let sawLeave = false;
  stay.socket.on('peerLeft', () => (sawLeave = true));
  // A network drop, not a leave: the client's transport closes.
  mover.socket.io.engine.close();
  await waitFor(() => !mover.socket.connected, 'the drop');

  const again = await connectToRoom(b, 'resumable');
  sockets.push(again);
  const resumed = await request(again, 'resume', { resumeToken: mover.joined.resumeToken });
  expect(resumed.peerId).toBe(mover.joined.peerId);
  expect(resumed.peers).toEqual([{ peerId: stay.joined.peerId, displayName: 'stay' }]);

  // Still a member: its requests work through the new node, and the others saw no leave.
  await expect(request(again, 'createTransport', { direction: 'recv', type: 'plain' })).resolves.toMatchObject({ ip: '127.0.0.1' });
  expect(sawLeave).toBe(false);
});

test('Redis losing its data (a restart without persistence): nodes register again, keep their rooms and take their claims back', async () => {
  const ada = await join(a, 'survivor', 'ada');
  const bob = await join(b, 'survivor', 'bob');
  const host = await hostOf('survivor');
  let closed = false;
  for (const { socket } of [ada, bob]) socket.on('roomClosed', () => (closed = true));
  const probe = await inspectRedis(redis.url);
  try {
    await probe.flushAll();
    // Within a few heartbeats both nodes are back, the room's claim is its host's again.
    const deadline = Date.now() + 10 * HEARTBEAT_MS + 2_000;
    for (;;) {
      const [nodes, claim] = await Promise.all([probe.sMembers('confsfu:nodes'), probe.get('confsfu:room:survivor')]);
      if (nodes.length === 2 && claim === host.id) break;
      if (Date.now() > deadline) {
        const trouble = [a, b].flatMap((node) => node.lines.filter((l) => l.level !== 'info').slice(-10));
        throw new Error(`not back: nodes ${JSON.stringify(nodes)}, claim ${claim}; ${JSON.stringify(trouble)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
    expect(closed).toBe(false);
    for (const { socket } of [ada, bob]) {
      expect(socket.connected).toBe(true);
      await expect(request(socket, 'createTransport', { direction: 'recv', type: 'plain' })).resolves.toMatchObject({ ip: '127.0.0.1' });
    }
    expect((await listRooms(b)).find((r) => r.roomId === 'survivor')).toMatchObject({ nodeId: host.id, peerCount: 2 });
  } finally {
    await probe.close();
  }
});
