/**
 * Data producers and consumers through a dropped connection and a worker crash: a peer that
 * resumes finds its surviving data producers and consumers (and last-N's held consumers) in the
 * `resume` ack; a media reset removes every data producer and consumer of the room with the rest
 * of its media (nothing announced but `mediaReset`, nothing left in the index).
 */
import { request, type RoomSocket } from '../../client/request';
import { connectToRoom, joinRoom, nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { disconnectAll } from '../signalling/support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({ RECONNECT_GRACE_MS: '10000' });
});

afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

async function member(roomId: string, name: string) {
  const joined = await joinRoom(server, roomId, name);
  sockets.push(joined.socket);
  return joined;
}

/** A data producer of `socket` and a data consumer of it at `consumerSocket` (SCTP transports, no DTLS needed for the ids). */
async function dataPair(socket: RoomSocket, consumerSocket: RoomSocket) {
  const send = await request(socket, 'createTransport', { direction: 'send', sctp: true });
  const { dataProducerId } = await request(socket, 'produceData', {
    transportId: send.transportId,
    sctpStreamParameters: { streamId: 1 },
    label: 'chat',
  });
  const recv = await request(consumerSocket, 'createTransport', { direction: 'recv', sctp: true });
  const consumer = await request(consumerSocket, 'consumeData', { transportId: recv.transportId, dataProducerId });
  return { dataProducerId, dataConsumerId: consumer.dataConsumerId };
}

test('resume lists the peer’s surviving data producers and data consumers', async () => {
  const a = await member('data-resume', 'a');
  const b = await member('data-resume', 'b');
  const { dataProducerId } = await dataPair(a.socket, b.socket);
  const back = await dataPair(b.socket, a.socket);

  a.socket.disconnect();
  await waitFor(
    () => server.rooms.rooms.get('data-resume')!.peers.get(a.joined.peerId as never)?.channel === undefined,
    'the drop to be noticed',
  );
  const again = await connectToRoom(server, 'data-resume');
  sockets.push(again);
  const resumed = await request(again, 'resume', { resumeToken: a.joined.resumeToken });
  expect(resumed.dataProducerIds).toEqual([dataProducerId]);
  expect(resumed.dataConsumerIds).toEqual([back.dataConsumerId]);
  expect(resumed.serverPausedConsumerIds).toEqual([]);
  expect(resumed.dataProducers.map((p) => p.dataProducerId)).toEqual([back.dataProducerId]); // the others'
});

test('a media reset removes the room’s data producers and consumers', async () => {
  const a = await member('data-reset', 'a');
  const b = await member('data-reset', 'b');
  await dataPair(a.socket, b.socket);
  expect(server.media.index.dataCounts().dataProducers).toBeGreaterThanOrEqual(1);
  const reset = nextEvent<{ reason: string }>(b.socket, 'mediaReset');
  const dead = server.workers.workers[0]!.pid;
  process.kill(dead, 'SIGKILL');
  expect(await reset).toEqual({ reason: 'WORKER_DIED' });

  const room = server.rooms.rooms.get('data-reset')!;
  for (const peer of room.peers.values()) expect(peer.dataCounts()).toEqual({ dataProducers: 0, dataConsumers: 0 });
  await waitFor(() => server.workers.workers.length === 1 && server.workers.workers[0]!.pid !== dead, 'a replacement worker');
  expect(server.media.index.dataCounts()).toEqual({ dataProducers: 0, dataConsumers: 0, pipeDataProducers: 0, pipeDataConsumers: 0 });
  const c = await member('data-reset', 'c');
  expect(c.joined.dataProducers).toEqual([]);
  // Data channels work again on the new router.
  await dataPair(a.socket, c.socket);
});
