/**
 * A worker of a room spread over two workers dies (SIGKILL). Chosen behaviour: any router of the
 * room lost re-creates the room's whole media — its other routers close too (with their pipes),
 * the room gets one router on a live worker, every peer hears `mediaReset` and sets its media up
 * again; the spread forms again by the same rule. Killed here: first the worker the room spread
 * to, then the room's first worker.
 */
import type { NotificationMap } from '../../shared/contract';
import { nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { indexProblems, pipeSizes, routersOfRoom } from '../signalling/support/harness';
import { exchangeAudio, PlainPeer, workerOf } from './support/spread';

const ROOM = 'spread-death-room';
let server: TestServer;
const peers: PlainPeer[] = [];
let alice: PlainPeer;
let bob: PlainPeer;
let carol: PlainPeer;

beforeAll(async () => {
  server = await startTestServer({ MEDIASOUP_WORKERS: '2', ROOM_WORKER_SPREAD_CONSUMERS: '1', WORKER_RESPAWN_DELAY_MS: '200' });
});
afterAll(async () => {
  for (const peer of peers) peer.close();
  await server.close();
});

/** Alice and Bob on the room's first worker (Bob consuming Alice), Carol on the other; Alice and Carol hear each other. */
async function spreadCall(): Promise<{ home: number; other: number }> {
  const aliceProducer = await alice.produceAudio(1000 + peers.length);
  await bob.consume(aliceProducer);
  const carolProducer = await carol.produceAudio(2000 + peers.length);
  const home = workerOf(server, alice.send!.transportId)!;
  const other = workerOf(server, carol.send!.transportId)!;
  expect(other).not.toBe(home);
  expect(server.media.roomWorkerPids(ROOM)).toEqual([home, other]);
  const carolHearsAlice = await carol.consume(aliceProducer);
  const aliceHearsCarol = await alice.consume(carolProducer);
  await exchangeAudio(alice, aliceHearsCarol.payloadType, carol, carolHearsAlice.payloadType);
  expect(pipeSizes(server).map((p) => p.producers)).toEqual([1, 1]);
  return { home, other };
}

/** Kills a worker and waits until every peer heard mediaReset and the dead worker is replaced. */
async function kill(pid: number): Promise<void> {
  const resets = [alice, bob, carol].map((p) => nextEvent<NotificationMap['mediaReset']>(p.socket, 'mediaReset'));
  process.kill(pid, 'SIGKILL');
  expect(await Promise.all(resets)).toEqual(Array(3).fill({ reason: 'WORKER_DIED' }));
  for (const peer of [alice, bob, carol]) peer.forgetMedia();
  await waitFor(() => server.workers.workers.length === 2 && server.workers.workers.every((w) => w.pid !== pid), 'a replacement worker');
}

/** After a reset: one router of the room, nothing of the old media or its pipes in any worker's index. */
function expectFreshRoom(): void {
  const [router] = routersOfRoom(server, ROOM);
  expect(routersOfRoom(server, ROOM)).toHaveLength(1);
  expect(server.media.routerIdsOf(ROOM)).toEqual([router]);
  for (const worker of server.workers.workers) {
    expect(worker.appData.transports.size + worker.appData.producers.size + worker.appData.consumers.size).toBe(0);
  }
  expect(pipeSizes(server)).toEqual([
    { transports: 0, producers: 0, consumers: 0 },
    { transports: 0, producers: 0, consumers: 0 },
  ]);
  expect(indexProblems(server)).toEqual([]);
}

test('the worker the room spread to dies: the whole room is re-created on a live worker; everyone hears mediaReset', async () => {
  alice = await PlainPeer.join(server, ROOM, 'alice');
  bob = await PlainPeer.join(server, ROOM, 'bob');
  carol = await PlainPeer.join(server, ROOM, 'carol');
  peers.push(alice, bob, carol);
  const { home, other } = await spreadCall();

  await kill(other);

  // The surviving first worker serves the room alone, from a new router.
  expect(server.media.roomWorkerPids(ROOM)).toEqual([home]);
  expectFreshRoom();
  for (const peer of [alice, bob, carol]) expect(peer.socket.connected).toBe(true);
  expect([...server.rooms.rooms.get(ROOM)!.peers.keys()].sort()).toEqual([alice.peerId, bob.peerId, carol.peerId].sort());

  // The peers set their media up again and the room spreads again (to the replacement worker).
  await spreadCall();
});

test("the room's first worker dies: the same, and the room starts again on the worker it had spread to", async () => {
  const { home, other } = { home: server.media.roomWorkerPids(ROOM)[0]!, other: server.media.roomWorkerPids(ROOM)[1]! };

  await kill(home);

  expect(server.media.roomWorkerPids(ROOM)).toEqual([other]);
  expectFreshRoom();
  await spreadCall();
  expect(indexProblems(server)).toEqual([]);
});
