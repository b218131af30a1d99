/**
 * A participant of a call for the cluster's fault tests: a socket.io client that publishes real
 * audio RTP over a plain transport (a packet every 20 ms), consumes every other participant's
 * producers into its own UDP socket, and stays in the call the way the SDK does: a dropped
 * connection (not ended by the server) is resumed within the grace, retrying what is retryable
 * (UNAVAILABLE, a refused or lost connection); `roomClosed { reason: 'MEDIA_FAILURE' }` joins the
 * room again as a new peer, publishing and subscribing anew. What happened is in `events`. Not a
 * test file.
 */
import type dgram from 'node:dgram';
import { ConnectError, connectRoomSocket } from '../../../client/connect';
import { request, RequestError, type RoomSocket } from '../../../client/request';
import { writeRtpPacket } from '../../../client/rtp/packet';
import type { Joined, NotificationMap, PlainTransportCreated, ProducerInfo, Resumed } from '../../../shared/contract';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, udpPort } from '../../helpers/rtp';

/** Codes worth another try, as the SDK sees them. */
const TRANSIENT = new Set(['UNAVAILABLE', 'CONNECT_FAILED', 'DISCONNECTED', 'TIMEOUT', 'RATE_LIMITED']);
const RETRY_DELAY_MS = 200;

let nextSsrc = 33_330_000;

export interface CallClientOptions {
  name: string;
  roomId: string;
  /** The node it connects (and reconnects) to. */
  node: () => { url: string };
  /** How long it tries to resume after a drop (the server's RECONNECT_GRACE_MS). */
  graceMs: number;
  /** How long it tries to join again after MEDIA_FAILURE. */
  rejoinMs?: number;
}

export class CallClient {
  readonly name: string;
  /** What happened: 'joined', 'roomClosed:<reason>', 'dropped:<reason>', 'resumed', 'rejoined', 'ended:<why>'. */
  readonly events: string[] = [];
  socket: RoomSocket | undefined;
  peerId = '';
  readonly #opts: CallClientOptions;
  #resumeToken = '';
  readonly #ssrc = nextSsrc++;
  #seq = 0;
  #send: { udp: dgram.Socket; to: { ip: string; port: number } } | undefined;
  #recv: { udp: dgram.Socket; transportId: string; counter: RtpCounter } | undefined;
  readonly #udps: dgram.Socket[] = [];
  #consumed = new Set<string>();
  #pacer: NodeJS.Timeout | undefined;
  #roomLost = false;
  #stopped = false;
  /** RTP received by the subscriptions of earlier sessions (before a rejoin). */
  #receivedBefore = 0;
  /** The recovery under way, if any. */
  recovering: Promise<void> | undefined;

  constructor(opts: CallClientOptions) {
    this.name = opts.name;
    this.#opts = opts;
  }

