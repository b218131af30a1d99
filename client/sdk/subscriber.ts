/**
 * Remote publications and what we receive of them. Each remote producer is tracked from its
 * announcement (a snapshot: join, resume or rejoin ack; or newProducer) until producerClosed /
 * peerLeft / a snapshot without it; subscribing creates a server consumer (paused), mirrors it
 * locally, then resumes it, as the contract asks. A publication we want (every one with
 * autoSubscribe) is subscribed again when its consumer is lost to a reconnection or a media reset.
 * Races handled here: a producer closing while we subscribe, the server closing a consumer, and
 * the media being replaced while a subscription is under way. What is asked of each consumer
 * (pause, layers, priority) is consumer-controls.ts's.
 */
import type { types as ms } from 'mediasoup-client';
import type { ConsumerPauseReason, ProducerInfo } from '../../shared/contract';
import type { RtpCapabilities } from '../../shared/media';
import { ConsumerControls, initialRequested, type LayerCap, type ViewState } from './consumer-controls';
import { RoomClientError, toRoomClientError } from './errors';
import { adoptConsumer, EarlyReports, sourceOf, type RemoteProducer } from './remote-producer';
import type { Requests } from './signalling';
import { summariseInbound } from './stats';
import type { ConsumerLayers, RemotePublication, RemoteTrack, RemoteTrackStats, TrackScore } from './types';

export { sourceOf } from './remote-producer';
export type { LayerCap, ViewState } from './consumer-controls';

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

export interface SubscriberOptions {
  signalling: Requests;
  /** What the Device can receive (asked at each consume: the Device is loaded while joining). */
  recvRtpCapabilities(): RtpCapabilities;
  recvTransport(): Promise<ms.Transport>;
  events: SubscriberEvents;
  /** Receive every publication as soon as it is announced. */
  autoSubscribe: boolean;
  /** Renders a remote track in an element (RoomClient.attach), for RemoteTrack.attach. */
  attach(producerId: string, element: HTMLMediaElement): () => void;
}

export class Subscriber {
  readonly #producers = new Map<string, RemoteProducer>();
  readonly #early = new EarlyReports();
  readonly #options: SubscriberOptions;
  readonly #events: SubscriberEvents;
  readonly #controls: ConsumerControls;
  /** Bumped when the media under the consumers is lost, so a subscription caught in it is retried. */
  #generation = 0;
  #closed = false;

