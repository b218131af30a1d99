/**
 * One room over two workers (ROOM_WORKER_SPREAD_CONSUMERS=1: a worker with one consumer takes no
 * new peers of the room). Alice and Bob land on the room's first worker; once Bob consumes Alice,
 * Carol gets a router on the other worker. Producers are piped where they are consumed; real RTP
 * crosses both ways; closing a producer closes its pipe consumer and pipe producer; Carol leaving
 * retires her router with its pipes; everyone leaving leaves nothing in any worker's index.
 */
import { request } from '../../client/request';
import type { NotificationMap } from '../../shared/contract';
import type { PeerId } from '../../shared/ids';
import { opusRtpParameters } from '../helpers/rtp';
import { nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import {
  ackOf,
  indexProblems,
  indexSizes,
  OPUS_ONLY_CAPS,
  outcome,
  pipeSizes,
  routersOfRoom,
  VP8_ONLY_CAPS,
} from '../signalling/support/harness';
import { exchangeAudio, PlainPeer, workerOf } from './support/spread';

const ROOM = 'spread-room';
let server: TestServer;
const peers: PlainPeer[] = [];
let alice: PlainPeer;
let bob: PlainPeer;
let carol: PlainPeer;
/** Consumers' payload types: carol's of alice's producer, alice's of carol's. */
let carolHearsAlice: { consumerId: string; payloadType: number };
let aliceHearsCarol: { consumerId: string; payloadType: number };

beforeAll(async () => {
  server = await startTestServer({ MEDIASOUP_WORKERS: '2', ROOM_WORKER_SPREAD_CONSUMERS: '1' });
});
afterAll(async () => {
  for (const peer of peers) peer.close();
  await server.close();
});

/** The worker pids, the room's first worker first. */
function workers(): { home: number; other: number } {
  const home = server.media.roomWorkerPid(ROOM)!;
  const other = server.workers.workers.find((w) => w.pid !== home)!.pid;
  return { home, other };
}
const appDataOf = (pid: number) => server.workers.workerOf(pid)!.appData;

test('a peer arriving once the room worker has reached the threshold gets a router on the other worker; RTP crosses both ways', async () => {
  alice = await PlainPeer.join(server, ROOM, 'alice');
  bob = await PlainPeer.join(server, ROOM, 'bob');
  peers.push(alice, bob);
  const aliceProducer = await alice.produceAudio(1111);
  await bob.consume(aliceProducer); // the room's worker now has 1 consumer: the threshold
  const { home, other } = workers();
  expect(workerOf(server, alice.send!.transportId)).toBe(home);
  expect(workerOf(server, bob.recv!.transportId)).toBe(home);
  expect(server.media.roomWorkerPids(ROOM)).toEqual([home]);

  carol = await PlainPeer.join(server, ROOM, 'carol');
  peers.push(carol);
  const carolProducer = await carol.produceAudio(2222);
  // Carol's transports, send and recv, are on her own router on the other worker.
  expect(workerOf(server, carol.send!.transportId)).toBe(other);
  expect(server.media.roomWorkerPids(ROOM)).toEqual([home, other]);
  expect(routersOfRoom(server, ROOM).sort()).toEqual(server.media.routerIdsOf(ROOM).sort());
  carolHearsAlice = await carol.consume(aliceProducer);
  expect(workerOf(server, carol.recv!.transportId)).toBe(other);
  aliceHearsCarol = await alice.consume(carolProducer);
  expect(workerOf(server, alice.recv!.transportId)).toBe(home);

  // Each producer is piped once to the other worker: a pipe consumer on its own, a pipe producer
  // (same id) on the other, over one pair of pipe transports.
  expect(appDataOf(other).pipeProducers.has(aliceProducer)).toBe(true);
  expect(appDataOf(home).pipeProducers.has(carolProducer)).toBe(true);
  expect([...appDataOf(home).pipeConsumers.values()].map((c) => c.producerId)).toEqual([aliceProducer]);
  expect([...appDataOf(other).pipeConsumers.values()].map((c) => c.producerId)).toEqual([carolProducer]);
  expect(pipeSizes(server)).toEqual([
    { transports: 1, producers: 1, consumers: 1 },
    { transports: 1, producers: 1, consumers: 1 },
  ]);
  // By-id look-ups find the origin producer, not its pipe.
  expect(workerOf(server, aliceProducer)).toBe(home);
  expect(workerOf(server, carolProducer)).toBe(other);

  await exchangeAudio(alice, aliceHearsCarol.payloadType, carol, carolHearsAlice.payloadType);
  expect(carol.received(carolHearsAlice.payloadType)).toBeGreaterThanOrEqual(95);
  expect(alice.received(aliceHearsCarol.payloadType)).toBeGreaterThanOrEqual(95);
  expect(indexProblems(server)).toEqual([]);
});

test('every router of the room offers the same capabilities, and canConsume holds across routers', async () => {
  const [first, second] = server.media.routerIdsOf(ROOM).map((id) => server.media.index.getRouter(id));
  expect(second!.rtpCapabilities).toEqual(first!.rtpCapabilities);
  // Alice's producer is on the first worker; the consumer's caps decide, on the second. Carol already
  // consumes it (a peer consumes a producer once): Dave, placed on the second worker like her, asks.
  const dave = await PlainPeer.join(server, ROOM, 'dave');
  peers.push(dave);
  const { transportId } = await request(dave.socket, 'createTransport', { direction: 'recv', type: 'plain' });
  expect(workerOf(server, transportId)).toBe(workers().other);
  const wrong = await ackOf(dave.socket, 'consume', { transportId, producerId: alice.producerId, rtpCapabilities: VP8_ONLY_CAPS });
  expect(outcome(wrong)).toBe('CANNOT_CONSUME');
  const right = await ackOf(dave.socket, 'consume', { transportId, producerId: alice.producerId, rtpCapabilities: OPUS_ONLY_CAPS });
  expect(outcome(right)).toBe('ok');
  await request(dave.socket, 'leave', {});
});

test('a producer can be piped to a chosen router with no consumer asking (ensurePiped), once', async () => {
  const { home, other } = workers();
  const homeRouter = server.media.routerIdOf(ROOM)!;
  const bobSend = await bob.createSend();
  expect(workerOf(server, bobSend.transportId)).toBe(home); // Bob stays on the router of his recv transport
  const { producerId } = await request(bob.socket, 'produce', {
    transportId: bobSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(3333),
  });
  const carolRouter = server.media.routerIdsOf(ROOM)[1]!;
  await Promise.all([server.media.ensurePiped(producerId, carolRouter), server.media.ensurePiped(producerId, carolRouter)]);
  await server.media.ensurePiped(producerId, homeRouter); // its own router: nothing to do
  expect(server.media.index.getRouter(carolRouter).appData.producers.has(producerId)).toBe(true);
  expect([...appDataOf(home).pipeConsumers.values()].filter((c) => c.producerId === producerId)).toHaveLength(1);
  await expect(server.media.ensurePiped('no-such-producer', carolRouter)).rejects.toMatchObject({ code: 'NOT_FOUND' });

  // A producer closing while it is being piped: NOT_FOUND, and nothing of the pipe stays.
  const { producerId: brief } = await request(bob.socket, 'produce', {
    transportId: bobSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(3334),
  });
  const piping = server.media.ensurePiped(brief, carolRouter);
  server.rooms.rooms
    .get(ROOM)!
    .peers.get(bob.peerId as PeerId)!
    .closeProducer(brief); // at once, as the peer's own request would
  await expect(piping).rejects.toMatchObject({ code: 'NOT_FOUND' });
  await waitFor(() => !appDataOf(other).pipeProducers.has(brief), 'no pipe producer of the closed producer');
  expect([...appDataOf(home).pipeConsumers.values()].filter((c) => c.producerId === brief)).toEqual([]);
  await request(bob.socket, 'closeProducer', { producerId });
  await waitFor(() => pipeSizes(server).every((p) => p.producers === 1 && p.consumers === 1), "bob's pipe to close");
});

test('closing a producer closes its pipe consumer and pipe producer; its consumers elsewhere hear consumerClosed', async () => {
  const { home, other } = workers();
  const carolProducer = carol.producerId!;
  const closed = nextEvent<NotificationMap['consumerClosed']>(alice.socket, 'consumerClosed');
  await request(carol.socket, 'closeProducer', { producerId: carolProducer });

  expect(await closed).toEqual({ consumerId: aliceHearsCarol.consumerId, producerId: carolProducer });
  await waitFor(
    () => !appDataOf(home).pipeProducers.has(carolProducer) && appDataOf(other).pipeConsumers.size === 0,
    "carol's pipe producer and pipe consumer to close",
  );
  expect(appDataOf(home).producers.has(carolProducer)).toBe(false);
  expect(appDataOf(home).consumers.has(aliceHearsCarol.consumerId)).toBe(false);
  expect(server.media.index.findProducer(carolProducer)).toBeUndefined();
  // Alice's pipe to the other worker is untouched; the pipe transports stay for the next producer.
  expect(appDataOf(other).pipeProducers.has(alice.producerId!)).toBe(true);
  expect(appDataOf(home).pipeTransports.size + appDataOf(other).pipeTransports.size).toBe(2);

  await request(alice.socket, 'closeProducer', { producerId: alice.producerId! });
  await waitFor(
    () => pipeSizes(server).every((p) => p.producers === 0 && p.consumers === 0),
    "alice's pipe producer and pipe consumer to close",
  );
  expect(appDataOf(other).consumers.has(carolHearsAlice.consumerId)).toBe(false);
  expect(indexProblems(server)).toEqual([]);
});

test('the last peer of a router leaving closes it with its pipes; everyone leaving leaves nothing in the index', async () => {
  // Pipes again, so that there is something to clean up.
  const aliceProducer = await alice.produceAudio(4444);
  await carol.consume(aliceProducer);
  await carol.produceAudio(5555);
  await alice.consume(carol.producerId!);
  const { home, other } = workers();
  expect(pipeSizes(server).map((p) => p.transports)).toEqual([1, 1]);

  const left = nextEvent(alice.socket, 'peerLeft');
  await request(carol.socket, 'leave', {});
  await left;
  await waitFor(() => appDataOf(other).routers.size === 0, "carol's router to close");
  expect(server.media.roomWorkerPids(ROOM)).toEqual([home]);
  await waitFor(() => pipeSizes(server).every((p) => p.transports === 0 && p.producers === 0 && p.consumers === 0), 'every pipe to close');
  expect(indexProblems(server)).toEqual([]);

  for (const peer of [alice, bob]) await request(peer.socket, 'leave', {});
  await waitFor(() => server.rooms.rooms.size === 0, 'the room to close');
  expect(routersOfRoom(server, ROOM)).toEqual([]);
  expect(server.media.roomWorkerPids(ROOM)).toEqual([]);
  const empty = { routers: 0, transports: 0, producers: 0, consumers: 0 };
  await waitFor(
    () => indexSizes(server).workers.every((w) => JSON.stringify(w) === JSON.stringify(empty)),
    'every worker index to be empty',
  );
  expect(indexSizes(server).workers).toEqual([empty, empty]);
  expect(pipeSizes(server)).toEqual([
    { transports: 0, producers: 0, consumers: 0 },
    { transports: 0, producers: 0, consumers: 0 },
  ]);
  expect(indexProblems(server)).toEqual([]);
});

test('ROOM_MAX_WORKERS=1 keeps a room on one worker past the threshold', async () => {
  const capped = await startTestServer({ MEDIASOUP_WORKERS: '2', ROOM_WORKER_SPREAD_CONSUMERS: '1', ROOM_MAX_WORKERS: '1' });
  const local: PlainPeer[] = [];
  try {
    const [a, b, c] = [
      await PlainPeer.join(capped, ROOM, 'a'),
      await PlainPeer.join(capped, ROOM, 'b'),
      await PlainPeer.join(capped, ROOM, 'c'),
    ];
    local.push(a, b, c);
    const producerId = await a.produceAudio(6666);
    await b.consume(producerId);
    const cHearsA = await c.consume(producerId); // past the threshold: would spread without the cap
    const pid = capped.media.roomWorkerPid(ROOM)!;
    for (const id of [a.send!.transportId, b.recv!.transportId, c.recv!.transportId]) expect(workerOf(capped, id)).toBe(pid);
    expect(capped.media.roomWorkerPids(ROOM)).toEqual([pid]);
    expect(routersOfRoom(capped, ROOM)).toHaveLength(1);
    expect(pipeSizes(capped).every((p) => p.transports === 0)).toBe(true);
    await a.sendAudio(50);
    await waitFor(() => c.received(cHearsA.payloadType) >= 45, 'c to hear a');
  } finally {
    for (const peer of local) peer.close();
    await capped.close();
  }
});

test('newcomers arriving at once past the threshold: one new router for all of them, one pipe per producer', async () => {
  const room = 'spread-burst-room';
  const [anchor, first] = [await PlainPeer.join(server, room, 'anchor'), await PlainPeer.join(server, room, 'first')];
  peers.push(anchor, first);
  const producerId = await anchor.produceAudio(8888);
  await first.consume(producerId);
  const home = server.media.roomWorkerPid(room)!;

  const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => PlainPeer.join(server, room, `burst-${i}`)));
  peers.push(...burst);
  const consumers = await Promise.all(burst.map((peer) => peer.consume(producerId)));

  expect(consumers).toHaveLength(8);
  expect(routersOfRoom(server, room)).toHaveLength(2);
  const other = server.media.roomWorkerPids(room)[1]!;
  expect(other).not.toBe(home);
  for (const peer of burst) expect(workerOf(server, peer.recv!.transportId)).toBe(other);
  expect([...appDataOf(home).pipeConsumers.values()].filter((c) => c.producerId === producerId)).toHaveLength(1);
  expect(indexProblems(server)).toEqual([]);

  await anchor.sendAudio(50);
  for (const [i, peer] of burst.entries()) {
    await waitFor(() => peer.received(consumers[i]!.payloadType) >= 45, `burst-${i} to hear the anchor`);
  }
  await Promise.all([anchor, first, ...burst].map((peer) => request(peer.socket, 'leave', {})));
  await waitFor(() => !server.rooms.rooms.has(room), 'the room to close');
  expect(routersOfRoom(server, room)).toEqual([]);
  expect(pipeSizes(server).every((p) => p.transports === 0)).toBe(true);
});
