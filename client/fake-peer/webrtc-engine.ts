/**
 * WebRTC engine: a real WebRTC stack in Node (werift: ICE, DTLS, SRTP) against the server's
 * WebRtcTransports, mapped by hand between SDP (werift) and ORTC (mediasoup), like
 * mediasoup-client does in a browser:
 *  - send: werift offers one sendonly m-section per kind; the answer stands for the transport;
 *  - receive: the server side is the offerer (one sendonly m-section per consumer); each new batch
 *    of consumers renegotiates the same peer connection.
 * Loopback only: werift gathers candidates on 127.0.0.1. Simulcast and audio levels are the plain
 * engine's (produce options are ignored here).
 */
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, type PeerConfig, type RtpPacket } from 'werift';
import type { WebRtcTransportCreated } from '../../shared/contract';
import type { MediaKind, RtpCapabilities } from '../../shared/media';
import { request } from '../request';
import { createSource } from '../rtp/sources';
import { receivedStream, type EngineContext, type MediaEngine, type ReceivedStream, type RemoteProducer, type SentStream } from './engine';
import { FakePeerError } from './errors';
import { produceRtpParameters } from './rtp-parameters';
import { readLocalSdp, remoteSdp, type RemoteMediaSection, type SdpCodec } from './sdp';
import { LOOPBACK } from './udp';

const CONNECT_TIMEOUT_MS = 10_000;
/** Payload types werift offers for sending; the consumers' come from the server. */
const SEND_CODECS: Record<MediaKind, SdpCodec> = {
  audio: { mimeType: 'audio/opus', payloadType: 111, clockRate: 48_000, channels: 2 },
  video: {
    mimeType: 'video/VP8',
    payloadType: 96,
    clockRate: 90_000,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
  },
};
/** What werift can receive: Opus and VP8 with NACK/PLI/FIR, no RTX, no header extensions. */
const RECEIVABLE_MIME_TYPES = new Set(['audio/opus', 'video/vp8']);
const RECEIVABLE_FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir']);

export function peerConfig(): Partial<PeerConfig> {
  const codec = (c: SdpCodec): RTCRtpCodecParameters =>
    new RTCRtpCodecParameters({
      mimeType: c.mimeType,
      clockRate: c.clockRate,
      channels: c.channels,
      payloadType: c.payloadType,
      rtcpFeedback: c.rtcpFeedback ?? [],
    });
  return {
    codecs: { audio: [codec(SEND_CODECS.audio)], video: [codec(SEND_CODECS.video)] },
    headerExtensions: { audio: [], video: [] },
    // werift's default asks stun.l.google.com, which stalls gathering offline; loopback needs none.
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv6: false,
    // Sockets bind to 127.0.0.1; only pairs from the loopback host candidate are checked.
    iceInterfaceAddresses: { udp4: LOOPBACK },
    iceAdditionalHostAddresses: [LOOPBACK],
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === LOOPBACK,
  };
}

/**
 * werift's ICE agent falls back to stun.l.google.com even with no iceServers, and gathering then
 * waits 5 s for an answer that cannot come offline. Clear it before each gathering
 * (setLocalDescription); transports exist by then (addTransceiver / setRemoteDescription).
 */
export function withoutStunServer(pc: RTCPeerConnection): void {
  for (const transport of pc.iceTransports) transport.connection.stunServer = undefined;
}

/** The router's capabilities narrowed to what werift receives, so consumers need no RTX or extensions. */
export function receivableCapabilities(router: RtpCapabilities): RtpCapabilities {
  return {
    codecs: (router.codecs ?? [])
      .filter((c) => RECEIVABLE_MIME_TYPES.has(c.mimeType.toLowerCase()))
      .map((c) => ({
        ...c,
        rtcpFeedback: (c.rtcpFeedback ?? []).filter((fb) => RECEIVABLE_FEEDBACK.has(`${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`)),
      })),
    headerExtensions: [],
  };
}