  /** Connects, joins, publishes audio and subscribes to what the others publish. */
  async join(): Promise<Joined> {
    const socket = await connectRoomSocket(this.#opts.node().url, this.#opts.roomId, { insecure: true });
    const joined = await request(socket, 'join', { displayName: this.name });
    this.#adopt(socket, joined);
    await this.#startMedia(joined.producers);
    this.events.push('joined');
    return joined;
  }

  /** Media RTP packets received so far, over every subscription. */
  get received(): number {
    return this.#receivedBefore + rtpCount(this.#recv?.counter);
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  /** A request on the current socket. */
  request<E extends Parameters<typeof request>[1]>(event: E, payload: Parameters<typeof request<E>>[2]) {
    if (!this.socket) throw new Error(`${this.name} has no socket`);
    return request(this.socket, event, payload);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#pacer);
    for (const udp of this.#udps) udp.close();
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
  }

  #adopt(socket: RoomSocket, welcome: Joined): void {
    this.socket?.removeAllListeners();
    this.socket = socket;
    this.peerId = welcome.peerId;
    this.#resumeToken = welcome.resumeToken;
    this.#roomLost = false;
    socket.on('newProducer', (producer: NotificationMap['newProducer']) => void this.#consume([producer]).catch(() => undefined));
    socket.on('roomClosed', ({ reason }: NotificationMap['roomClosed']) => {
      this.events.push(`roomClosed:${reason}`);
      if (reason === 'MEDIA_FAILURE') this.#roomLost = true;
    });
    socket.on('disconnect', (reason) => {
      if (this.#stopped || socket !== this.socket) return;
      this.recovering = this.#recover(reason).finally(() => (this.recovering = undefined));
    });
  }

  async #startMedia(producers: ProducerInfo[]): Promise<void> {
    const socket = this.socket!;
    const sendUdp = await bindUdp();
    this.#udps.push(sendUdp);
    const send = (await request(socket, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
    await request(socket, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.1', port: udpPort(sendUdp) });
    await request(socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: opusRtpParameters(this.#ssrc) });
    this.#send = { udp: sendUdp, to: { ip: send.ip, port: send.port } };
    this.#pacer ??= setInterval(() => this.#sendPacket(), 20);

    const recvUdp = await bindUdp();
    this.#udps.push(recvUdp);
    const recv = (await request(socket, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
    await request(socket, 'connectTransport', { transportId: recv.transportId, ip: '127.0.0.1', port: udpPort(recvUdp) });
    this.#receivedBefore = this.received;
    this.#recv = { udp: recvUdp, transportId: recv.transportId, counter: new RtpCounter(recvUdp) };
    this.#consumed = new Set();
    await this.#consume(producers);
  }

  async #consume(producers: Array<{ producerId: string; peerId: string }>): Promise<void> {
    const socket = this.socket;
    const recv = this.#recv;
    if (!socket || !recv) return;
    const fresh = producers.filter((p) => p.peerId !== this.peerId && !this.#consumed.has(p.producerId));
    if (!fresh.length) return;
    for (const p of fresh) this.#consumed.add(p.producerId);
    const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
    for (const { producerId } of fresh) {
      const consumer = await request(socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities });
      await request(socket, 'resumeConsumer', { consumerId: consumer.consumerId });
    }
  }

  #sendPacket(): void {
    const send = this.#send;
    if (!send || this.#stopped) return;
    const seq = this.#seq++ & 0xffff;
    const packet = writeRtpPacket(
      { payloadType: OPUS_PT, sequenceNumber: seq, timestamp: seq * 960, ssrc: this.#ssrc, marker: false },
      Buffer.alloc(100, 0xab),
    );
    send.udp.send(packet, send.to.port, send.to.ip, () => undefined);
  }

  /** What the SDK does after a drop: resume within the grace, or join again after MEDIA_FAILURE. */
  async #recover(reason: string): Promise<void> {
    if (this.#roomLost) return this.#rejoin();
    this.events.push(`dropped:${reason}`);
    if (reason === 'io server disconnect') return void this.events.push('ended:server');
    const deadline = Date.now() + this.#opts.graceMs;
    while (!this.#stopped) {
      let socket: RoomSocket | undefined;
      try {
        socket = await connectRoomSocket(this.#opts.node().url, this.#opts.roomId, { insecure: true, timeoutMs: 3_000 });
        const resumed: Resumed = await request(socket, 'resume', { resumeToken: this.#resumeToken });
        this.#adopt(socket, resumed);
        this.events.push('resumed');
        // Producers that appeared while away (the consumers of the others survived).
        await this.#consume(resumed.producers);
        return;
      } catch (error) {
        socket?.disconnect();
        const code = error instanceof ConnectError || error instanceof RequestError ? error.code : 'DISCONNECTED';
        if (!TRANSIENT.has(code) || Date.now() > deadline) return void this.events.push(`ended:${code}`);
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
    }
  }

  async #rejoin(): Promise<void> {
    const deadline = Date.now() + (this.#opts.rejoinMs ?? 20_000);
    while (!this.#stopped) {
      let socket: RoomSocket | undefined;
      try {
        socket = await connectRoomSocket(this.#opts.node().url, this.#opts.roomId, { insecure: true, timeoutMs: 3_000 });
        const joined = await request(socket, 'join', { displayName: this.name });
        this.#adopt(socket, joined);
        await this.#startMedia(joined.producers);
        this.events.push('rejoined');
        return;
      } catch (error) {
        socket?.disconnect();
        const code = error instanceof ConnectError || error instanceof RequestError ? error.code : 'DISCONNECTED';
        if (!TRANSIENT.has(code) || Date.now() > deadline) return void this.events.push(`ended:${code}`);
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
    }
  }
}

/** RTP packets counted, probation packets (payload type 127) apart. */
function rtpCount(counter: RtpCounter | undefined): number {
  let count = 0;
  for (const [payloadType, packets] of counter?.byPayloadType ?? []) if (payloadType !== 127) count += packets;
  return count;
}

/** Resolves once each client has received `packets` more RTP packets than now; rejects naming the ones that did not. */
export async function mediaFlows(clients: CallClient[], packets = 25, timeoutMs = 5_000): Promise<void> {
  const start = clients.map((client) => client.received);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const short = clients.filter((client, i) => client.received - start[i]! < packets);
    if (!short.length) return;
    if (Date.now() > deadline) {
      throw new Error(`no media for ${short.map((c) => `${c.name} (${c.events.join(', ')})`).join('; ')} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
