/**
 * Plain-RTP engine: media over mediasoup PlainTransports from loopback UDP sockets, no ICE/DTLS/SRTP.
 * Cheap enough to run hundreds of peers on one machine while the server sees the same forwarding
 * work as with WebRTC clients (minus SRTP).
 *  - send: one plain transport connected to our UDP socket (so mediasoup's RTCP — PLI/FIR — reaches
 *    us and the video source answers with a key frame); RTP for every producer from that socket;
 *    a simulcast camera sends three encodings, each on its own SSRC; audio may carry the
 *    ssrc-audio-level header extension;
 *  - receive: one plain transport connected to a second UDP socket; consumers are told apart by SSRC;
 *    each video key frame's picture size is noted (which simulcast layer arrives).
 */
import type dgram from 'node:dgram';
import type { PlainTransportCreated } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import { request } from '../request';
import { AUDIO_LEVEL_EXTENSION_ID, isRtcp, readRtpPacket } from '../rtp/packet';
import { keyFrameRequests, writeSenderReport } from '../rtp/rtcp';
import { OpusLikeSource, PLAIN_PAYLOAD_TYPES, randomSsrc, SimulcastSource, Vp8LikeSource, type RtpSource } from '../rtp/sources';
import { readVp8KeyFrameSize } from '../rtp/vp8';
import {
  receivedStream,
  type EngineContext,
  type MediaEngine,
  type ProduceOptions,
  type ReceivedStream,
  type RemoteProducer,
  type SentStream,
} from './engine';
import { FakePeerError } from './errors';
import { produceRtpParameters } from './rtp-parameters';
import { bindLoopbackUdp, closeUdp, LOOPBACK } from './udp';

/** mediasoup's bandwidth probation packets carry this payload type: not media, not counted. */
const PROBATION_PAYLOAD_TYPE = 127;
/** How often each video stream sends a Sender Report (simulcast layer switches need one per stream). */
const SENDER_REPORT_INTERVAL_MS = 1_000;

interface ReceiveSide {
  transportId: string;
  socket: dgram.Socket;
  streamsBySsrc: Map<number, ReceivedStream>;
}

