/**
 * Remote publications and what we receive of them. Each remote producer is tracked from its
 * announcement (join snapshot, newProducer, or a resume snapshot) until producerClosed / peerLeft
 * / a snapshot without it; subscribing creates a server consumer (paused), mirrors it locally,
 * then resumes it, as the contract asks. A publication we want (every one with autoSubscribe)
 * is subscribed again when its consumer is lost to a reconnection or a media reset.
 * Races handled here: a producer closing while we subscribe, the server closing a consumer, and
 * the media being replaced while a subscription is under way.
 *
 * Controls of a received track (what the server is asked to do with its consumer) are kept as
 * wishes and reconciled with what the server was last told, one request at a time per track:
 * paused while every element showing it is hidden (adaptive stream), the simulcast layer its
 * elements' size needs (capped by the app's setPreferredLayers), its priority. A consumer created
 * again (reconnection) gets the same wishes before it is resumed.
 */
import type { Device, types as ms } from 'mediasoup-client';
import type { ConsumerPauseReason, ProducerAppData, ProducerInfo, RequestPayload } from '../../shared/contract';
import type { MediaKind, RtpCapabilities } from '../../shared/media';
import { layerForWidth, spatialLayersOf } from './encodings';
import { RoomClientError, toRoomClientError } from './errors';
import type { SignallingChannel } from './signalling';
import { summariseInbound } from './stats';
import type { ConsumerLayers, RemotePublication, RemoteTrack, RemoteTrackStats, TrackScore, TrackSource } from './types';

export interface SubscriberEvents {
  published(publication: RemotePublication): void;
  unpublished(publication: RemotePublication): void;
  added(track: RemoteTrack): void;
  removed(track: RemoteTrack): void;
  paused(publication: RemotePublication): void;
  resumed(publication: RemotePublication): void;
  serverPaused(track: RemoteTrack): void;
  serverResumed(track: RemoteTrack): void;
  layersChanged(track: RemoteTrack): void;
  scoreChanged(track: RemoteTrack): void;
  failed(error: RoomClientError): void;
}

/** What the elements showing a remote video need (adaptive stream): visible at all, and how wide in device pixels. */
export interface ViewState {
  visible: boolean;
  width: number;
}

/** The highest layers the app wants of a track (setPreferredLayers). */
export interface LayerCap {
  spatialLayer: number;
  temporalLayer?: number;
}

/** What the server was last told about the current consumer. */
interface Requested {
  paused: boolean;
  spatialLayer?: number;
  temporalLayer?: number;
  priority: number;
  /** It was resumed once: a later resume needs a key frame to show at once. */
  resumedBefore: boolean;
}

interface RemoteProducer {
  publication: RemotePublication;
  appData: ProducerAppData;
  /** Receive it: automatically (autoSubscribe) or because the app subscribed. */
  wanted: boolean;
  consumer?: ms.Consumer;
  /** trackAdded was emitted for `consumer` (so its end gets a trackRemoved). */
  announced?: boolean;
  subscribing?: Promise<RemoteTrack>;
  /** The server's reports on the current consumer. */
  serverPauseReason?: ConsumerPauseReason;
  layers?: ConsumerLayers | null;
  score?: TrackScore;
  /** Wishes: from attached elements (undefined: never attached), and the app's. */
  view?: ViewState;
  cap?: LayerCap;
  priority?: number;
  requested?: Requested;
  /** Reconciliation of wishes and requests in progress, and whether it must run again. */
  reconciling?: Promise<void>;
  dirty?: boolean;
}

/** Reports about consumers not (yet) known locally: a push can overtake the consume ack's processing. */
interface EarlyReport {
  serverPauseReason?: ConsumerPauseReason | null;
  layers?: ConsumerLayers | null;
  score?: TrackScore;
}
const EARLY_REPORTS_MAX = 64;
/** mediasoup's default priority of a consumer. */
const DEFAULT_PRIORITY = 1;

