/**
 * A node dies for real (SIGKILL): within its heartbeat expiry (NODE_TTL_MS) the surviving node
 * releases its rooms in Redis, tells the clients it relayed to them `roomClosed { reason:
 * 'MEDIA_FAILURE' }`, and a new join re-creates such a room on the survivor. Rooms of the
 * survivor notice nothing.
 */
import { request, type RoomSocket } from '../../client/request';
import type { NotificationMap } from '../../shared/contract';
import { connectToRoom, nextEvent } from '../helpers/server';
import { HEARTBEAT_MS, inspectRedis, listRooms, startClusterNodes, TTL_MS, type ClusterNode } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(60_000);

let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const sockets: RoomSocket[] = [];

async function join(node: ClusterNode, roomId: string, displayName: string) {
  const socket = await connectToRoom(node, roomId);
  sockets.push(socket);
  return { socket, joined: await request(socket, 'join', { displayName }) };
}

beforeAll(async () => {
  redis = await startRedis();
  [a, b] = await startClusterNodes(redis.url, [{ id: 'node-a' }, { id: 'node-b' }]);
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

test('SIGKILL of a node: within its expiry its rooms are released and re-created on the other node when joined', async () => {
  // Rooms opened through A until each node hosts some; every client connects through A.
  const clients = new Map<string, Awaited<ReturnType<typeof join>>>();
  for (let i = 0; i < 6; i++) clients.set(`r${i}`, await join(a, `r${i}`, `p${i}`));
  const rooms = await listRooms(a);
  const onB = rooms.filter((r) => r.nodeId === b.id).map((r) => r.roomId);
  const onA = rooms.filter((r) => r.nodeId === a.id).map((r) => r.roomId);
  expect(onB.length).toBeGreaterThan(0);
  expect(onA.length).toBeGreaterThan(0);
  const probe = await inspectRedis(redis.url);
  try {
    expect(await probe.get(`confsfu:room:${onB[0]}`)).toBe(b.id);

    const lost = onB.map((roomId) => nextEvent<NotificationMap['roomClosed']>(clients.get(roomId)!.socket, 'roomClosed', TTL_MS + 5_000));
    const killedAt = Date.now();
    b.child.kill('SIGKILL');

    // The clients relayed to B are told their room is gone, within the expiry (plus a heartbeat and slack).
    for (const closed of await Promise.all(lost)) expect(closed).toEqual({ reason: 'MEDIA_FAILURE' });
    const noticedMs = Date.now() - killedAt;
    expect(noticedMs).toBeLessThan(TTL_MS + 2 * HEARTBEAT_MS + 1_000);

    // B is out of the registry and its claims are gone.
    expect(await probe.sMembers('confsfu:nodes')).toEqual([a.id]);
    expect(await probe.exists(`confsfu:node:${b.id}`)).toBe(0);
    for (const roomId of onB) expect(await probe.get(`confsfu:room:${roomId}`)).toBeNull();
    expect((await listRooms(a)).map((r) => r.nodeId)).not.toContain(b.id);

    // A new join of such a room re-creates it on A.
    const again = await join(a, onB[0]!, 'back');
    expect(again.joined.peers).toEqual([]);
    expect((await listRooms(a)).find((r) => r.roomId === onB[0])?.nodeId).toBe(a.id);
    expect(await probe.get(`confsfu:room:${onB[0]}`)).toBe(a.id);

    // A's own rooms noticed nothing: their peers are still there and served.
    for (const roomId of onA) {
      const { socket } = clients.get(roomId)!;
      expect(socket.connected).toBe(true);
      await expect(request(socket, 'createTransport', { direction: 'recv', type: 'plain' })).resolves.toMatchObject({ ip: '127.0.0.1' });
    }
  } finally {
    await probe.close();
  }
});
