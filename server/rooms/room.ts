/**
 * A room: its router (by id), its peers, and the coordination between them — admission under
 * the peer cap, announcements, and closing when empty. Everything a single peer owns is in Peer.
 */
import { v4 as uuidv4 } from 'uuid';
import type { CloseReason, NotificationMap, NotificationName, PeerInfo, ProducerInfo, RtpCapabilities } from '../../shared/contract';
import type { PeerId } from '../../shared/ids';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { Peer, type RoomLink } from './peer';
import type { MediaPort, PeerChannel } from './ports';

/** Why a room closed: a reason clients are told, or EMPTY (nobody left to tell). */
export type RoomCloseReason = CloseReason | 'EMPTY';

export interface RoomOptions {
  roomId: string;
  media: MediaPort;
  maxPeers: number;
  /** How long the room stays open with nobody in it; 0 closes at once. */
  emptyTimeoutMs: number;
  logger: Logger;
}

export interface JoinResult {
  peer: Peer;
  peers: PeerInfo[];
  producers: ProducerInfo[];
}

export class Room {
  readonly id: string;
  readonly routerId: string;
  readonly maxPeers: number;
  readonly #peers = new Map<PeerId, Peer>();
  readonly #media: MediaPort;
  readonly #emptyTimeoutMs: number;
  readonly #log: Logger;
  readonly #closeListeners: Array<(reason: RoomCloseReason) => void> = [];
  readonly #link: RoomLink;
  #emptyTimer: NodeJS.Timeout | undefined;
  #closed = false;

  /** Creates the room's router, then the room; the room starts its empty timer at once. */
  static async create(opts: RoomOptions): Promise<Room> {
    let room: Room | undefined;
    let routerLost = false; // the router may die before the room exists
    const routerId = await opts.media.createRouter(opts.roomId, () => {
      routerLost = true;
      room?.close('MEDIA_FAILURE');
    });
    room = new Room(opts, routerId);
    if (routerLost) room.close('MEDIA_FAILURE');
    return room;
  }

  private constructor(opts: RoomOptions, routerId: string) {
    this.id = opts.roomId;
    this.routerId = routerId;
    this.maxPeers = opts.maxPeers;
    this.#media = opts.media;
    this.#emptyTimeoutMs = opts.emptyTimeoutMs;
    this.#log = opts.logger.child({ component: 'room', roomId: opts.roomId });
    this.#link = this.#createLink();
    this.#log.info('room created', { routerId, maxPeers: opts.maxPeers });
    this.#scheduleCloseIfEmpty();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  get peers(): ReadonlyMap<PeerId, Peer> {
    return this.#peers;
  }

  /** The router's RTP capabilities (what a client's Device loads). */
  rtpCapabilities(): RtpCapabilities {
    return this.#media.routerRtpCapabilities(this.routerId);
  }

  onClose(listener: (reason: RoomCloseReason) => void): void {
    this.#closeListeners.push(listener);
  }

  /**
   * Admits a peer if the room is open and not full. Synchronous on purpose: the check and the
   * insert cannot be interleaved with another join, so the cap is exact under concurrency.
   */
  join(displayName: string | undefined, channel: PeerChannel): JoinResult {
    if (this.#closed) throw new AppError('ROOM_CLOSED', `room ${this.id} is closed`);
    if (this.#peers.size >= this.maxPeers) {
      this.#log.info('join() | refused: room full', { maxPeers: this.maxPeers });
      throw new AppError('ROOM_FULL', `room ${this.id} is full (${this.maxPeers} peers)`);
    }
    const peerId = uuidv4() as PeerId;
    const peer = new Peer({
      id: peerId,
      displayName: displayName ?? `guest-${peerId.slice(0, 4)}`,
      channel,
      media: this.#media,
      room: this.#link,
      logger: this.#log,
    });
    const peers = [...this.#peers.values()].map((p) => p.info());
    const producers = [...this.#peers.values()].flatMap((p) => p.producerInfos());
    this.#peers.set(peerId, peer);
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = undefined;
    this.#log.info('join() | peer joined', { peerId, displayName: peer.displayName, peers: this.#peers.size });
    this.#broadcast('peerJoined', peer.info(), peer);
    return { peer, peers, producers };
  }

  /** Removes a peer, closing all it owned and telling the others. Idempotent. */
  leave(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    for (const producerId of peer.close()) this.#broadcast('producerClosed', { producerId, peerId: peer.id });
    this.#broadcast('peerLeft', { peerId: peer.id });
    this.#log.info('leave() | peer left', { peerId: peer.id, peers: this.#peers.size });
    this.#scheduleCloseIfEmpty();
  }

  /** Closes every peer (telling them why), then the router. Idempotent. */
  close(reason: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#emptyTimer);
    // Empty the map first: a channel's close() can call back into leave() synchronously (the
    // socket's disconnect handler), which must then find nobody to announce a peerLeft to.
    const peers = [...this.#peers.values()];
    this.#peers.clear();
    for (const peer of peers) {
      peer.close();
      if (reason !== 'EMPTY') peer.channel.close(reason);
    }
    this.#media.closeRouter(this.routerId);
    this.#log.info('close() | room closed', { reason, routerId: this.routerId });
    for (const listener of this.#closeListeners) listener(reason);
  }

  #scheduleCloseIfEmpty(): void {
    if (this.#peers.size > 0 || this.#closed) return;
    clearTimeout(this.#emptyTimer);
    if (this.#emptyTimeoutMs === 0) {
      // Not synchronously: a caller in the middle of leave() must finish first.
      this.#emptyTimer = setTimeout(() => this.close('EMPTY'), 0);
      return;
    }
    this.#emptyTimer = setTimeout(() => this.close('EMPTY'), this.#emptyTimeoutMs);
  }

  #broadcast<E extends NotificationName>(event: E, payload: NotificationMap[E], except?: Peer): void {
    for (const peer of this.#peers.values()) {
      if (peer !== except) peer.channel.send(event, payload);
    }
  }

  /** The narrow view each Peer gets of its room. */
  #createLink(): RoomLink {
    return {
    roomId: this.id,
    routerId: this.routerId,
    findProducer: (producerId) => {
      for (const peer of this.#peers.values()) {
        const found = peer.findProducer(producerId);
        if (found) return found;
      }
      return undefined;
    },
    producerAdded: (peer, producerId) => {
      const info = peer.findProducer(producerId);
      if (info) this.#broadcast('newProducer', { producerId, peerId: peer.id, kind: info.kind, appData: info.appData }, peer);
    },
    producerClosed: (peer, producerId) => this.#broadcast('producerClosed', { producerId, peerId: peer.id }, peer),
    producerPauseChanged: (peer, producerId, paused) =>
      this.#broadcast(paused ? 'producerPaused' : 'producerResumed', { producerId, peerId: peer.id }, peer),
    };
  }
}
