/**
 * Media over plain RTP transports for tests: a peer publishes opus and/or VP8 from a local UDP
 * socket, another consumes producers into its own UDP socket and counts what arrives.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated, ProducerAppData } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort, VP8_PT, vp8RtpParameters } from './rtp';
import { connectToRoom, waitFor } from './server';

export interface Publication {
  udp: dgram.Socket;
  transport: PlainTransportCreated;
  producerIds: Partial<Record<MediaKind, string>>;
  ssrcs: Record<MediaKind, number>;
  /** Sends `count` RTP packets of `kind` to the server. */
  send(kind: MediaKind, count: number): Promise<void>;
}

let nextSsrc = 22_220_000;

/** A plain send transport from a fresh UDP socket, producing each of `kinds` (appData per kind). */
export async function publishPlain(
  socket: RoomSocket,
  kinds: MediaKind[],
  appData: Partial<Record<MediaKind, ProducerAppData>> = {},
): Promise<Publication> {
  const udp = await bindUdp();
  const transport = (await request(socket, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(socket, 'connectTransport', { transportId: transport.transportId, ip: '127.0.0.1', port: udpPort(udp) });
  const ssrcs = { audio: nextSsrc++, video: nextSsrc++ };
  const producerIds: Publication['producerIds'] = {};
  for (const kind of kinds) {
    const rtpParameters = kind === 'audio' ? opusRtpParameters(ssrcs.audio) : vp8RtpParameters(ssrcs.video);
    const { producerId } = await request(socket, 'produce', {
      transportId: transport.transportId,
      kind,
      rtpParameters,
      appData: appData[kind],
    });
    producerIds[kind] = producerId;
  }
  return {
    udp,
    transport,
    producerIds,
    ssrcs,
    send: (kind, count) =>
      sendRtp(
        udp,
        { ip: transport.ip, port: transport.port },
        { ssrc: ssrcs[kind], payloadType: kind === 'audio' ? OPUS_PT : VP8_PT, count, intervalMs: 2 },
      ),
  };
}

export interface Subscription {
  udp: dgram.Socket;
  counter: RtpCounter;
  /** producerId → consumerId */
  consumerIds: Map<string, string>;
  /** RTP packets received of the consumer of `producerId`. */
  received(producerId: string): number;
}

/** A plain recv transport into a fresh UDP socket, consuming (and resuming) each producer. */
export async function subscribePlain(socket: RoomSocket, producerIds: string[]): Promise<Subscription> {
  const udp = await bindUdp();
  const counter = new RtpCounter(udp);
  const transport = (await request(socket, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  await request(socket, 'connectTransport', { transportId: transport.transportId, ip: '127.0.0.1', port: udpPort(udp) });
  const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
  const consumerIds = new Map<string, string>();
  const payloadTypes = new Map<string, number>();
  for (const producerId of producerIds) {
    const consumer = await request(socket, 'consume', { transportId: transport.transportId, producerId, rtpCapabilities });
    await request(socket, 'resumeConsumer', { consumerId: consumer.consumerId });
    consumerIds.set(producerId, consumer.consumerId);
    payloadTypes.set(producerId, consumer.rtpParameters.codecs[0]!.payloadType);
  }
  return {
    udp,
    counter,
    consumerIds,
    received: (producerId) => counter.byPayloadType.get(payloadTypes.get(producerId) ?? -1) ?? 0,
  };
}

/**
 * A whole call: two peers join `roomId`, one publishes opus over plain RTP, the other receives at
 * least 95 % of 40 packets; then both leave. Proves a server serves joins and media.
 */
export async function plainAudioCall(server: { url: string }, roomId: string): Promise<void> {
  const alice = await connectToRoom(server, roomId);
  const bob = await connectToRoom(server, roomId);
  try {
    await request(alice, 'join', { displayName: 'alice' });
    await request(bob, 'join', { displayName: 'bob' });
    const publication = await publishPlain(alice, ['audio']);
    const producerId = publication.producerIds.audio!;
    const subscription = await subscribePlain(bob, [producerId]);
    try {
      await publication.send('audio', 40);
      await waitFor(() => subscription.received(producerId) >= 38, `bob to receive alice's audio in ${roomId}`);
    } finally {
      publication.udp.close();
      subscription.udp.close();
    }
  } finally {
    alice.disconnect();
    bob.disconnect();
  }
}
