/**
 * The room as this client sees it (livekit's Room, without the connection): who we are (peer id,
 * grants), the others, what they publish (a Subscriber) and their data channels, the active
 * speaker. It changes in two ways only:
 *
 * - `applySnapshot`: a full snapshot of the room, whatever brought it (the join, resume or rejoin
 *   ack). It reports the difference from what the view knew with the usual events, so a peer or a
 *   publication that came or went while we were away looks the same as one that came or went
 *   live. A new field of the snapshot is applied here, and is then right for all three.
 * - the notifications in between (`listen`), which the engine holds until the snapshot is applied.
 */
import type { DataProducerInfo, Grants, Joined, NotificationMap, NotificationName, ProducerInfo } from '../../shared/contract';
import type { DataChannels } from './data';
import type { Subscriber } from './subscriber';
import type { RemotePeer, RoomClientEvents } from './types';

/** What the view drives of the others' publications and of what we receive of them. */
export type RemotePublications = Pick<
  Subscriber,
  'add' | 'sync' | 'remove' | 'removePeer' | 'setPaused' | 'consumerClosed' | 'serverPause' | 'layersChanged' | 'scoreChanged'
>;
/** What it drives of the others' data channels. */
export type RemoteDataChannels = Pick<DataChannels, 'add' | 'sync' | 'remove' | 'removePeer' | 'consumerClosed'>;

/** Reports a change with the client's (safe) emitter. */
export type Emit = <E extends keyof RoomClientEvents>(event: E, payload: RoomClientEvents[E]) => void;

/** Registers a notification handler (the engine's, which holds notifications until the snapshot is applied). */
export type OnNotification = <N extends NotificationName>(name: N, handle: (payload: NotificationMap[N]) => void) => void;

export interface RoomViewParts {
  publications: RemotePublications;
  /** Absent with `data: false`. */
  data: RemoteDataChannels | undefined;
  /** The server paused one of our own producers (an operator muted us). */
  ownProducerPaused(producerId: string): void;
  emit: Emit;
}

export class RoomView {
  readonly #parts: RoomViewParts;
  readonly #emit: Emit;
  #peerId: string | undefined;
  #grants: Grants | undefined;
  readonly #peers = new Map<string, RemotePeer>();
  /** The room's dominant speaker as last reported; null: none (yet). */
  #activeSpeaker: string | null = null;

  constructor(parts: RoomViewParts) {
    this.#parts = parts;
    this.#emit = parts.emit;
  }

  /** Ours, from the latest snapshot (a rejoin makes us a new peer). */
  get peerId(): string | undefined {
    return this.#peerId;
  }
  get grants(): Grants | undefined {
    return this.#grants && { ...this.#grants };
  }
  get peers(): RemotePeer[] {
    return [...this.#peers.values()];
  }
  get activeSpeakerPeerId(): string | null {
    return this.#activeSpeaker;
  }

  /**
   * Brings the view to a full snapshot of the room: adopts who we are in it, then reports what
   * differs from what the view knew: peers that left and came (their publications and data
   * channels with them), publications that ended, came or were paused or resumed, data channels,
   * the active speaker. The first snapshot is also reported as `joined`, before its peers.
   */
  applySnapshot(snapshot: Joined): void {
    const first = this.#peerId === undefined;
    const self = snapshot.peerId;
    this.#peerId = self;
    this.#grants = { ...snapshot.grants };
    const others = snapshot.peers.filter((peer) => peer.peerId !== self);
    if (first) this.#emit('joined', { peerId: self, roomId: snapshot.roomId, peers: others });

    const present = new Set(others.map((peer) => peer.peerId));
    for (const peerId of [...this.#peers.keys()]) if (!present.has(peerId)) this.#removePeer(peerId);
    for (const peer of others) this.#addPeer(peer);
    this.#parts.publications.sync(snapshot.producers.filter((producer) => producer.peerId !== self));
    this.#parts.data?.sync(snapshot.dataProducers.filter((dataProducer) => dataProducer.peerId !== self));
    // The speaker may have changed while we were away (its push was missed), or left with its peer.
    this.#setActiveSpeaker(snapshot.activeSpeakerPeerId ?? null);
  }

  /** The room was lost with its server: everyone in it is gone (we join again, as a new peer). */
  roomLost(): void {
    for (const peerId of [...this.#peers.keys()]) this.#removePeer(peerId);
  }

  /** Local teardown only: the client is closing. */
  close(): void {
    this.#peers.clear();
  }

  /** Routes the room's notifications to the view and to what it drives. */
  listen(on: OnNotification): void {
    const { publications } = this.#parts;
    on('peerJoined', (peer) => this.#addPeer(peer));
    on('peerLeft', ({ peerId }) => this.#removePeer(peerId));
    on('newProducer', ({ producerId, peerId, kind, appData }) => this.#addProducer({ producerId, peerId, kind, paused: false, appData }));
    on('producerClosed', ({ producerId }) => publications.remove(producerId));
    on('producerPaused', ({ producerId, peerId }) => {
      // Our own producer: the server paused it (an operator muted us).
      if (peerId === this.#peerId) this.#parts.ownProducerPaused(producerId);
      else publications.setPaused(producerId, true);
    });
    on('producerResumed', ({ producerId }) => publications.setPaused(producerId, false));
    on('consumerClosed', ({ consumerId }) => publications.consumerClosed(consumerId));
    on('consumerPaused', ({ consumerId, reason }) => publications.serverPause(consumerId, reason));
    on('consumerResumed', ({ consumerId }) => publications.serverPause(consumerId, undefined));
    on('consumerLayersChanged', ({ consumerId, spatialLayer, temporalLayer }) =>
      publications.layersChanged(consumerId, spatialLayer === null || temporalLayer === null ? null : { spatialLayer, temporalLayer }),
    );
    on('consumerScore', ({ consumerId, score, producerScore }) => publications.scoreChanged(consumerId, { score, producerScore }));
    on('newDataProducer', (info) => this.#addDataProducer(info));
    on('dataProducerClosed', ({ dataProducerId }) => this.#parts.data?.remove(dataProducerId));
    on('dataConsumerClosed', ({ dataConsumerId }) => this.#parts.data?.consumerClosed(dataConsumerId));
    on('activeSpeaker', ({ peerId }) => this.#setActiveSpeaker(peerId));
    on('audioLevels', ({ levels }) => this.#emit('audioLevels', { levels: levels.map((level) => ({ ...level })) }));
  }

  #addPeer(peer: RemotePeer): void {
    if (peer.peerId === this.#peerId || this.#peers.has(peer.peerId)) return;
    const copy = { peerId: peer.peerId, displayName: peer.displayName };
    this.#peers.set(peer.peerId, copy);
    this.#emit('peerJoined', copy);
  }

  #removePeer(peerId: string): void {
    this.#parts.publications.removePeer(peerId);
    this.#parts.data?.removePeer(peerId);
    if (this.#activeSpeaker === peerId) this.#setActiveSpeaker(null);
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    this.#emit('peerLeft', peer);
  }

  #addProducer(producer: ProducerInfo): void {
    if (producer.peerId !== this.#peerId) this.#parts.publications.add(producer);
  }

  #addDataProducer(info: DataProducerInfo): void {
    if (info.peerId !== this.#peerId) this.#parts.data?.add(info);
  }

  #setActiveSpeaker(peerId: string | null): void {
    if (this.#activeSpeaker === peerId) return;
    this.#activeSpeaker = peerId;
    this.#emit('activeSpeaker', { peerId });
  }
}
