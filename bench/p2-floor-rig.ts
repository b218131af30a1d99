/**
 * P2's same-run floor: the product's forwarding topology on raw mediasoup, no server and no
 * signalling. A worker and router of the bench's own (createFloorRouter: the server's binary,
 * codecs and log level), plain transports with the server's options (plainTransportOptions),
 * the same senders — audio + VP8-like video from the same sources, paced by the same Pacer,
 * answering PLI/FIR with key frames — and the same sinks: one plain transport and one loopback
 * UDP socket per sink, every producer consumed (paused, then resumed, as the server does),
 * receive statistics from the same RTP header fields. Mirrors client/fake-peer/plain-engine.ts.
 */
import type dgram from 'node:dgram';
import type * as ms from 'mediasoup/types';
import { bindLoopbackUdp, closeUdp, LOOPBACK } from '../client/fake-peer/udp';
import { produceRtpParameters } from '../client/fake-peer/rtp-parameters';
import type { Pacer } from '../client/fake-peer/pacer';
import { isRtcp } from '../client/rtp/packet';
import { StreamReceiveStats } from '../client/rtp/receive-stats';
import { keyFrameRequests } from '../client/rtp/rtcp';
import { createSource, PLAIN_PAYLOAD_TYPES, randomSsrc, type RtpSource } from '../client/rtp/sources';
import { plainTransportOptions } from '../server/media/settings';
import { benchMediaConfig, createFloorRouter, mapLimit } from './context';
import type { ForwardingRig, P2Sizes, SinkStream } from './p2-ramp';

/** mediasoup's bandwidth probation packets carry this payload type: not media, not counted. */
const PROBATION_PAYLOAD_TYPE = 127;
const KINDS = ['audio', 'video'] as const;

interface FloorSink {
  transport: ms.PlainTransport;
  socket: dgram.Socket;
  streams: SinkStream[];
}

export async function createFloorRig(sizes: P2Sizes, pacer: Pacer): Promise<ForwardingRig> {
  const { worker, router } = await createFloorRouter();
  const transportOptions = plainTransportOptions(benchMediaConfig(), { comedia: false, rtcpMux: true });
  const producers: ms.Producer[] = [];
  const senderSockets: dgram.Socket[] = [];
  const stopSources: Array<() => void> = [];
  const sinks: FloorSink[] = [];

  /** A plain transport connected to a fresh loopback socket (what the fake peers do over signalling). */
  const openTransport = async (): Promise<{ transport: ms.PlainTransport; socket: dgram.Socket }> => {
    const transport = await router.createPlainTransport(transportOptions);
    const socket = await bindLoopbackUdp();
    await transport.connect({ ip: LOOPBACK, port: socket.address().port });
    return { transport, socket };
  };

  const startSender = async (index: number): Promise<void> => {
    const { transport, socket } = await openTransport();
    senderSockets.push(socket);
    const sourcesBySsrc = new Map<number, RtpSource>();
    socket.on('message', (message) => {
      if (!isRtcp(message)) return;
      for (const ssrc of keyFrameRequests(message)) sourcesBySsrc.get(ssrc)?.requestKeyFrame();
    });
    const { localAddress, localPort } = transport.tuple;
    for (const kind of KINDS) {
      const source = createSource(kind, { ssrc: randomSsrc(), payloadType: PLAIN_PAYLOAD_TYPES[kind] });
      producers.push(
        await transport.produce({
          kind,
          rtpParameters: produceRtpParameters(kind, {
            payloadType: source.payloadType,
            ssrc: source.ssrc,
            cname: `floor-${index}`,
          }) as ms.RtpParameters,
        }),
      );
      sourcesBySsrc.set(source.ssrc, source);
      stopSources.push(
        pacer.add(source, (packets) => {
          for (const packet of packets) socket.send(packet, localPort, localAddress);
        }),
      );
    }
  };

  const addSink = async (): Promise<FloorSink> => {
    const { transport, socket } = await openTransport();
    const streamsBySsrc = new Map<number, SinkStream>();
    socket.on('message', (message) => {
      // Same filter and bookkeeping as the plain engine's receive side.
      if (message.length < 12 || isRtcp(message) || (message[1]! & 0x7f) === PROBATION_PAYLOAD_TYPE) return;
      const stream = streamsBySsrc.get(message.readUInt32BE(8));
      stream?.stats.record(message.readUInt16BE(2), message.readUInt32BE(4), message.length, performance.now());
    });
    const sink: FloorSink = { transport, socket, streams: [] };
    sinks.push(sink);
    sink.streams = await Promise.all(
      producers.map(async (producer) => {
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
        const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        const codec = consumer.rtpParameters.codecs[0];
        if (ssrc === undefined || !codec) throw new Error(`floor consumer ${consumer.id} has no SSRC or codec`);
        const stream: SinkStream = { stats: new StreamReceiveStats(codec.clockRate) };
        streamsBySsrc.set(ssrc, stream);
        await consumer.resume();
        return stream;
      }),
    );
    return sink;
  };

  const closeSink = async (sink: FloorSink): Promise<void> => {
    sink.transport.close();
    await closeUdp(sink.socket);
  };

  return {
    workerPids: [worker.pid],
    workers: async () => {
      const usage = await worker.getResourceUsage();
      return [{ pid: worker.pid, cpuMs: usage.ru_utime + usage.ru_stime }];
    },
    start: async () => {
      for (let i = 0; i < sizes.senders; i++) await startSender(i);
      return producers.length;
    },
    addSinks: async (count) => {
      try {
        // As many at once as the product's fake peers are started (25).
        await mapLimit(
          Array.from({ length: count }, (_, i) => i),
          25,
          () => addSink(),
        );
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    },
    removeSinks: async (count) => {
      await Promise.all(sinks.splice(Math.max(0, sinks.length - count)).map(closeSink));
    },
    streams: function* () {
      for (const sink of sinks) yield* sink.streams;
    },
    close: async () => {
      for (const stop of stopSources.splice(0)) stop();
      await Promise.all(sinks.splice(0).map(closeSink));
      await Promise.all(senderSockets.splice(0).map(closeUdp));
      worker.close();
    },
  };
}
