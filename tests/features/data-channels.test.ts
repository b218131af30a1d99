/**
 * Data channels end to end: A's DataChannel (werift in Node: real SCTP over DTLS over ICE) is a
 * data producer; B, in the same room, consumes it and receives A's messages; C, in another room,
 * hears nothing of it and cannot consume it. Own and duplicate consumeData are refused, the 5th
 * data producer is LIMIT_EXCEEDED, a join snapshot lists the others' data producers, and closing
 * A's data producer closes B's data consumer (dataConsumerClosed). Nothing is left afterwards.
 */
import { request, type RoomSocket } from '../../client/request';
import { consumeDataChannel, produceDataChannel, type DataChannelLink } from '../../client/fake-peer/webrtc-data';
import { joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, barrier, disconnectAll, outcome, Recorder } from '../signalling/support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];
const links: DataChannelLink[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await Promise.all(links.map((l) => l.close()));
  disconnectAll(sockets);
  await server?.close();
});

async function member(roomId: string, name: string) {
  const { socket, joined } = await joinRoom(server, roomId, name);
  sockets.push(socket);
  return { socket, joined, recorder: new Recorder(socket) };
}

async function sctpTransport(socket: RoomSocket, direction: 'send' | 'recv'): Promise<string> {
  const created = await request(socket, 'createTransport', { direction, type: 'webrtc', sctp: true });
  return created.transportId;
}

test('a message from A’s data producer reaches B through SCTP, not a peer of another room', async () => {
  const a = await member('data-1', 'a');
  const b = await member('data-1', 'b');
  const c = await member('data-2', 'c');

  const producer = await produceDataChannel(a.socket, { label: 'chat', streamId: 3 });
  links.push(producer);
  await waitFor(() => b.recorder.of('newDataProducer').length === 1, 'newDataProducer at b');
  expect(b.recorder.of('newDataProducer')[0]).toEqual({
    dataProducerId: producer.dataProducerId,
    peerId: a.joined.peerId,
    label: 'chat',
    protocol: '',
    appData: {},
  });

  const consumer = await consumeDataChannel(b.socket, producer.dataProducerId);
  links.push(consumer);
  expect(consumer.consumer).toMatchObject({ dataProducerId: producer.dataProducerId, label: 'chat', protocol: '', appData: {} });
  expect(consumer.consumer.sctpStreamParameters.streamId).toEqual(expect.any(Number));

  producer.channel.send('hello from a');
  producer.channel.send(Buffer.from('bytes too'));
  await waitFor(() => consumer.messages.length === 2, 'both messages at b', 10_000);
  expect(consumer.messages).toEqual(['hello from a', 'bytes too']);

  // The other room heard nothing and cannot reach the id.
  const cRecv = await sctpTransport(c.socket, 'recv');
  expect(outcome(await ackOf(c.socket, 'consumeData', { transportId: cRecv, dataProducerId: producer.dataProducerId }))).toBe('NOT_FOUND');
  await barrier(c.socket);
  expect(c.recorder.names()).not.toContain('newDataProducer');

  // Own data producer, and the same one twice on one transport: refused.
  const aRecv = await sctpTransport(a.socket, 'recv');
  expect(outcome(await ackOf(a.socket, 'consumeData', { transportId: aRecv, dataProducerId: producer.dataProducerId }))).toBe('FORBIDDEN');
  expect(
    outcome(await ackOf(b.socket, 'consumeData', { transportId: consumer.transportId, dataProducerId: producer.dataProducerId })),
  ).toBe('FORBIDDEN');

  // A transport without SCTP, or a recv one, carries no data producer.
  const plainSend = (await request(a.socket, 'createTransport', { direction: 'send', type: 'webrtc' })).transportId;
  expect(outcome(await ackOf(a.socket, 'produceData', { transportId: plainSend, sctpStreamParameters: { streamId: 9 } }))).toBe(
    'BAD_REQUEST',
  );
  expect(outcome(await ackOf(a.socket, 'produceData', { transportId: aRecv, sctpStreamParameters: { streamId: 9 } }))).toBe('FORBIDDEN');

  // Quota: PEER_MAX_DATA_PRODUCERS (4) per peer; the 5th is refused.
  const more: string[] = [];
  for (const streamId of [4, 5, 6]) {
    const { dataProducerId } = await request(a.socket, 'produceData', {
      transportId: producer.transportId,
      sctpStreamParameters: { streamId },
      label: `extra-${streamId}`,
      appData: { purpose: 'test' },
    });
    more.push(dataProducerId);
  }
  const fifth = await ackOf(a.socket, 'produceData', { transportId: producer.transportId, sctpStreamParameters: { streamId: 7 } });
  expect(outcome(fifth)).toBe('LIMIT_EXCEEDED');

  // A newcomer's join ack lists the others' data producers.
  const d = await member('data-1', 'd');
  expect(d.joined.dataProducers.map((p) => p.dataProducerId).sort()).toEqual([producer.dataProducerId, ...more].sort());
  expect(d.joined.dataProducers.find((p) => p.label === 'extra-4')).toMatchObject({
    peerId: a.joined.peerId,
    appData: { purpose: 'test' },
  });

  // A closes its data producer: B's data consumer goes with it, and everyone hears dataProducerClosed.
  await request(a.socket, 'closeDataProducer', { dataProducerId: producer.dataProducerId });
  await waitFor(() => b.recorder.of('dataConsumerClosed').length === 1, 'dataConsumerClosed at b');
  expect(b.recorder.of('dataConsumerClosed')[0]).toEqual({
    dataConsumerId: consumer.consumer.dataConsumerId,
    dataProducerId: producer.dataProducerId,
  });
  await waitFor(() => d.recorder.of('dataProducerClosed').length === 1, 'dataProducerClosed at d');
  expect(d.recorder.of('dataProducerClosed')[0]).toEqual({ dataProducerId: producer.dataProducerId, peerId: a.joined.peerId });
  expect(outcome(await ackOf(b.socket, 'closeDataConsumer', { dataConsumerId: consumer.consumer.dataConsumerId }))).toBe('NOT_FOUND');
  // Someone else's ids are not found either.
  expect(outcome(await ackOf(b.socket, 'closeDataProducer', { dataProducerId: more[0] }))).toBe('NOT_FOUND');

  // Leaving closes the rest: no data producer or consumer left anywhere.
  for (const s of [a, b, c, d]) await request(s.socket, 'leave', {});
  await waitFor(
    () => Object.values(server.media.index.dataCounts()).every((n) => n === 0),
    `no data producers or consumers left: ${JSON.stringify(server.media.index.dataCounts())}`,
  );
  expect(server.media.index.census().dataProducers).toBe(0);
});
