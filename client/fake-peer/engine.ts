/**
 * What a media engine does for a fake peer: turn "produce these kinds" and "consume these
 * producers" into transports, signalling and real packets. The peer (fake-peer.ts) owns the
 * socket, the room protocol and the bookkeeping; engines own only the media path.
 */
import type { MediaKind, RtpCapabilities } from '../../shared/media';
import type { RoomSocket } from '../request';
import { StreamReceiveStats } from '../rtp/receive-stats';
import type { RtpSource } from '../rtp/sources';
import type { Pacer } from './pacer';

export type EngineName = 'plain' | 'webrtc';
export const ENGINE_NAMES: readonly EngineName[] = ['plain', 'webrtc'];

/** A producer of another peer this peer should receive. */
export interface RemoteProducer {
  producerId: string;
  peerId: string;
  kind: MediaKind;
  /** When this peer learned of it (join response or newProducer), performance.now() ms. */
  knownAtMs: number;
  /** Paused by its owner: silence is expected. Kept up to date from notifications. */
  paused: boolean;
}

export interface SentStream {
  producerId: string;
  kind: MediaKind;
  source: RtpSource;
}

export interface ReceivedStream {
  consumerId: string;
  producer: RemoteProducer;
  stats: StreamReceiveStats;
  /** The consumer or its producer was closed by the server (stop expecting media). */
  closed: boolean;
  /** Last-N holds the consumer paused (consume ack, then consumerPaused / consumerResumed): silence is expected. */
  serverPaused: boolean;
  /** When last-N last resumed it (performance.now() ms): media is due from then on. */
  serverResumedAtMs?: number;
  /** Picture size of the last VP8 key frame received (video, plain engine): which simulcast layer arrives. */
  keyFrameSize?: { width: number; height: number };
  /** Last consumerScore pushed for it. */
  score?: { score: number; producerScore: number };
  /** Layers last reported by consumerLayersChanged (simulcast). */
  layers?: { spatialLayer: number | null; temporalLayer: number | null };
}

/** A new stream received through `consumer` (its codec's clock rate for jitter). */
export function receivedStream(
  consumer: { consumerId: string; serverPaused: boolean },
  producer: RemoteProducer,
  clockRate: number,
): ReceivedStream {
  return {
    consumerId: consumer.consumerId,
    producer,
    stats: new StreamReceiveStats(clockRate),
    closed: false,
    serverPaused: consumer.serverPaused,
  };
}

export interface ProduceOptions {
  /** Video as a simulcast camera: three VP8 encodings (SIMULCAST_LAYERS). Plain engine only. Default false. */
  simulcast?: boolean;
  /**
   * Audio: loudness sent in the ssrc-audio-level header extension, dBov (-127 silence … 0); undefined:
   * no extension. Plain engine only.
   */
  audioLevelDbov?: number;
}

export interface EngineContext {
  socket: RoomSocket;
  /** The router's capabilities (from getRouterRtpCapabilities). */
  routerRtpCapabilities: RtpCapabilities;
  pacer: Pacer;
  /** Counts an asynchronous failure (a socket error) against the peer. */
  reportError(error: unknown): void;
}

export interface MediaEngine {
  /** Creates the send transport and one producer per kind; media flows once connected. */
  produce(kinds: readonly MediaKind[], options?: ProduceOptions): Promise<SentStream[]>;
  /**
   * Consumes `producers` (creating the receive transport on first use) and resumes the consumers.
   * Settles per producer: a failed one is returned as an error, not thrown.
   */
  consume(producers: readonly RemoteProducer[]): Promise<Array<ReceivedStream | { producer: RemoteProducer; error: unknown }>>;
  /** Stops the packet sources (transports stay open so in-flight packets still arrive). */
  stopSending(): void;
  /** Releases sockets and peer connections. Idempotent. */
  close(): Promise<void>;
}
