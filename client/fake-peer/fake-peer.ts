/**
 * One fake participant: connects to a room namespace, joins, produces the configured kinds and
 * consumes every other peer's producers (those listed at join and those announced later), then
 * reports what it sent, what it received and what went wrong. Failures are counted, not thrown:
 * a load run wants to know how many peers failed and why.
 *
 * For speaker and last-N runs it can send a simulcast camera, speak at a loudness that changes at
 * run time (ssrc-audio-level), mute its microphone (pauseProducer, and no packets), ask for a
 * simulcast layer of what it receives, and it follows last-N (consumerPaused / consumerResumed)
 * and the active speaker.
 */
import type { MediaKind } from '../../shared/media';
import { request, type RoomSocket } from '../request';
import { OpusLikeSource } from '../rtp/sources';
import type { EngineContext, EngineName, MediaEngine, ReceivedStream, RemoteProducer, SentStream } from './engine';
import { errorCodeOf, errorMessageOf, type FakePeerErrorCode } from './errors';
import type { Pacer } from './pacer';
import { PlainEngine } from './plain-engine';
import { connectRoom } from './room-connection';
import { WebRtcEngine } from './webrtc-engine';

export interface FakePeerOptions {
  url: string;
  roomId: string;
  displayName: string;
  kinds: readonly MediaKind[];
  engine: EngineName;
  insecure: boolean;
  /** Also consume other peers' producers. Default true. */
  consume?: boolean;
  /** Access token (handshake `auth.token`) for a server with AUTH_SECRET. */
  token?: string;
  /** Send the camera as simulcast (three VP8 encodings; plain engine). Default false. */
  simulcast?: boolean;
  /** Loudness of the microphone in its ssrc-audio-level header extension, dBov (plain engine); undefined: none. */
  audioLevelDbov?: number;
  /** Start with the microphone muted (producer paused, nothing sent). Default false. */
  micMuted?: boolean;
  /** Spatial layer asked for every video consumer (setConsumerPreferredLayers); undefined: the server's default (highest). */
  preferredSpatialLayer?: number;
}

export type PeerPhase = 'idle' | 'connecting' | 'joining' | 'producing' | 'ready' | 'stopped' | 'failed';

export interface PeerError {
  code: FakePeerErrorCode;
  message: string;
}

export class FakePeer {
  readonly options: FakePeerOptions;
  phase: PeerPhase = 'idle';
  peerId: string | undefined;
  startedAtMs: number | undefined;
  /** Socket connect started → join acknowledged, ms. */
  joinMs: number | undefined;
  readonly sent: SentStream[] = [];
  readonly received: ReceivedStream[] = [];
  readonly errors: PeerError[] = [];
  /** The room's active speaker as last announced (join ack, then activeSpeaker). */
  activeSpeakerPeerId: string | undefined;
  /** The active speaker of the join ack, then every activeSpeaker announced, oldest first (the last 1,000). */
  readonly activeSpeakerHistory: string[] = [];
  /** Last-N notifications received. */
  readonly lastN = { pauses: 0, resumes: 0 };
  readonly #pacer: Pacer;
  /** Last-N state by consumer from notifications (they may overtake the consume's own bookkeeping). */
  readonly #serverPaused = new Map<string, boolean>();
  /** Producers of the consume batch in flight. */
  #consuming: RemoteProducer[] = [];
  #socket: RoomSocket | undefined;
  #engine: MediaEngine | undefined;
  /** Producers waiting to be consumed; drained one batch at a time. */
  #pending: RemoteProducer[] = [];
  #draining: Promise<void> | undefined;
  #leaving = false;

  constructor(options: FakePeerOptions, pacer: Pacer) {
    this.options = options;
    this.#pacer = pacer;
  }

