/**
 * Plain-RTP peers for the tests of a room spread over workers: join, plain transports on their own
 * UDP sockets, produce opus, consume, and send real RTP. Not a test file.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../../client/request';
import type { PlainTransportCreated } from '../../../shared/contract';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort } from '../../helpers/rtp';
import { joinRoom, waitFor, type TestServer } from '../../helpers/server';
import { plainTransport } from '../../signalling/support/harness';

export class PlainPeer {
  /** Where this peer's send transport takes RTP from (and sends RTCP to). */
  out!: dgram.Socket;
  /** Where this peer's recv transport delivers RTP. */
  in!: dgram.Socket;
  counter!: RtpCounter;
  send: PlainTransportCreated | undefined;
  recv: PlainTransportCreated | undefined;
  producerId: string | undefined;
  ssrc = 0;

  private constructor(
    readonly socket: RoomSocket,
    readonly peerId: string,
  ) {}

  static async join(server: TestServer, roomId: string, name: string): Promise<PlainPeer> {
    const { socket, joined } = await joinRoom(server, roomId, name);
    const peer = new PlainPeer(socket, joined.peerId);
    await peer.openSockets();
    return peer;
  }

  async openSockets(): Promise<void> {
    this.out = await bindUdp();
    this.in = await bindUdp();
    this.counter = new RtpCounter(this.in);
  }

  async createSend(): Promise<PlainTransportCreated> {
    this.send = await plainTransport(this.socket, 'send', udpPort(this.out));
    return this.send;
  }

  async createRecv(): Promise<PlainTransportCreated> {
    this.recv = await plainTransport(this.socket, 'recv', udpPort(this.in));
    return this.recv;
  }

  /** Produces opus on the send transport (created if needed). */
  async produceAudio(ssrc: number): Promise<string> {
    const send = this.send ?? (await this.createSend());
    this.ssrc = ssrc;
    const { producerId } = await request(this.socket, 'produce', {
      transportId: send.transportId,
      kind: 'audio',
      rtpParameters: opusRtpParameters(ssrc),
    });
    this.producerId = producerId;
    return producerId;
  }

  /** Consumes a producer on the recv transport (created if needed) and resumes it; returns the consumer and its payload type. */
  async consume(producerId: string): Promise<{ consumerId: string; payloadType: number }> {
    const recv = this.recv ?? (await this.createRecv());
    const { rtpCapabilities } = await request(this.socket, 'getRouterRtpCapabilities', {});
    const consumer = await request(this.socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities });
    await request(this.socket, 'resumeConsumer', { consumerId: consumer.consumerId });
    return { consumerId: consumer.consumerId, payloadType: consumer.rtpParameters.codecs[0]!.payloadType };
  }

  /** Sends `count` opus RTP packets into this peer's send transport. */
  sendAudio(count: number): Promise<void> {
    const send = this.send!;
    return sendRtp(this.out, { ip: send.ip, port: send.port }, { ssrc: this.ssrc, payloadType: OPUS_PT, count, intervalMs: 4 });
  }

  /** After mediaReset: the server dropped every transport, producer and consumer of the peer. */
  forgetMedia(): void {
    this.send = undefined;
    this.recv = undefined;
    this.producerId = undefined;
  }

  received(payloadType: number): number {
    return this.counter.byPayloadType.get(payloadType) ?? 0;
  }

  close(): void {
    this.socket.disconnect();
    this.out.close();
    this.in.close();
  }
}

/** Both peers send `count` packets at once; each must receive 95 % of the other's through its consumer. */
export async function exchangeAudio(a: PlainPeer, aReceivesOn: number, b: PlainPeer, bReceivesOn: number, count = 100): Promise<void> {
  const before = { a: a.received(aReceivesOn), b: b.received(bReceivesOn) };
  await Promise.all([a.sendAudio(count), b.sendAudio(count)]);
  await waitFor(
    () => a.received(aReceivesOn) - before.a >= count * 0.95 && b.received(bReceivesOn) - before.b >= count * 0.95,
    `each peer to receive 95 % of the other's ${count} packets`,
  );
}

/** The pid of the worker holding this id (transport, producer, consumer, router). */
export function workerOf(server: TestServer, id: string): number | undefined {
  return server.media.index.workerPidOf(id);
}