export class Subscriber {
  readonly #producers = new Map<string, RemoteProducer>();
  readonly #early = new Map<string, EarlyReport>();
  /** Bumped when the media under the consumers is lost, so a subscription caught in it is retried. */
  #generation = 0;
  #closed = false;

  constructor(
    private readonly signalling: SignallingChannel,
    private readonly device: Device,
    private readonly getRecvTransport: () => Promise<ms.Transport>,
    private readonly events: SubscriberEvents,
    private readonly autoSubscribe: boolean,
    /** Renders a remote track in an element (RoomClient.attach), for RemoteTrack.attach. */
    private readonly attach: (producerId: string, element: HTMLMediaElement) => () => void,
  ) {}

  publications(): RemotePublication[] {
    return [...this.#producers.values()].map((p) => ({ ...p.publication }));
  }

  publication(producerId: string): RemotePublication | undefined {
    const remote = this.#producers.get(producerId);
    return remote && { ...remote.publication };
  }

  tracks(): RemoteTrack[] {
    return [...this.#producers.values()].flatMap((p) => (p.consumer && p.announced ? [this.#toRemoteTrack(p, p.consumer)] : []));
  }

  /** The MediaStreamTrack received for a producer, once subscribed. */
  trackOf(producerId: string): MediaStreamTrack | undefined {
    const remote = this.#producers.get(producerId);
    return remote?.consumer && remote.announced ? remote.consumer.track : undefined;
  }

  /** A remote producer was announced (join snapshot or newProducer). */
  add(producer: ProducerInfo): void {
    if (this.#closed || this.#producers.has(producer.producerId)) return;
    const { producerId, peerId, kind, paused } = producer;
    const publication: RemotePublication = { peerId, producerId, kind, source: sourceOf(kind, producer.appData), paused };
    this.#producers.set(producerId, { publication: { ...publication }, appData: { ...producer.appData }, wanted: this.autoSubscribe });
    this.events.published({ ...publication });
    if (this.autoSubscribe) this.#subscribeInBackground(producerId);
  }

  /**
   * Applies a snapshot of the others' producers (after a reconnection): what is gone is removed,
   * what is new is added, pause states are brought up to date.
   */
  sync(producers: ProducerInfo[]): void {
    const present = new Map(producers.map((p) => [p.producerId, p]));
    for (const producerId of [...this.#producers.keys()]) if (!present.has(producerId)) this.remove(producerId);
    for (const producer of producers) {
      if (this.#producers.has(producer.producerId)) this.setPaused(producer.producerId, producer.paused);
      else this.add(producer);
    }
  }

  /** Removes every publication (the server's media was reset: all producers are gone). */
  clear(): void {
    this.#generation++;
    for (const producerId of [...this.#producers.keys()]) this.remove(producerId);
  }

  /** Ids of the consumers we hold now. */
  consumerIds(): Set<string> {
    return new Set([...this.#producers.values()].flatMap((p) => (p.consumer ? [p.consumer.id] : [])));
  }

  /**
   * After a reconnection: drops the consumers the server no longer has (resubscribe() replaces
   * them) and takes last-N's state of those it kept (its pushes were missed while away).
   */
  retainConsumers(surviving: ReadonlySet<string>, serverPaused: ReadonlySet<string>): void {
    this.#generation++;
    for (const remote of this.#producers.values()) {
      if (remote.consumer && !surviving.has(remote.consumer.id)) this.#dropConsumer(remote);
      else if (remote.consumer) this.#setServerPause(remote, serverPaused.has(remote.consumer.id) ? 'LAST_N' : undefined);
    }
  }

  /** Subscribes again to every wanted publication that has no consumer and none on the way. */
  resubscribe(): void {
    for (const [producerId, remote] of this.#producers) {
      if (remote.wanted && !remote.consumer && !remote.subscribing) this.#subscribeInBackground(producerId);
    }
  }

  /** After a reconnection: sends again what the server was not confirmed to have done for each kept consumer. */
  reconcileAll(): void {
    // What the server confirmed is recorded only on success, so this repeats exactly what failed.
    for (const remote of this.#producers.values()) if (remote.consumer && remote.requested) this.#reconcileInBackground(remote);
  }

  /** The remote producer is gone (producerClosed). */
  remove(producerId: string): void {
    const remote = this.#producers.get(producerId);
    if (!remote) return;
    this.#producers.delete(producerId);
    this.#dropConsumer(remote);
    this.events.unpublished({ ...remote.publication });
  }

  removePeer(peerId: string): void {
    for (const remote of [...this.#producers.values()]) {
      if (remote.publication.peerId === peerId) this.remove(remote.publication.producerId);
    }
  }

  setPaused(producerId: string, paused: boolean): void {
    const remote = this.#producers.get(producerId);
    if (!remote || remote.publication.paused === paused) return;
    remote.publication.paused = paused;
    if (paused) this.events.paused({ ...remote.publication });
    else this.events.resumed({ ...remote.publication });
  }

  /** The server closed one of our consumers (consumerClosed). */
  consumerClosed(consumerId: string): void {
    this.#early.delete(consumerId);
    for (const remote of this.#producers.values()) {
      if (remote.consumer?.id === consumerId) this.#dropConsumer(remote);
    }
  }

  /** consumerPaused / consumerResumed: the server (last-N) holds a consumer paused, or let it go. */
  serverPause(consumerId: string, reason: ConsumerPauseReason | undefined): void {
    const remote = this.#byConsumer(consumerId);
    if (remote) this.#setServerPause(remote, reason);
    else this.#remember(consumerId, { serverPauseReason: reason ?? null });
  }

  /** consumerLayersChanged. */
  layersChanged(consumerId: string, layers: ConsumerLayers | null): void {
    const remote = this.#byConsumer(consumerId);
    if (!remote) return this.#remember(consumerId, { layers });
    remote.layers = layers;
    if (remote.announced && remote.consumer) this.events.layersChanged(this.#toRemoteTrack(remote, remote.consumer));
  }

  /** consumerScore. */
  scoreChanged(consumerId: string, score: TrackScore): void {
    const remote = this.#byConsumer(consumerId);
    if (!remote) return this.#remember(consumerId, { score });
    remote.score = score;
    if (remote.announced && remote.consumer) this.events.scoreChanged(this.#toRemoteTrack(remote, remote.consumer));
  }

  /** What the elements showing a remote video need now (adaptive stream); undefined: none was ever attached. */
  setView(producerId: string, view: ViewState | undefined): void {
    const remote = this.#producers.get(producerId);
    if (!remote) return;
    remote.view = view && { ...view };
    this.#reconcileInBackground(remote);
  }

  /** The highest layers to receive of a (simulcast or SVC) video; null lifts the cap. */
  setLayerCap(producerId: string, cap: LayerCap | null): Promise<void> {
    const remote = this.#require(producerId);
    remote.cap = cap ?? undefined;
    return this.#reconcile(remote);
  }

  setPriority(producerId: string, priority: number): Promise<void> {
    const remote = this.#require(producerId);
    remote.priority = priority;
    return this.#reconcile(remote);
  }

  async requestKeyFrame(producerId: string): Promise<void> {
    const consumer = this.#require(producerId).consumer;
    if (!consumer) throw new RoomClientError('INVALID_STATE', `remote track ${producerId} is not received`);
    await this.signalling.request('requestKeyFrame', { consumerId: consumer.id });
  }

  /** Receives a remote publication; resolves once media can flow. Idempotent. */
  subscribe(producerId: string): Promise<RemoteTrack> {
    const remote = this.#producers.get(producerId);
    if (!remote) return Promise.reject(new RoomClientError('NOT_FOUND', `no remote track ${producerId}`));
    remote.wanted = true;
    if (remote.subscribing) return remote.subscribing;
    if (remote.consumer && remote.announced) return Promise.resolve(this.#toRemoteTrack(remote, remote.consumer));
    const generation = this.#generation;
    remote.subscribing = this.#consume(remote)
      .catch((error: unknown) => {
        // The media was replaced under this subscription: once more on the new media.
        if (generation === this.#generation || this.#closed || this.#producers.get(producerId) !== remote) throw error;
        return this.#consume(remote);
      })
      .finally(() => {
        remote.subscribing = undefined;
      });
    return remote.subscribing;
  }

  async unsubscribe(producerId: string): Promise<void> {
    const remote = this.#producers.get(producerId);
    if (remote) remote.wanted = false;
    if (remote?.subscribing) await remote.subscribing.catch(() => undefined);
    const consumer = remote?.consumer;
    if (!remote || !consumer) return;
    this.#dropConsumer(remote);
    // While disconnected there is nobody to tell: the reconnection closes what we no longer hold.
    if (this.signalling.connected) await this.signalling.request('closeConsumer', { consumerId: consumer.id });
  }

  async getStats(): Promise<RemoteTrackStats[]> {
    const receiving = [...this.#producers.values()].filter((p) => p.consumer && !p.consumer.closed);
    return Promise.all(
      receiving.map(async ({ publication, consumer }) => ({
        peerId: publication.peerId,
        producerId: publication.producerId,
        consumerId: (consumer as ms.Consumer).id,
        kind: publication.kind,
        source: publication.source,
        ...summariseInbound(await (consumer as ms.Consumer).getStats()),
      })),
    );
  }

  /** Local teardown only: the room is going away. */
  close(): void {
    this.#closed = true;
    for (const remote of this.#producers.values()) this.#dropConsumer(remote);
    this.#producers.clear();
    this.#early.clear();
  }

  #subscribeInBackground(producerId: string): void {
    this.subscribe(producerId).catch((error: unknown) => {
      // A producer that closed meanwhile is not a failure worth reporting, nor is a dropped
      // connection: the reconnection subscribes again.
      const lost = error instanceof RoomClientError && error.code === 'DISCONNECTED';
      if (this.#producers.has(producerId) && !lost && !this.#closed) this.events.failed(toRoomClientError(error));
    });
  }

  async #consume(remote: RemoteProducer): Promise<RemoteTrack> {
    const { producerId, peerId } = remote.publication;
    const transport = await this.getRecvTransport();
    const created = await this.signalling.request('consume', {
      transportId: transport.id,
      producerId,
      // mediasoup-client's type and the contract's zod-inferred type describe the same object.
      rtpCapabilities: this.device.recvRtpCapabilities as RtpCapabilities,
    });
    const consumer = await transport.consume({
      id: created.consumerId,
      producerId,
      kind: created.kind,
      rtpParameters: created.rtpParameters as ms.RtpParameters,
      // One MediaStream per peer keeps lip sync between its audio and video.
      streamId: peerId,
      appData: { peerId },
    });
    if (this.#closed || this.#producers.get(producerId) !== remote) {
      consumer.close();
      this.signalling.request('closeConsumer', { consumerId: consumer.id }).catch(() => undefined);
      throw new RoomClientError('NOT_FOUND', `remote track ${producerId} closed while subscribing`);
    }
    remote.consumer = consumer;
    remote.announced = false;
    // A new server consumer: paused, at its producer's highest layers, default priority.
    const layers = spatialLayersOf(consumer.rtpParameters);
    remote.requested = { paused: true, spatialLayer: layers - 1, priority: DEFAULT_PRIORITY, resumedBefore: false };
    remote.serverPauseReason = created.serverPaused ? 'LAST_N' : undefined;
    remote.layers = undefined;
    remote.score = undefined;
    const early = this.#early.get(consumer.id);
    this.#early.delete(consumer.id);
    if (early?.serverPauseReason !== undefined) remote.serverPauseReason = early.serverPauseReason ?? undefined;
    if (early?.layers !== undefined) remote.layers = early.layers;
    if (early?.score) remote.score = early.score;
    consumer.on('transportclose', () => this.#dropConsumer(remote));
    try {
      // Layers and priority before the resume, so the first frames are already the right ones.
      await this.#reconcile(remote);
    } catch (error) {
      this.#dropConsumer(remote);
      throw error;
    }
    if (remote.consumer !== consumer) {
      // Closed (producerClosed / consumerClosed) while the resume was in flight.
      throw new RoomClientError('NOT_FOUND', `remote track ${producerId} closed while subscribing`);
    }
    remote.announced = true;
    const track = this.#toRemoteTrack(remote, consumer);
    this.events.added(track);
    return track;
  }

  /** Runs reconcileOnce until no wish changed meanwhile; one run at a time per track. */
  #reconcile(remote: RemoteProducer): Promise<void> {
    remote.dirty = true;
    if (remote.reconciling) return remote.reconciling;
    const run = (async () => {
      try {
        while (remote.dirty) {
          remote.dirty = false;
          await this.#reconcileOnce(remote);
        }
      } finally {
        remote.reconciling = undefined;
      }
    })();
    remote.reconciling = run;
    return run;
  }

  #reconcileInBackground(remote: RemoteProducer): void {
    this.#reconcile(remote).catch((error: unknown) => {
      const code = toRoomClientError(error).code;
      // A dropped connection: reconcileAll() runs after the reconnection. A consumer gone meanwhile: nothing to control.
      if (this.#closed || code === 'DISCONNECTED' || code === 'NOT_FOUND' || !remote.consumer) return;
      this.events.failed(toRoomClientError(error));
    });
  }

  /** Sends what differs between the wishes and what the server was told for the current consumer. */
  async #reconcileOnce(remote: RemoteProducer): Promise<void> {
    const consumer = remote.consumer;
    const requested = remote.requested;
    if (!consumer || !requested || consumer.closed) return;
    const consumerId = consumer.id;
    const video = remote.publication.kind === 'video';
    const stillCurrent = (): boolean => remote.consumer === consumer && !consumer.closed;
    /** One request; false when the consumer was replaced or dropped meanwhile (its failure no longer matters). */
    const send = async <
      E extends 'pauseConsumer' | 'resumeConsumer' | 'setConsumerPreferredLayers' | 'setConsumerPriority' | 'requestKeyFrame',
    >(
      event: E,
      payload: RequestPayload<E>,
    ): Promise<boolean> => {
      try {
        await this.signalling.request(event, payload);
      } catch (error) {
        if (!stillCurrent()) return false;
        throw error;
      }
      return stillCurrent();
    };

    if (video && remote.view !== undefined && !remote.view.visible) {
      // Every element showing it is hidden or gone: the server stops sending it.
      if (!requested.paused && (await send('pauseConsumer', { consumerId }))) requested.paused = true;
      return;
    }
    const layers = video ? this.#wantedLayers(remote, consumer) : undefined;
    if (layers && (layers.spatialLayer !== requested.spatialLayer || layers.temporalLayer !== requested.temporalLayer)) {
      if (!(await send('setConsumerPreferredLayers', { consumerId, ...layers }))) return;
      Object.assign(requested, { spatialLayer: layers.spatialLayer, temporalLayer: layers.temporalLayer });
    }
    const priority = remote.priority ?? DEFAULT_PRIORITY;
    if (priority !== requested.priority) {
      if (!(await send('setConsumerPriority', { consumerId, priority }))) return;
      requested.priority = priority;
    }
    if (requested.paused) {
      if (!(await send('resumeConsumer', { consumerId }))) return;
      requested.paused = false;
      // Shown again after adaptive stream paused it: a key frame, so the picture does not wait for the next one.
      if (requested.resumedBefore && video) await send('requestKeyFrame', { consumerId });
      requested.resumedBefore = true;
    }
  }

  /** The layers to prefer: what the elements' width needs, capped by the app; undefined for a single-layer video. */
  #wantedLayers(remote: RemoteProducer, consumer: ms.Consumer): { spatialLayer: number; temporalLayer?: number } | undefined {
    const count = spatialLayersOf(consumer.rtpParameters);
    if (count < 2 && !remote.cap) return undefined;
    let spatialLayer = count - 1;
    if (remote.view?.visible) spatialLayer = layerForWidth(remote.view.width, count, remote.appData);
    let temporalLayer: number | undefined;
    if (remote.cap && remote.cap.spatialLayer <= spatialLayer) {
      spatialLayer = remote.cap.spatialLayer;
      temporalLayer = remote.cap.temporalLayer;
    }
    return { spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) };
  }

  #setServerPause(remote: RemoteProducer, reason: ConsumerPauseReason | undefined): void {
    if (remote.serverPauseReason === reason) return;
    remote.serverPauseReason = reason;
    if (!remote.announced || !remote.consumer) return;
    const track = this.#toRemoteTrack(remote, remote.consumer);
    if (reason) this.events.serverPaused(track);
    else this.events.serverResumed(track);
  }

  #byConsumer(consumerId: string): RemoteProducer | undefined {
    for (const remote of this.#producers.values()) if (remote.consumer?.id === consumerId) return remote;
    return undefined;
  }

  #remember(consumerId: string, report: EarlyReport): void {
    if (!this.#early.has(consumerId) && this.#early.size >= EARLY_REPORTS_MAX) {
      // Reports of consumers that never became ours (closed before the ack was handled): oldest first out.
      const oldest = this.#early.keys().next().value;
      if (oldest !== undefined) this.#early.delete(oldest);
    }
    this.#early.set(consumerId, { ...this.#early.get(consumerId), ...report });
  }

  #require(producerId: string): RemoteProducer {
    const remote = this.#producers.get(producerId);
    if (!remote) throw new RoomClientError('NOT_FOUND', `no remote track ${producerId}`);
    return remote;
  }

  #dropConsumer(remote: RemoteProducer): void {
    const consumer = remote.consumer;
    if (!consumer) return;
    const announced = remote.announced;
    remote.consumer = undefined;
    remote.announced = false;
    remote.requested = undefined;
    consumer.close();
    if (announced) this.events.removed(this.#toRemoteTrack(remote, consumer));
  }

  #toRemoteTrack(remote: RemoteProducer, consumer: ms.Consumer): RemoteTrack {
    const { producerId } = remote.publication;
    return {
      ...remote.publication,
      consumerId: consumer.id,
      track: consumer.track,
      serverPaused: remote.serverPauseReason !== undefined,
      ...(remote.serverPauseReason ? { serverPauseReason: remote.serverPauseReason } : {}),
      ...(remote.layers !== undefined ? { layers: remote.layers && { ...remote.layers } } : {}),
      ...(remote.score ? { score: { ...remote.score } } : {}),
      attach: (element) => this.attach(producerId, element),
    };
  }
}

const TRACK_SOURCES: readonly TrackSource[] = ['camera', 'microphone', 'screen'];

function isTrackSource(value: unknown): value is TrackSource {
  return typeof value === 'string' && (TRACK_SOURCES as readonly string[]).includes(value);
}

/** The publisher's `appData.source` if it is one we know; appData is client-supplied, so check it. */
export function sourceOf(kind: MediaKind, appData: ProducerInfo['appData'] | undefined): TrackSource {
  const source = appData?.source;
  if (isTrackSource(source)) return source;
  // Missing or unknown (an older client, a plain-RTP sender): assume the usual track of its kind.
  return kind === 'video' ? 'camera' : 'microphone';
}
