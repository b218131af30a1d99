/**
 * The peer cap is exact under concurrency, and concurrent first requests into a fresh room
 * share one router. Real server, real worker, 50 real socket.io clients.
 */
import type * as ms from 'mediasoup/types';
import { request, type RoomSocket } from '../../client/request';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, disconnected, indexProblems, outcome, routersOfRoom } from './support/harness';

const MAX_PEERS = 10;
let server: TestServer;
const sockets: RoomSocket[] = [];

/** Every router the worker(s) create for `roomId`, and the most alive at one time. */
function watchRouters(roomId: string): { created: string[]; maxAlive: () => number; stop: () => void } {
  const created: string[] = [];
  let alive = 0;
  let maxAlive = 0;
  const onRouter = (router: ms.Router) => {
    if ((router.appData as { roomId?: string }).roomId !== roomId) return;
    created.push(router.id);
    maxAlive = Math.max(maxAlive, ++alive);
    router.observer.once('close', () => alive--);
  };
  for (const w of server.workers.workers) w.observer.on('newrouter', onRouter);
  return {
    created,
    maxAlive: () => maxAlive,
    stop: () => {
      for (const w of server.workers.workers) w.observer.off('newrouter', onRouter);
    },
  };
}

async function connectMany(roomId: string, n: number): Promise<RoomSocket[]> {
  const list = await Promise.all(Array.from({ length: n }, () => connectToRoom(server, roomId)));
  sockets.push(...list);
  return list;
}

beforeAll(async () => {
  // A long empty timeout: the "one router" tests below must not see a room close and reopen.
  server = await startTestServer({ ROOM_MAX_PEERS: String(MAX_PEERS), ROOM_EMPTY_TIMEOUT_MS: '60000' });
});
afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

test('50 concurrent joins into a room capped at 10: exactly 10 ok, 40 ROOM_FULL, one router', async () => {
  const roomId = 'cap-room';
  const watch = watchRouters(roomId);
  const list = await connectMany(roomId, 50);

  const acks = await Promise.all(list.map((s, i) => ackOf(s, 'join', { displayName: `p${i}` })));
  watch.stop();

  const outcomes = acks.map(outcome);
  expect(outcomes.filter((o) => o === 'ok')).toHaveLength(MAX_PEERS);
  expect(outcomes.filter((o) => o === 'ROOM_FULL')).toHaveLength(50 - MAX_PEERS);

  const peerIds = acks.flatMap((a) => (a.ok ? [(a.data as { peerId: string }).peerId] : []));
  expect(new Set(peerIds).size).toBe(MAX_PEERS);

  expect(watch.created).toHaveLength(1);
  expect(routersOfRoom(server, roomId)).toEqual(watch.created);
  const room = server.rooms.rooms.get(roomId);
  expect(server.media.routerIdOf(roomId)).toBe(watch.created[0]);
  expect(room?.peerCount).toBe(MAX_PEERS);
  expect([...room!.peers.keys()].sort()).toEqual([...peerIds].sort());
  expect(server.rooms.stats()).toEqual({ rooms: 1, peers: MAX_PEERS });
  expect(indexProblems(server)).toEqual([]);

  // The cap counts present peers: one leaves, exactly one of the refused gets in, the next is refused.
  const joinedSockets = list.filter((_, i) => acks[i]!.ok);
  const refusedSockets = list.filter((_, i) => !acks[i]!.ok);
  const leaver = joinedSockets[0]!;
  expect(await request(leaver, 'leave', {})).toEqual({});
  await disconnected(leaver);
  await waitFor(() => room!.peerCount === MAX_PEERS - 1, 'the leaver to be gone');

  const retry = await Promise.all(refusedSockets.slice(0, 5).map((s) => ackOf(s, 'join', {})));
  expect(retry.map(outcome).sort()).toEqual(['ROOM_FULL', 'ROOM_FULL', 'ROOM_FULL', 'ROOM_FULL', 'ok']);
  expect(room!.peerCount).toBe(MAX_PEERS);
  expect(routersOfRoom(server, roomId)).toEqual(watch.created);
});

test('concurrent first getRouterRtpCapabilities and joins into a fresh room create one router', async () => {
  const roomId = 'fresh-room';
  expect(routersOfRoom(server, roomId)).toEqual([]);
  const watch = watchRouters(roomId);
  const list = await connectMany(roomId, 24);

  // Interleave the two kinds of first request, all sent before any answer.
  const acks = await Promise.all(list.map((s, i) => (i % 2 === 0 ? ackOf(s, 'getRouterRtpCapabilities', {}) : ackOf(s, 'join', {}))));
  watch.stop();

  const capsAcks = acks.filter((_, i) => i % 2 === 0);
  const joinAcks = acks.filter((_, i) => i % 2 === 1);
  expect(capsAcks.map(outcome)).toEqual(Array(12).fill('ok'));
  // 12 joins, cap 10.
  expect(joinAcks.map(outcome).filter((o) => o === 'ok')).toHaveLength(MAX_PEERS);
  expect(joinAcks.map(outcome).filter((o) => o === 'ROOM_FULL')).toHaveLength(2);

  expect(watch.created).toHaveLength(1);
  expect(watch.maxAlive()).toBe(1);
  expect(routersOfRoom(server, roomId)).toEqual(watch.created);
  expect(server.media.routerIdOf(roomId)).toBe(watch.created[0]);

  // Every caller got the capabilities of that one router (less the header extensions clients are
  // not offered: abs-capture-time, see media-service.ts).
  const router = server.media.index.getRouter(watch.created[0]!);
  const offered = JSON.parse(JSON.stringify(router.rtpCapabilities)) as typeof router.rtpCapabilities;
  offered.headerExtensions = offered.headerExtensions?.filter((e) => !e.uri.endsWith('/abs-capture-time'));
  expect(offered.headerExtensions?.length).toBeLessThan(router.rtpCapabilities.headerExtensions!.length);
  for (const ack of capsAcks) {
    expect(ack.ok && (ack.data as { rtpCapabilities: unknown }).rtpCapabilities).toEqual(offered);
  }
});

test('capabilities-only burst into a fresh room: one router, kept while the room is open', async () => {
  const roomId = 'caps-only-room';
  const watch = watchRouters(roomId);
  const list = await connectMany(roomId, 16);
  const acks = await Promise.all(list.map((s) => ackOf(s, 'getRouterRtpCapabilities', {})));
  // A second wave after the room exists reuses it too.
  const again = await Promise.all(list.map((s) => ackOf(s, 'getRouterRtpCapabilities', {})));
  watch.stop();
  expect([...acks, ...again].map(outcome)).toEqual(Array(32).fill('ok'));
  expect(watch.created).toHaveLength(1);
  expect(routersOfRoom(server, roomId)).toEqual(watch.created);
  expect(server.rooms.rooms.get(roomId)?.peerCount).toBe(0);
});