  /** Connects, joins, produces and consumes what exists; resolves when set up (or failed). */
  async start(): Promise<void> {
    this.startedAtMs = performance.now();
    try {
      this.phase = 'connecting';
      const socket = await connectRoom({
        url: this.options.url,
        roomId: this.options.roomId,
        displayName: this.options.displayName,
        insecure: this.options.insecure,
        token: this.options.token,
      });
      this.#socket = socket;
      this.#listen(socket);

      this.phase = 'joining';
      const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
      const joined = await request(socket, 'join', { displayName: this.options.displayName });
      this.joinMs = performance.now() - this.startedAtMs;
      this.peerId = joined.peerId;
      this.activeSpeakerPeerId = joined.activeSpeakerPeerId;
      if (joined.activeSpeakerPeerId !== undefined) this.activeSpeakerHistory.push(joined.activeSpeakerPeerId);
      const knownAtMs = performance.now();
      this.#enqueue(
        joined.producers.map((p) => ({ producerId: p.producerId, peerId: p.peerId, kind: p.kind, knownAtMs, paused: p.paused })),
      );

      const context: EngineContext = {
        socket,
        routerRtpCapabilities: rtpCapabilities,
        pacer: this.#pacer,
        reportError: (error) => this.#record(errorCodeOf(error), errorMessageOf(error)),
      };
      this.#engine = this.options.engine === 'webrtc' ? new WebRtcEngine(context) : new PlainEngine(context);
      this.phase = 'producing';
      this.sent.push(
        ...(await this.#engine.produce(this.options.kinds, {
          simulcast: this.options.simulcast,
          audioLevelDbov: this.options.audioLevelDbov,
        })),
      );
      if (this.options.micMuted) await this.setMicrophoneMuted(true);
      this.#drain();
      await this.#draining;
      this.phase = 'ready';
    } catch (error) {
      this.#fail(error);
    }
  }

  stopSending(): void {
    this.#engine?.stopSending();
  }

  /** The peer's room socket once connected (tests and benchmarks send their own requests on it). */
  get socket(): RoomSocket | undefined {
    return this.#socket;
  }

  /** Changes the loudness the microphone reports (ssrc-audio-level), e.g. to become the loudest. */
  setAudioLevel(dBov: number): void {
    for (const { source } of this.sent) if (source instanceof OpusLikeSource) source.audioLevelDbov = dBov;
  }

  /** Mutes (pauses the producer on the server, sends nothing) or unmutes the microphone. */
  async setMicrophoneMuted(muted: boolean): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    for (const stream of this.sent) {
      if (stream.kind !== 'audio') continue;
      stream.source.muted = muted;
      await request(socket, muted ? 'pauseProducer' : 'resumeProducer', { producerId: stream.producerId });
    }
  }

  /** Leaves the room and releases everything. Never throws. */
  async stop(): Promise<void> {
    this.#leaving = true;
    const socket = this.#socket;
    if (socket?.connected) await request(socket, 'leave', {}, { timeoutMs: 3_000 }).catch(() => undefined);
    socket?.disconnect();
    await this.#engine?.close().catch(() => undefined);
    if (this.phase !== 'failed') this.phase = 'stopped';
  }

  #listen(socket: RoomSocket): void {
    socket.on('newProducer', ({ producerId, peerId, kind }) => {
      if (peerId === this.peerId) return;
      this.#enqueue([{ producerId, peerId, kind, knownAtMs: performance.now(), paused: false }]);
      // Before the engine exists the producer waits in the queue; start() drains it.
      if (this.#engine) this.#drain();
    });
    socket.on('producerClosed', ({ producerId }) => {
      this.#pending = this.#pending.filter((p) => p.producerId !== producerId);
      for (const stream of this.received) if (stream.producer.producerId === producerId) stream.closed = true;
    });
    const setPaused = (producerId: string, paused: boolean): void => {
      // The batch being consumed is in neither list: its producers take the news too.
      for (const producer of [...this.#pending, ...this.#consuming, ...this.received.map((s) => s.producer)]) {
        if (producer.producerId === producerId) producer.paused = paused;
      }
    };
    socket.on('producerPaused', ({ producerId }) => setPaused(producerId, true));
    socket.on('producerResumed', ({ producerId }) => setPaused(producerId, false));
    socket.on('consumerClosed', ({ consumerId }) => {
      for (const stream of this.received) if (stream.consumerId === consumerId) stream.closed = true;
    });
    const lastN = (consumerId: string, paused: boolean): void => {
      this.#serverPaused.set(consumerId, paused);
      if (paused) this.lastN.pauses++;
      else this.lastN.resumes++;
      const stream = this.received.find((s) => s.consumerId === consumerId);
      if (stream) this.#setServerPaused(stream, paused);
    };
    socket.on('consumerPaused', ({ consumerId }) => lastN(consumerId, true));
    socket.on('consumerResumed', ({ consumerId }) => lastN(consumerId, false));
    socket.on('consumerLayersChanged', ({ consumerId, spatialLayer, temporalLayer }) => {
      const stream = this.received.find((s) => s.consumerId === consumerId);
      if (stream) stream.layers = { spatialLayer, temporalLayer };
    });
    socket.on('consumerScore', ({ consumerId, score, producerScore }) => {
      const stream = this.received.find((s) => s.consumerId === consumerId);
      if (stream) stream.score = { score, producerScore };
    });
    socket.on('activeSpeaker', ({ peerId }) => {
      this.activeSpeakerPeerId = peerId;
      this.activeSpeakerHistory.push(peerId);
      if (this.activeSpeakerHistory.length > 1_000) this.activeSpeakerHistory.shift();
    });
    socket.on('roomClosed', ({ reason }) => {
      if (!this.#leaving) this.#record('ROOM_CLOSED', `room closed: ${reason}`);
    });
    socket.on('disconnect', (reason) => {
      if (!this.#leaving) this.#record('DISCONNECTED', `socket disconnected: ${reason}`);
    });
  }

  #enqueue(producers: RemoteProducer[]): void {
    if (this.options.consume === false) return;
    this.#pending.push(...producers.filter((p) => p.peerId !== this.peerId));
  }

  /** Consumes queued producers in batches, one batch at a time (engines negotiate serially). */
  #drain(): void {
    if (this.#draining || !this.#engine) return;
    const engine = this.#engine;
    this.#draining = (async () => {
      while (this.#pending.length > 0 && !this.#leaving) {
        const batch = this.#pending.splice(0);
        this.#consuming = batch;
        const results = await engine.consume(batch).finally(() => (this.#consuming = []));
        for (const result of results) {
          if ('error' in result) {
            this.#record(errorCodeOf(result.error), errorMessageOf(result.error));
            continue;
          }
          const notified = this.#serverPaused.get(result.consumerId);
          if (notified !== undefined) this.#setServerPaused(result, notified);
          this.received.push(result);
          await this.#preferLayer(result);
        }
      }
    })()
      .catch((error: unknown) => this.#record(errorCodeOf(error), errorMessageOf(error)))
      .finally(() => {
        this.#draining = undefined;
        // A producer announced between the loop's last check and here would otherwise wait forever.
        if (this.#pending.length > 0 && !this.#leaving) this.#drain();
      });
  }

  #setServerPaused(stream: ReceivedStream, paused: boolean): void {
    if (stream.serverPaused === paused) return;
    stream.serverPaused = paused;
    if (!paused) stream.serverResumedAtMs = performance.now();
  }

  async #preferLayer(stream: ReceivedStream): Promise<void> {
    const spatialLayer = this.options.preferredSpatialLayer;
    if (spatialLayer === undefined || stream.producer.kind !== 'video' || !this.#socket) return;
    await request(this.#socket, 'setConsumerPreferredLayers', { consumerId: stream.consumerId, spatialLayer });
  }

  #fail(error: unknown): void {
    this.phase = 'failed';
    this.#record(errorCodeOf(error), errorMessageOf(error));
  }

  #record(code: FakePeerErrorCode, message: string): void {
    this.errors.push({ code, message });
  }
}