export async function connected(pc: RTCPeerConnection, what: string): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new FakePeerError('WEBRTC_FAILED', `${what}: not connected within ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    const { unSubscribe } = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') finish();
      else if (state === 'failed' || state === 'closed') finish(new FakePeerError('WEBRTC_FAILED', `${what}: connection ${state}`));
    });
    function finish(error?: Error): void {
      clearTimeout(timer);
      unSubscribe();
      if (error) reject(error);
      else resolve();
    }
  });
}

export function asWebRtc(transport: unknown): WebRtcTransportCreated {
  const created = transport as Partial<WebRtcTransportCreated>;
  if (!created.iceParameters || !created.dtlsParameters || !created.iceCandidates || !created.transportId) {
    throw new FakePeerError('CLIENT_ERROR', 'createTransport(type: webrtc) answered without ICE/DTLS parameters');
  }
  return created as WebRtcTransportCreated;
}

interface ReceiveSide {
  transport: WebRtcTransportCreated;
  pc: RTCPeerConnection;
  sections: RemoteMediaSection[];
  version: number;
  dtlsConnected: boolean;
}

export class WebRtcEngine implements MediaEngine {
  readonly #ctx: EngineContext;
  readonly #peerConnections: RTCPeerConnection[] = [];
  readonly #stopSources: Array<() => void> = [];
  #receive: Promise<ReceiveSide> | undefined;
  #closed = false;

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  async produce(kinds: readonly MediaKind[]): Promise<SentStream[]> {
    if (kinds.length === 0) return [];
    const { socket } = this.#ctx;
    const transport = asWebRtc(await request(socket, 'createTransport', { direction: 'send', type: 'webrtc' }));
    const pc = new RTCPeerConnection(peerConfig());
    this.#peerConnections.push(pc);
    const transceivers = kinds.map((kind) => ({
      kind,
      transceiver: pc.addTransceiver(new MediaStreamTrack({ kind }), { direction: 'sendonly' }),
    }));
    withoutStunServer(pc);
    await pc.setLocalDescription(await pc.createOffer());
    const local = readLocalSdp(pc.localDescription?.sdp ?? '');
    await request(socket, 'connectTransport', {
      transportId: transport.transportId,
      dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: local.fingerprint }] },
    });

    const streams: SentStream[] = [];
    const sections: RemoteMediaSection[] = [];
    for (const { kind, transceiver } of transceivers) {
      const mid = transceiver.mid;
      const section = mid === undefined ? undefined : local.sections.get(mid);
      if (mid === undefined || section?.ssrc === undefined) throw new FakePeerError('CLIENT_ERROR', `werift offer has no SSRC for ${kind}`);
      const codec = SEND_CODECS[kind];
      const source = createSource(kind, { ssrc: section.ssrc, payloadType: codec.payloadType });
      const { producerId } = await request(socket, 'produce', {
        transportId: transport.transportId,
        kind,
        rtpParameters: produceRtpParameters(kind, {
          payloadType: codec.payloadType,
          ssrc: section.ssrc,
          cname: section.cname ?? pc.cname,
          mid,
        }),
      });
      transceiver.sender.onPictureLossIndication.subscribe(() => source.requestKeyFrame());
      sections.push({ mid, kind, direction: 'recvonly', codec });
      streams.push({ producerId, kind, source });
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: remoteSdp(transport, sections, { type: 'answer', version: 1 }) });
    await connected(pc, 'send transport');
    // Only now: werift silently drops RTP written before DTLS is up, and the source would count it.
    for (const [i, stream] of streams.entries()) {
      const track = transceivers[i]!.transceiver.sender.track;
      if (!track) throw new FakePeerError('CLIENT_ERROR', 'werift sender lost its track');
      this.#stopSources.push(this.#ctx.pacer.add(stream.source, (packets) => packets.forEach((p) => track.writeRtp(p))));
    }
    return streams;
  }

  async consume(producers: readonly RemoteProducer[]): Promise<Array<ReceivedStream | { producer: RemoteProducer; error: unknown }>> {
    const side = await (this.#receive ??= this.#openReceiveSide());
    const { socket } = this.#ctx;
    const capabilities = receivableCapabilities(this.#ctx.routerRtpCapabilities);
    const results: Array<ReceivedStream | { producer: RemoteProducer; error: unknown }> = [];
    const added: Array<{ stream: ReceivedStream; mid: string }> = [];
    for (const producer of producers) {
      try {
        const consumer = await request(socket, 'consume', {
          transportId: side.transport.transportId,
          producerId: producer.producerId,
          rtpCapabilities: capabilities,
        });
        const codec = consumer.rtpParameters.codecs[0];
        const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        const mid = consumer.rtpParameters.mid;
        if (!codec || ssrc === undefined || mid === undefined)
          throw new FakePeerError('CLIENT_ERROR', `consumer ${consumer.consumerId} lacks codec, SSRC or mid`);
        side.sections.push({ mid, kind: consumer.kind, direction: 'sendonly', codec, ssrc, cname: consumer.rtpParameters.rtcp?.cname });
        const stream = receivedStream(consumer, producer, codec.clockRate);
        added.push({ stream, mid });
      } catch (error) {
        results.push({ producer, error });
      }
    }
    if (added.length === 0) return results;

    await this.#negotiateReceive(side, added);
    for (const { stream } of added) {
      try {
        await request(socket, 'resumeConsumer', { consumerId: stream.consumerId });
        results.push(stream);
      } catch (error) {
        results.push({ producer: stream.producer, error });
      }
    }
    return results;
  }

  stopSending(): void {
    for (const stop of this.#stopSources.splice(0)) stop();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopSending();
    await Promise.all(this.#peerConnections.map((pc) => pc.close().catch(() => undefined)));
  }

  async #openReceiveSide(): Promise<ReceiveSide> {
    const transport = asWebRtc(await request(this.#ctx.socket, 'createTransport', { direction: 'recv', type: 'webrtc' }));
    const pc = new RTCPeerConnection(peerConfig());
    this.#peerConnections.push(pc);
    return { transport, pc, sections: [], version: 0, dtlsConnected: false };
  }

  /** Offers all consumer sections so far, answers, hooks the new ones' tracks; connects DTLS the first time. */
  async #negotiateReceive(side: ReceiveSide, added: Array<{ stream: ReceivedStream; mid: string }>): Promise<void> {
    const { pc } = side;
    side.version++;
    await pc.setRemoteDescription({
      type: 'offer',
      sdp: remoteSdp(side.transport, side.sections, { type: 'offer', version: side.version }),
    });
    for (const { stream, mid } of added) {
      const transceiver = pc.getTransceivers().find((t) => t.mid === mid);
      if (!transceiver) throw new FakePeerError('CLIENT_ERROR', `no werift transceiver for mid ${mid}`);
      transceiver.receiver.track.onReceiveRtp.subscribe((rtp: RtpPacket) => {
        stream.stats.record(
          rtp.header.sequenceNumber,
          rtp.header.timestamp,
          rtp.header.serializeSize + rtp.payload.length,
          performance.now(),
        );
      });
    }
    withoutStunServer(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    if (!side.dtlsConnected) {
      side.dtlsConnected = true;
      const local = readLocalSdp(pc.localDescription?.sdp ?? '');
      await request(this.#ctx.socket, 'connectTransport', {
        transportId: side.transport.transportId,
        dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: local.fingerprint }] },
      });
      await connected(pc, 'receive transport');
    }
  }
}
