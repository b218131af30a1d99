/**
 * Graceful drain (SIGTERM with REDIS_URL), with real node processes: the node is marked draining
 * in Redis and /readyz says 503 at once, takes no new rooms (they go to the other node, even when
 * opened through it), keeps serving its rooms until they end, then exits 0; a room still open at
 * DRAIN_TIMEOUT_MS is closed with SERVER_SHUTDOWN and the node exits 0.
 */
import { request, type RoomSocket } from '../../client/request';
import type { NotificationMap } from '../../shared/contract';
import { httpsJson } from '../helpers/https-json';
import { connectToRoom, nextEvent, waitFor } from '../helpers/server';
import { inspectRedis, listRooms, startClusterNode, startClusterNodes, type ClusterNode } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(60_000);

let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const extra: ClusterNode[] = [];
const sockets: RoomSocket[] = [];

async function join(node: ClusterNode, roomId: string, displayName: string) {
  const socket = await connectToRoom(node, roomId);
  sockets.push(socket);
  return { socket, joined: await request(socket, 'join', { displayName }) };
}

/** Opens rooms `<prefix>-<i>` through `via` until one is hosted by `target`; returns it with its client. */
async function roomOn(target: ClusterNode, via: ClusterNode, prefix: string) {
  for (let i = 0; i < 8; i++) {
    const roomId = `${prefix}-${i}`;
    const client = await join(via, roomId, `${prefix}${i}`);
    if ((await listRooms(via)).find((r) => r.roomId === roomId)?.nodeId === target.id) return { roomId, client, name: `${prefix}${i}` };
  }
  throw new Error(`no room landed on ${target.id}`);
}

beforeAll(async () => {
  redis = await startRedis();
  const env = { ROOM_EMPTY_TIMEOUT_MS: '0', DRAIN_TIMEOUT_MS: '30000' };
  [a, b] = await startClusterNodes(redis.url, [
    { id: 'node-a', env },
    { id: 'node-b', env },
  ]);
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  for (const node of [a, b, ...extra]) node?.cleanUp();
  await redis?.stop();
});

test('a draining node takes no new rooms, serves its own until they end, then exits 0', async () => {
  const { roomId, client: first, name } = await roomOn(b, b, 'busy');
  const second = await join(a, roomId, 'second'); // relayed to B
  let mediaReset = false;
  first.socket.on('mediaReset', () => (mediaReset = true));
  const probe = await inspectRedis(redis.url);
  try {
    b.child.kill('SIGTERM');
    await waitFor(() => b.lines.some((l) => String(l.message).startsWith('drain() | draining')), 'B to start draining');
    // The record is '<signature>.<JSON>'.
    const signed = (await probe.get(`confsfu:node:${b.id}`)) ?? '';
    const record = JSON.parse(signed.slice(signed.indexOf('.') + 1)) as { state?: string };
    expect(record.state).toBe('draining');
    const ready = await httpsJson(`${b.url}/readyz`);
    expect(ready).toMatchObject({ status: 503, body: { status: 'draining' } });

    // New rooms, even opened through B, go to A.
    const fresh: Array<Awaited<ReturnType<typeof join>>> = [];
    for (let i = 0; i < 3; i++) fresh.push(await join(b, `fresh-${i}`, `f${i}`));
    const listed = await listRooms(b);
    for (let i = 0; i < 3; i++) expect(listed.find((r) => r.roomId === `fresh-${i}`)?.nodeId).toBe(a.id);

    // B's room goes on: a newcomer through A joins it and everyone is served.
    const third = await join(a, roomId, 'third');
    expect(third.joined.peers.map((p) => p.displayName).sort()).toEqual([name, 'second'].sort());
    expect(listed.find((r) => r.roomId === roomId)?.nodeId).toBe(b.id);
    await expect(request(first.socket, 'createTransport', { direction: 'recv', type: 'plain' })).resolves.toMatchObject({
      ip: '127.0.0.1',
    });
    expect(b.child.exitCode).toBeNull();
    // Its media went on through the drain: the workers are not closed by the signal.
    expect(mediaReset).toBe(false);

    // When its last room ends, B stops by itself, well before DRAIN_TIMEOUT_MS.
    const cut = new Promise<string>((resolve) => fresh[0]!.socket.once('disconnect', resolve));
    const leftAt = Date.now();
    for (const { socket } of [first, second, third]) await request(socket, 'leave', {});
    expect(await b.exited).toBe(0);
    expect(Date.now() - leftAt).toBeLessThan(10_000);
    expect(b.lines.some((l) => l.message === 'drain() | every room of this node has ended')).toBe(true);
    expect(await probe.sMembers('confsfu:nodes')).toEqual([a.id]);

    // A client B relayed to a room on A was cut, not sent away: it resumes through A.
    expect(await cut).toBe('transport close');
    const back = await connectToRoom(a, 'fresh-0');
    sockets.push(back);
    expect((await request(back, 'resume', { resumeToken: fresh[0]!.joined.resumeToken })).peerId).toBe(fresh[0]!.joined.peerId);
  } finally {
    await probe.close();
  }
});

test('a room still open at DRAIN_TIMEOUT_MS is closed with SERVER_SHUTDOWN, and the node exits 0', async () => {
  const c = await startClusterNode(redis.url, 'node-c', { ROOM_EMPTY_TIMEOUT_MS: '0', DRAIN_TIMEOUT_MS: '1000' });
  extra.push(c);
  const { client } = await roomOn(c, c, 'late');
  const closed = nextEvent<NotificationMap['roomClosed']>(client.socket, 'roomClosed', 10_000);
  const termAt = Date.now();
  c.child.kill('SIGTERM');
  expect(await closed).toEqual({ reason: 'SERVER_SHUTDOWN' });
  expect(Date.now() - termAt).toBeGreaterThanOrEqual(900);
  // The node's last lines come with a wrong exit code, to see why.
  expect({ code: await c.exited, lines: c.lines.slice(-8) }).toMatchObject({ code: 0 });
  expect(c.lines.some((l) => l.message === 'drain() | deadline reached: the rooms still open are closed')).toBe(true);
});
