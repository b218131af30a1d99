/**
 * Speaker detection and data channels in a room spread over two workers
 * (ROOM_WORKER_SPREAD_CONSUMERS=1): Carol's media is on the room's second router, yet her audio is
 * piped to the first router's speaker observer (everyone hears her as the active speaker), and
 * her DataChannel's messages reach Alice on the first router through a data pipe.
 */
import { FakePeer, Pacer } from '../../client/fake-peer';
import { consumeDataChannel, produceDataChannel, type DataChannelLink } from '../../client/fake-peer/webrtc-data';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';

const ROOM = 'spread-features';
let server: TestServer;
const pacer = new Pacer();
const peers: FakePeer[] = [];
const links: DataChannelLink[] = [];

beforeAll(async () => {
  server = await startTestServer({ MEDIASOUP_WORKERS: '2', ROOM_WORKER_SPREAD_CONSUMERS: '1' });
});

afterAll(async () => {
  pacer.stop();
  await Promise.all(links.map((l) => l.close()));
  await Promise.all(peers.map((p) => p.stop()));
  await server?.close();
});

async function fakePeer(name: string, options: { kinds: Array<'audio'>; dBov?: number; consume: boolean }): Promise<FakePeer> {
  const peer = new FakePeer(
    {
      url: server.url,
      roomId: ROOM,
      displayName: name,
      kinds: options.kinds,
      engine: 'plain',
      insecure: true,
      consume: options.consume,
      audioLevelDbov: options.dBov,
    },
    pacer,
  );
  peers.push(peer);
  await peer.start();
  expect(peer.errors).toEqual([]);
  return peer;
}

test('the active speaker on the second worker is heard by everyone; its data reaches the first worker', async () => {
  const alice = await fakePeer('alice', { kinds: ['audio'], dBov: -127, consume: false });
  const bob = await fakePeer('bob', { kinds: [], consume: true });
  await waitFor(() => bob.received.length === 1, 'bob to consume alice'); // the first worker is at the threshold
  const carol = await fakePeer('carol', { kinds: ['audio'], dBov: -15, consume: false });

  const home = server.media.roomWorkerPid(ROOM)!;
  const carolWorker = server.media.index.workerPidOf(carol.sent[0]!.producerId);
  expect(server.media.roomWorkerPids(ROOM)).toHaveLength(2);
  expect(carolWorker).not.toBe(home);
  // Carol's audio is piped to the first router for the speaker observer.
  await waitFor(() => server.workers.workerOf(home)!.appData.pipeProducers.has(carol.sent[0]!.producerId), 'carol’s audio piped home');

  await waitFor(() => [alice, bob, carol].every((p) => p.activeSpeakerPeerId === carol.peerId), 'everyone to hear carol', 10_000);

  const producer = await produceDataChannel(carol.socket!, { label: 'notes' });
  links.push(producer);
  expect(server.media.index.workerPidOf(producer.dataProducerId)).toBe(carolWorker);
  const consumer = await consumeDataChannel(alice.socket!, producer.dataProducerId);
  links.push(consumer);
  expect(server.media.index.workerPidOf(consumer.consumer.dataConsumerId)).toBe(home);
  expect(server.media.index.dataCounts().pipeDataProducers).toBe(1);
  producer.channel.send('across workers');
  await waitFor(() => consumer.messages.includes('across workers'), 'the message at alice', 10_000);
  // Pipes are plumbing: the metrics count one data producer.
  expect(server.media.index.census().dataProducers).toBe(1);
});
