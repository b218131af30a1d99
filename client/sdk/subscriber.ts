/**
 * Remote publications and what we receive of them. Each remote producer is tracked from its
 * announcement (join snapshot, newProducer, or a resume snapshot) until producerClosed / peerLeft
 * / a snapshot without it; subscribing creates a server consumer (paused), mirrors it locally,
 * then resumes it, as the contract asks. A publication we want (every one with autoSubscribe)
 * is subscribed again when its consumer is lost to a reconnection or a media reset.
 * Races handled here: a producer closing while we subscribe, the server closing a consumer, and
 * the media being replaced while a subscription is under way.
 */
import type { Device, types as ms } from 'mediasoup-client';
import type { ProducerInfo } from '../../shared/contract';
import type { MediaKind, RtpCapabilities } from '../../shared/media';
import { RoomClientError, toRoomClientError } from './errors';
import type { SignallingChannel } from './signalling';
import { summariseInbound } from './stats';
import type { RemotePublication, RemoteTrack, RemoteTrackStats, TrackSource } from './types';

export interface SubscriberEvents {
  published(publication: RemotePublication): void;
  unpublished(publication: RemotePublication): void;
  added(track: RemoteTrack): void;
  removed(track: RemoteTrack): void;
  paused(publication: RemotePublication): void;
  resumed(publication: RemotePublication): void;
  failed(error: RoomClientError): void;
}

interface RemoteProducer {
  publication: RemotePublication;
  /** Receive it: automatically (autoSubscribe) or because the app subscribed. */
  wanted: boolean;
  consumer?: ms.Consumer;
  /** trackAdded was emitted for `consumer` (so its end gets a trackRemoved). */
  announced?: boolean;
  subscribing?: Promise<RemoteTrack>;
}

export class Subscriber {
  readonly #producers = new Map<string, RemoteProducer>();
  /** Bumped when the media under the consumers is lost, so a subscription caught in it is retried. */
  #generation = 0;
  #closed = false;

  constructor(
    private readonly signalling: SignallingChannel,
    private readonly device: Device,
    private readonly getRecvTransport: () => Promise<ms.Transport>,
    private readonly events: SubscriberEvents,
    private readonly autoSubscribe: boolean,
  ) {}

  publications(): RemotePublication[] {
    return [...this.#producers.values()].map((p) => ({ ...p.publication }));
  }

  tracks(): RemoteTrack[] {
    return [...this.#producers.values()].flatMap((p) => (p.consumer && p.announced ? [toRemoteTrack(p, p.consumer)] : []));
  }

  /** A remote producer was announced (join snapshot or newProducer). */
  add(producer: ProducerInfo): void {
    if (this.#closed || this.#producers.has(producer.producerId)) return;
    const { producerId, peerId, kind, paused } = producer;
    const publication: RemotePublication = { peerId, producerId, kind, source: sourceOf(kind, producer.appData), paused };
    this.#producers.set(producerId, { publication: { ...publication }, wanted: this.autoSubscribe });
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

  /** Drops the consumers the server no longer has (after a reconnection); resubscribe() replaces them. */
  retainConsumers(surviving: ReadonlySet<string>): void {
    this.#generation++;
    for (const remote of this.#producers.values()) {
      if (remote.consumer && !surviving.has(remote.consumer.id)) this.#dropConsumer(remote);
    }
  }

  /** Subscribes again to every wanted publication that has no consumer and none on the way. */
  resubscribe(): void {
    for (const [producerId, remote] of this.#producers) {
      if (remote.wanted && !remote.consumer && !remote.subscribing) this.#subscribeInBackground(producerId);
    }
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
    for (const remote of this.#producers.values()) {
      if (remote.consumer?.id === consumerId) this.#dropConsumer(remote);
    }
  }

  /** Receives a remote publication; resolves once media can flow. Idempotent. */
  subscribe(producerId: string): Promise<RemoteTrack> {
    const remote = this.#producers.get(producerId);
    if (!remote) return Promise.reject(new RoomClientError('NOT_FOUND', `no remote track ${producerId}`));
    remote.wanted = true;
    if (remote.subscribing) return remote.subscribing;
    if (remote.consumer && remote.announced) return Promise.resolve(toRemoteTrack(remote, remote.consumer));
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
    consumer.on('transportclose', () => this.#dropConsumer(remote));
    try {
      await this.signalling.request('resumeConsumer', { consumerId: consumer.id });
    } catch (error) {
      this.#dropConsumer(remote);
      throw error;
    }
    if (remote.consumer !== consumer) {
      // Closed (producerClosed / consumerClosed) while the resume was in flight.
      throw new RoomClientError('NOT_FOUND', `remote track ${producerId} closed while subscribing`);
    }
    remote.announced = true;
    const track = toRemoteTrack(remote, consumer);
    this.events.added(track);
    return track;
  }

  #dropConsumer(remote: RemoteProducer): void {
    const consumer = remote.consumer;
    if (!consumer) return;
    const announced = remote.announced;
    remote.consumer = undefined;
    remote.announced = false;
    consumer.close();
    if (announced) this.events.removed(toRemoteTrack(remote, consumer));
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

function toRemoteTrack({ publication }: RemoteProducer, consumer: ms.Consumer): RemoteTrack {
  return { ...publication, consumerId: consumer.id, track: consumer.track };
}