  constructor(options: SubscriberOptions) {
    this.#options = options;
    this.#events = options.events;
    this.#controls = new ConsumerControls(
      options.signalling,
      (error) => this.#events.failed(error),
      () => this.#closed,
    );
  }

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

  /** A remote producer was announced (newProducer, or new in a snapshot). */
  add(producer: ProducerInfo): void {
    if (this.#closed || this.#producers.has(producer.producerId)) return;
    const { producerId, peerId, kind, paused } = producer;
    const publication: RemotePublication = { peerId, producerId, kind, source: sourceOf(kind, producer.appData), paused };
    this.#producers.set(producerId, {
      publication: { ...publication },
      appData: { ...producer.appData },
      wanted: this.#options.autoSubscribe,
    });
    this.#events.published({ ...publication });
    if (this.#options.autoSubscribe) this.#subscribeInBackground(producerId);
  }

  /**
   * Applies a snapshot of the others' producers (join, resume or rejoin ack): what is gone is
   * removed, what is new is added, pause states are brought up to date.
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
    for (const remote of this.#producers.values()) if (remote.consumer && remote.requested) this.#controls.reconcileInBackground(remote);
  }

  /** The remote producer is gone (producerClosed). */
  remove(producerId: string): void {
    const remote = this.#producers.get(producerId);
    if (!remote) return;
    this.#producers.delete(producerId);
    this.#dropConsumer(remote);
    this.#events.unpublished({ ...remote.publication });
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
    if (paused) this.#events.paused({ ...remote.publication });
    else this.#events.resumed({ ...remote.publication });
  }

  /** The server closed one of our consumers (consumerClosed). */
  consumerClosed(consumerId: string): void {
    this.#early.forget(consumerId);
    for (const remote of this.#producers.values()) {
      if (remote.consumer?.id === consumerId) this.#dropConsumer(remote);
    }
  }

  /** consumerPaused / consumerResumed: the server (last-N) holds a consumer paused, or let it go. */
  serverPause(consumerId: string, reason: ConsumerPauseReason | undefined): void {
    const remote = this.#byConsumer(consumerId);
    if (remote) this.#setServerPause(remote, reason);
    else this.#early.remember(consumerId, { serverPauseReason: reason ?? null });
  }

  /** consumerLayersChanged. */
  layersChanged(consumerId: string, layers: ConsumerLayers | null): void {
    const remote = this.#byConsumer(consumerId);
    if (!remote) return this.#early.remember(consumerId, { layers });
    remote.layers = layers;
    if (remote.announced && remote.consumer) this.#events.layersChanged(this.#toRemoteTrack(remote, remote.consumer));
  }

  /** consumerScore. */
  scoreChanged(consumerId: string, score: TrackScore): void {
    const remote = this.#byConsumer(consumerId);
    if (!remote) return this.#early.remember(consumerId, { score });
    remote.score = score;
    if (remote.announced && remote.consumer) this.#events.scoreChanged(this.#toRemoteTrack(remote, remote.consumer));
  }

  /** What the elements showing a remote video need now (adaptive stream); undefined: none was ever attached. */
  setView(producerId: string, view: ViewState | undefined): void {
    const remote = this.#producers.get(producerId);
    if (!remote) return;
    remote.view = view && { ...view };
    this.#controls.reconcileInBackground(remote);
  }

  /** The highest layers to receive of a (simulcast or SVC) video; null lifts the cap. */
  setLayerCap(producerId: string, cap: LayerCap | null): Promise<void> {
    const remote = this.#require(producerId);
    remote.cap = cap ?? undefined;
    return this.#controls.reconcile(remote);
  }

  setPriority(producerId: string, priority: number): Promise<void> {
    const remote = this.#require(producerId);
    remote.priority = priority;
    return this.#controls.reconcile(remote);
  }

  async requestKeyFrame(producerId: string): Promise<void> {
    const consumer = this.#require(producerId).consumer;
    if (!consumer) throw new RoomClientError('INVALID_STATE', `remote track ${producerId} is not received`);
    await this.#options.signalling.request('requestKeyFrame', { consumerId: consumer.id });
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
    if (this.#options.signalling.connected) await this.#options.signalling.request('closeConsumer', { consumerId: consumer.id });
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
      if (this.#producers.has(producerId) && !lost && !this.#closed) this.#events.failed(toRoomClientError(error));
    });
  }

  async #consume(remote: RemoteProducer): Promise<RemoteTrack> {
    const { producerId, peerId } = remote.publication;
    const transport = await this.#options.recvTransport();
    const created = await this.#options.signalling.request('consume', {
      transportId: transport.id,
      producerId,
      rtpCapabilities: this.#options.recvRtpCapabilities(),
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
      this.#options.signalling.request('closeConsumer', { consumerId: consumer.id }).catch(() => undefined);
      throw new RoomClientError('NOT_FOUND', `remote track ${producerId} closed while subscribing`);
    }
    adoptConsumer(remote, consumer, created.serverPaused, this.#early.take(consumer.id));
    remote.requested = initialRequested(consumer);
    consumer.on('transportclose', () => this.#dropConsumer(remote));
    try {
      // Layers and priority before the resume, so the first frames are already the right ones.
      await this.#controls.reconcile(remote);
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
    this.#events.added(track);
    return track;
  }

  #setServerPause(remote: RemoteProducer, reason: ConsumerPauseReason | undefined): void {
    if (remote.serverPauseReason === reason) return;
    remote.serverPauseReason = reason;
    if (!remote.announced || !remote.consumer) return;
    const track = this.#toRemoteTrack(remote, remote.consumer);
    if (reason) this.#events.serverPaused(track);
    else this.#events.serverResumed(track);
  }

  #byConsumer(consumerId: string): RemoteProducer | undefined {
    for (const remote of this.#producers.values()) if (remote.consumer?.id === consumerId) return remote;
    return undefined;
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
    if (announced) this.#events.removed(this.#toRemoteTrack(remote, consumer));
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
      attach: (element) => this.#options.attach(producerId, element),
    };
  }
}