export class PlainEngine implements MediaEngine {
  readonly #ctx: EngineContext;
  readonly #cname = `fake-${randomSsrc().toString(16)}`;
  #sendSocket: dgram.Socket | undefined;
  readonly #stopSources: Array<() => void> = [];
  #senderReports: NodeJS.Timeout | undefined;
  #receive: Promise<ReceiveSide> | undefined;
  #closed = false;

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  async produce(kinds: readonly MediaKind[], options: ProduceOptions = {}): Promise<SentStream[]> {
    if (kinds.length === 0) return [];
    const { socket } = this.#ctx;
    const transport = await request(socket, 'createTransport', { direction: 'send', type: 'plain', rtcpMux: true, comedia: false });
    const { transportId, ip, port } = asPlain(transport);
    const udp = await bindLoopbackUdp();
    udp.on('error', (error) => this.#ctx.reportError(error));
    this.#sendSocket = udp;
    await request(socket, 'connectTransport', { transportId, ip: LOOPBACK, port: udp.address().port });

    const sourcesBySsrc = new Map<number, RtpSource>();
    udp.on('message', (message) => {
      if (!isRtcp(message)) return;
      for (const ssrc of keyFrameRequests(message)) sourcesBySsrc.get(ssrc)?.requestKeyFrame();
    });

    const streams: SentStream[] = [];
    for (const kind of kinds) {
      const payloadType = PLAIN_PAYLOAD_TYPES[kind];
      const withLevel = kind === 'audio' && options.audioLevelDbov !== undefined;
      const simulcast =
        kind === 'video' && options.simulcast === true
          ? new SimulcastSource([randomSsrc(), randomSsrc(), randomSsrc()], payloadType)
          : undefined;
      const source: RtpSource =
        simulcast ??
        (kind === 'audio'
          ? new OpusLikeSource({
              ssrc: randomSsrc(),
              payloadType,
              audioLevelDbov: options.audioLevelDbov,
              audioLevelExtensionId: AUDIO_LEVEL_EXTENSION_ID,
            })
          : new Vp8LikeSource({ ssrc: randomSsrc(), payloadType }));
      const { producerId } = await request(socket, 'produce', {
        transportId,
        kind,
        rtpParameters: produceRtpParameters(kind, {
          payloadType,
          ssrc: source.ssrc,
          cname: this.#cname,
          ...(simulcast ? { simulcastSsrcs: simulcast.layers.map((l) => l.ssrc) } : {}),
          ...(withLevel ? { audioLevelExtensionId: AUDIO_LEVEL_EXTENSION_ID } : {}),
        }),
        appData: { source: kind === 'audio' ? 'microphone' : 'camera' },
      });
      // A key frame request names one SSRC: a simulcast layer answers for itself.
      for (const layer of simulcast?.layers ?? [source]) sourcesBySsrc.set(layer.ssrc, layer);
      this.#stopSources.push(
        this.#ctx.pacer.add(source, (packets) => {
          for (const packet of packets) udp.send(packet, port, ip);
        }),
      );
      streams.push({ producerId, kind, source });
    }
    const video = [...sourcesBySsrc.values()].filter((s) => s.kind === 'video');
    if (video.length > 0) {
      this.#senderReports = setInterval(() => {
        const wallClockMs = Date.now();
        const now = performance.now();
        for (const s of video) {
          const rtpTimestamp = s.rtpTimestampAt(now);
          if (rtpTimestamp === undefined || s.muted) continue;
          udp.send(writeSenderReport(s.ssrc, { wallClockMs, rtpTimestamp, ...s.counters }), port, ip);
        }
      }, SENDER_REPORT_INTERVAL_MS);
    }
    return streams;
  }

  async consume(producers: readonly RemoteProducer[]): Promise<Array<ReceivedStream | { producer: RemoteProducer; error: unknown }>> {
    const side = await (this.#receive ??= this.#openReceiveSide());
    return Promise.all(
      producers.map(async (producer) => {
        try {
          return await this.#consumeOne(side, producer);
        } catch (error) {
          return { producer, error };
        }
      }),
    );
  }

  stopSending(): void {
    for (const stop of this.#stopSources.splice(0)) stop();
    clearInterval(this.#senderReports);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopSending();
    const receive = await this.#receive?.catch(() => undefined);
    await Promise.all([this.#sendSocket && closeUdp(this.#sendSocket), receive && closeUdp(receive.socket)]);
  }

  async #openReceiveSide(): Promise<ReceiveSide> {
    const { socket } = this.#ctx;
    const transport = await request(socket, 'createTransport', { direction: 'recv', type: 'plain', rtcpMux: true, comedia: false });
    const { transportId } = asPlain(transport);
    const udp = await bindLoopbackUdp();
    udp.on('error', (error) => this.#ctx.reportError(error));
    const streamsBySsrc = new Map<number, ReceivedStream>();
    udp.on('message', (message) => {
      // Parse only the fixed header: this handler runs for every packet of every consumer.
      if (message.length < 12 || isRtcp(message) || (message[1]! & 0x7f) === PROBATION_PAYLOAD_TYPE) return;
      const stream = streamsBySsrc.get(message.readUInt32BE(8));
      if (!stream) return;
      stream.stats.record(message.readUInt16BE(2), message.readUInt32BE(4), message.length, performance.now());
      if (stream.producer.kind === 'video') {
        const payload = readRtpPacket(message)?.payload;
        const size = payload && readVp8KeyFrameSize(payload);
        if (size) stream.keyFrameSize = size;
      }
    });
    try {
      await request(socket, 'connectTransport', { transportId, ip: LOOPBACK, port: udp.address().port });
    } catch (error) {
      await closeUdp(udp); // close() never sees a receive side that failed: its socket would stay open
      throw error;
    }
    return { transportId, socket: udp, streamsBySsrc };
  }

  async #consumeOne(side: ReceiveSide, producer: RemoteProducer): Promise<ReceivedStream> {
    const { socket, routerRtpCapabilities } = this.#ctx;
    const consumer = await request(socket, 'consume', {
      transportId: side.transportId,
      producerId: producer.producerId,
      rtpCapabilities: routerRtpCapabilities,
    });
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    const codec = consumer.rtpParameters.codecs[0];
    if (ssrc === undefined || !codec) throw new FakePeerError('CLIENT_ERROR', `consumer ${consumer.consumerId} has no SSRC or codec`);
    const stream = receivedStream(consumer, producer, codec.clockRate);
    side.streamsBySsrc.set(ssrc, stream); // before resuming: the first packet may follow the ack
    await request(socket, 'resumeConsumer', { consumerId: consumer.consumerId });
    return stream;
  }
}

function asPlain(transport: unknown): PlainTransportCreated {
  const plain = transport as Partial<PlainTransportCreated>;
  if (typeof plain.ip !== 'string' || typeof plain.port !== 'number' || typeof plain.transportId !== 'string') {
    throw new FakePeerError('CLIENT_ERROR', 'createTransport(type: plain) answered without ip/port');
  }
  return plain as PlainTransportCreated;
}
