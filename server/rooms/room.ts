/**
 * A room: its peers and the coordination between them — admission under the peer cap,
 * announcements, a dropped peer's grace period and its resume, a media reset after a worker
 * crash, who is speaking and last-N, and closing when empty. Everything a single peer owns is in Peer; the media behind
 * the room is the MediaPort's, addressed by the room's id.
 */
import { randomBytes } from 'node:crypto';
import { v4 as uuidv4 } from 'uuid';
import type {
  AudioLevel,
  CloseReason,
  DataProducerInfo,
  Grants,
  NotificationMap,
  NotificationName,
  PeerInfo,
  ProducerInfo,
  RtpCapabilities,
} from '../../shared/contract';
import type { PeerId } from '../../shared/ids';
import type { MediaKind } from '../../shared/media';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { AddressSource } from './addresses';
import { RoomBans, type Ban } from './bans';
import { ChurnBudget } from './churn-budget';
import { ALL_GRANTS, DEFAULT_PEER_LIMITS, Peer, type PeerLimits } from './peer';
import { sendToEach, type Fanout, type MediaPort, type PeerChannel, type RoomLink } from './ports';
import type { PeerLeftReason, RoomObserver } from './room-observer';
import { RoomOutbox } from './room-outbox';
import { TurnPacer } from './turn-pacer';

/** Why a room closed: a reason clients are told, or EMPTY (nobody left to tell). */
export type RoomCloseReason = CloseReason | 'EMPTY';

/** What a banned identity is told, at connect and at join. */
export const BANNED_MESSAGE = 'banned from this room: an operator kicked this identity (until its token expires or the ban is lifted)';

export interface RoomOptions {
  roomId: string;
  media: MediaPort;
  maxPeers: number;
  /** How long the room stays open with nobody in it; 0 closes at once. */
  emptyTimeoutMs: number;
  /** How long a peer whose connection dropped keeps its place; 0: a drop is a leave. */
  reconnectGraceMs: number;
  /** Quotas of each peer. Default: DEFAULT_PEER_LIMITS. */
  peerLimits?: PeerLimits;
  /** Plain transports may send to a loopback or private client address learned through a proxy. Default false. */
  allowPrivateDestinations?: boolean;
  /** A peer with no transport for this long is expelled (IDLE); 0 or undefined: never (with access tokens). */
  idlePeerTimeoutMs?: number;
  /**
   * Last-N: each peer receives video from at most this many others, the most recent speakers
   * (plus its pins); 0 (default): off.
   */
  lastN?: number;
  /** How announcements reach the peers' channels. Default: sendToEach. */
  fanout?: Fanout;
  /** Paces dropped connections' leaves and departures' announcements over turns of the event loop (shared by a server's rooms). Default: the room's own. */
  pacer?: TurnPacer;
  observer: RoomObserver;
  logger: Logger;
}

/** Who the joining client is: from its access token, or from the handshake in open mode. */
export interface PeerProfile {
  /** Unique in a room. Default: the peer id. */
  identity?: string;
  displayName?: string;
  /** Default: ALL_GRANTS (open mode). */
  grants?: Grants;
  /** When the access token expires (seconds since the epoch); undefined in open mode. */
  tokenExpiresAt?: number;
  /** The address the client connects from (its plain transports may send only there). */
  remoteAddress?: string;
  /** How remoteAddress was learned (default 'socket'); 'unverified': a proxy's, the client's own is unknown. */
  remoteAddressSource?: AddressSource;
}

export interface JoinResult {
  peer: Peer;
  /** The others. */
  peers: PeerInfo[];
  /** The others' producers. */
  producers: ProducerInfo[];
  /** The others' data producers. */
  dataProducers: DataProducerInfo[];
  activeSpeakerPeerId?: string;
  resumeToken: string;
}

export interface ResumeResult extends JoinResult {
  owned: ReturnType<Peer['owned']>;
}

export class Room {
  readonly id: string;
  readonly maxPeers: number;
  readonly createdAt = new Date();
  readonly #peers = new Map<PeerId, Peer>();
  /** resume token → peer; one token per peer, replaced at each resume. */
  readonly #resumeTokens = new Map<string, Peer>();
  readonly #tokenOf = new Map<Peer, string>();
  /** Identities kicked from this room while open (see RoomBans). */
  readonly bans = new RoomBans();
  /** Peers whose connection dropped → their grace timer. */
  readonly #graceTimers = new Map<Peer, NodeJS.Timeout>();
  readonly #media: MediaPort;
  readonly #emptyTimeoutMs: number;
  readonly #reconnectGraceMs: number;
  readonly #peerLimits: PeerLimits | undefined;
  readonly #allowPrivateDestinations: boolean;
  /** Every peer's produce and produceData requests, counted per peer (PEER_PRODUCE_RATE). */
  readonly #produceBudget: ChurnBudget;
  readonly #idlePeerTimeoutMs: number;
  /** Peers → the timer that checks whether they are idle (no transport for idlePeerTimeoutMs). */
  readonly #idleTimers = new Map<Peer, NodeJS.Timeout>();
  /** Announcements to the peers, in order; departures after the current turn (room-outbox.ts). */
  readonly #outbox: RoomOutbox<Peer>;
  /** When each peer was admitted (joined or resumed), by #admissions: a queued announcement skips later ones. */
  readonly #admittedAt = new WeakMap<Peer, number>();
  #admissions = 0;
  /** A peer that wanted audio levels left: whether anyone still does is settled with the departures. */
  #audioLevelsStale = false;
  readonly #pacer: TurnPacer;
  readonly #observer: RoomObserver;
  readonly #log: Logger;
  readonly #closeListeners: Array<(reason: RoomCloseReason) => void> = [];
  readonly #link: RoomLink;
  readonly #lastN: number;
  /**
   * Peers by last-N rank: most recent speaker first, then those who never spoke in join order
   * (before anyone spoke, the first N joiners are seen).
   */
  readonly #order: PeerId[] = [];
  /** Each peer's pins: peers whose video it receives whatever last-N says. */
  readonly #pins = new Map<PeerId, ReadonlySet<string>>();
  #activeSpeaker: PeerId | undefined;
  #emptyTimer: NodeJS.Timeout | undefined;
  #closed = false;

  /** Opens the room's media, then the room; the room starts its empty timer at once. */
  static async create(opts: RoomOptions): Promise<Room> {
    const created: { room?: Room } = {};
    let lost = false; // the media may fail before the room exists
    await opts.media.openRoom(opts.roomId, {
      onMediaReset: () => created.room?.resetMedia(),
      onMediaFailed: () => {
        lost = true;
        created.room?.close('MEDIA_FAILURE');
      },
      onActiveSpeaker: (peerId) => created.room?.activeSpeakerChanged(peerId),
      onAudioLevels: (levels) => created.room?.audioLevels(levels),
    });
    const room = new Room(opts);
    created.room = room;
    if (lost) room.close('MEDIA_FAILURE');
    return room;
  }

  private constructor(opts: RoomOptions) {
    this.id = opts.roomId;
    this.maxPeers = opts.maxPeers;
    this.#media = opts.media;
    this.#emptyTimeoutMs = opts.emptyTimeoutMs;
    this.#reconnectGraceMs = opts.reconnectGraceMs;
    this.#peerLimits = opts.peerLimits;
    this.#allowPrivateDestinations = opts.allowPrivateDestinations ?? false;
    this.#produceBudget = new ChurnBudget('produce requests', (opts.peerLimits ?? DEFAULT_PEER_LIMITS).producesPer10s);
    this.#idlePeerTimeoutMs = opts.idlePeerTimeoutMs ?? 0;
    this.#lastN = opts.lastN ?? 0;
    this.#pacer = opts.pacer ?? new TurnPacer();
    this.#outbox = new RoomOutbox<Peer>(
      opts.fanout ?? sendToEach,
      { channels: (admission, except) => this.#channels(admission, except), settle: () => this.#settleDepartures() },
      this.#pacer,
    );
    this.#observer = opts.observer;
    this.#log = opts.logger.child({ component: 'room', roomId: opts.roomId });
    this.#link = this.#createLink();
    this.#log.info('room opened', { maxPeers: opts.maxPeers, lastN: this.#lastN });
    this.#observer.emit('roomOpened', { roomId: this.id });
    this.#scheduleCloseIfEmpty();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How long the room stays open with nobody in it (0: closes at once). */
  get emptyTimeoutMs(): number {
    return this.#emptyTimeoutMs;
  }

  /** How long a peer whose connection dropped keeps its place (0: a drop is a leave). */
  get reconnectGraceMs(): number {
    return this.#reconnectGraceMs;
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  get peers(): ReadonlyMap<PeerId, Peer> {
    return this.#peers;
  }

  /** The dominant speaker, if anyone spoke. */
  get activeSpeakerPeerId(): PeerId | undefined {
    return this.#activeSpeaker;
  }

  /** The router's RTP capabilities (what a client's Device loads). */
  rtpCapabilities(): RtpCapabilities {
    return this.#media.rtpCapabilities(this.id);
  }

  onClose(listener: (reason: RoomCloseReason) => void): void {
    this.#closeListeners.push(listener);
  }

  /** The peer with this identity, if one is here (in its grace period too). */
  peerWithIdentity(identity: string): Peer | undefined {
    for (const peer of this.#peers.values()) if (peer.identity === identity) return peer;
    return undefined;
  }

  /**
   * Admits a peer if the room is open and not full. Synchronous on purpose: the check and the
   * insert cannot be interleaved with another join, so the cap is exact under concurrency.
   * The same identity joining again replaces the older peer (LiveKit's rule): the older one is
   * expelled with DUPLICATE_IDENTITY first, so its place counts for the newcomer.
   */
  join(profile: PeerProfile, channel: PeerChannel): JoinResult {
    if (this.#closed) throw new AppError('ROOM_CLOSED', `room ${this.id} is closed`);
    const grants = profile.grants ?? ALL_GRANTS;
    if (!grants.join) throw new AppError('FORBIDDEN', 'joining needs the `join` grant');
    if (profile.identity !== undefined && this.bans.has(profile.identity)) throw new AppError('FORBIDDEN', BANNED_MESSAGE);
    const older = profile.identity === undefined ? undefined : this.peerWithIdentity(profile.identity);
    if (older) {
      this.#log.info('join() | the same identity joined again: the older peer is replaced', { peerId: older.id });
      this.expel(older, 'DUPLICATE_IDENTITY');
    }
    if (this.#peers.size >= this.maxPeers) {
      // Debug: a client can repeat a refused join at will; the session logs its ROOM_FULL answer, sampled.
      this.#log.debug('join() | refused: room full', { maxPeers: this.maxPeers });
      throw new AppError('ROOM_FULL', `room ${this.id} is full (${this.maxPeers} peers)`);
    }
    const peerId = uuidv4() as PeerId;
    const peer = new Peer({
      id: peerId,
      identity: profile.identity ?? peerId,
      displayName: profile.displayName ?? `guest-${peerId.slice(0, 4)}`,
      grants,
      tokenExpiresAt: profile.tokenExpiresAt,
      remoteAddress: profile.remoteAddress,
      remoteAddressSource: profile.remoteAddressSource,
      allowPrivateDestinations: this.#allowPrivateDestinations,
      limits: this.#peerLimits,
      produceBudget: this.#produceBudget,
      channel,
      media: this.#media,
      room: this.#link,
      logger: this.#log,
    });
    const snapshot = this.#snapshotFor(peer);
    this.#peers.set(peerId, peer);
    this.#admittedAt.set(peer, ++this.#admissions);
    this.#order.push(peerId);
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = undefined;
    this.#watchIdle(peer, this.#idlePeerTimeoutMs);
    this.#log.info('join() | peer joined', { peerId, peers: this.#peers.size });
    this.#broadcast('peerJoined', peer.info(), peer);
    this.#observer.emit('peerJoined', { roomId: this.id, peer: peer.info() });
    return { peer, ...snapshot, resumeToken: this.#issueResumeToken(peer) };
  }

  /**
   * The peer's connection dropped (`channel` is the connection that dropped). It keeps its
   * place for the grace period, or leaves at once without one. A stale connection of a peer
   * that already resumed on a new one is ignored. Paced (turn-pacer.ts): when thousands of
   * connections drop together, this runs over a few turns of the event loop.
   */
  peerDisconnected(peer: Peer, channel: PeerChannel): void {
    this.#pacer.run(() => this.#peerDisconnectedNow(peer, channel));
  }

  #peerDisconnectedNow(peer: Peer, channel: PeerChannel): void {
    if (this.#closed || this.#peers.get(peer.id) !== peer || peer.channel !== channel) return;
    if (this.#reconnectGraceMs === 0) {
      this.leave(peer, 'DISCONNECTED');
      return;
    }
    peer.detach();
    clearTimeout(this.#graceTimers.get(peer));
    this.#graceTimers.set(
      peer,
      setTimeout(() => {
        // Graces that started together (a network cut) end together: paced like the drops.
        this.#pacer.run(() => {
          if (this.#closed || this.#peers.get(peer.id) !== peer || peer.channel) return; // resumed meanwhile
          this.#log.info('peerDisconnected() | grace expired: peer leaves', { peerId: peer.id, graceMs: this.#reconnectGraceMs });
          this.leave(peer, 'DISCONNECTED');
        });
      }, this.#reconnectGraceMs),
    );
    this.#log.info('peerDisconnected() | connection dropped: peer keeps its place', { peerId: peer.id, graceMs: this.#reconnectGraceMs });
    this.#observer.emit('peerDisconnected', { roomId: this.id, peerId: peer.id });
  }

  /**
   * A client comes back with its resume token on a new connection (authenticated as `identity`,
   * when tokens are on): the same peer, with what it still owns, and the room as it is now. The old connection, if the server still holds it, is
   * closed without a `roomClosed` (its client has moved on).
   */
  resume(resumeToken: string, channel: PeerChannel, identity?: string): ResumeResult {
    const peer = this.#resumeTokens.get(resumeToken);
    if (this.#closed || !peer || this.#peers.get(peer.id) !== peer) {
      throw new AppError('RESUME_FAILED', 'unknown or expired resume token: join again');
    }
    // With access tokens, a resume token only works for the identity it was issued to.
    if (identity !== undefined && peer.identity !== identity) {
      throw new AppError('RESUME_FAILED', 'this resume token belongs to another identity: join again');
    }
    clearTimeout(this.#graceTimers.get(peer));
    this.#graceTimers.delete(peer);
    const previous = peer.attach(channel);
    if (previous && previous !== channel) previous.close();
    this.#admittedAt.set(peer, ++this.#admissions); // its snapshot has what was announced so far
    this.#log.info('resume() | peer resumed', { peerId: peer.id });
    this.#observer.emit('peerResumed', { roomId: this.id, peerId: peer.id });
    return { peer, ...this.#snapshotFor(peer), resumeToken: this.#issueResumeToken(peer), owned: peer.owned() };
  }

  /**
   * Removes a peer, closing all it owned, at once; the others are told (its producers' end, then
   * `peerLeft`) after the current turn of the event loop, with whoever else left meanwhile
   * (room-outbox.ts). Idempotent.
   */
  leave(peer: Peer, reason: PeerLeftReason = 'LEFT'): void {
    if (this.#closed || this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    this.#forgetConnection(peer);
    peer.close(); // its producers' end goes out with its departure (producerClosed)
    this.#forgetSpeaker(peer);
    this.#outbox.depart('peerLeft', { peerId: peer.id }, this.#admissions);
    this.#log.info('leave() | peer left', { peerId: peer.id, reason, peers: this.#peers.size });
    this.#observer.emit('peerLeft', { roomId: this.id, peer: peer.info(), reason });
    this.#scheduleCloseIfEmpty();
  }

  /**
   * Removes one peer on the server's initiative: its client is told why (`roomClosed { reason }`)
   * and disconnected, the others see it leave. Idempotent.
   */
  expel(peer: Peer, reason: 'KICKED' | 'DUPLICATE_IDENTITY' | 'IDLE'): void {
    if (this.#closed || this.#peers.get(peer.id) !== peer) return;
    const channel = peer.channel;
    this.leave(peer, reason);
    channel?.close(reason);
  }

  /**
   * An operator kicks a peer: expelled with KICKED and, with access tokens, its identity banned
   * from this room until its token expires (in open mode identities are per connection: nothing to
   * ban). Returns the ban, for the ban store. Idempotent.
   */
  kick(peer: Peer): Ban | undefined {
    if (this.#closed || this.#peers.get(peer.id) !== peer) return undefined;
    const expiresAt = peer.tokenExpiresAt === undefined ? undefined : peer.tokenExpiresAt * 1000;
    // Banned before the expel: nothing the expel triggers can let the identity back in.
    if (expiresAt !== undefined) this.bans.add({ identity: peer.identity, expiresAt });
    this.expel(peer, 'KICKED');
    this.#log.info('kick() | peer kicked by an operator', { peerId: peer.id, banned: expiresAt !== undefined });
    return expiresAt === undefined ? undefined : { identity: peer.identity, expiresAt };
  }

  /**
   * An operator mutes a peer: its producers of `kind` are paused, and the peer and the room
   * hear `producerPaused { reason: 'MUTED_BY_ADMIN' }`. The mute is hard: the peer may neither
   * resume nor produce that kind until `unmute`. Returns the producers it paused.
   */
  async mute(peer: Peer, kind: MediaKind): Promise<string[]> {
    this.#assertMember(peer);
    peer.setMutedByAdmin(kind, true);
    const producerIds = await peer.pauseByServer(kind, 'MUTED_BY_ADMIN');
    this.#log.info('mute() | peer muted by an operator', { peerId: peer.id, kind, producers: producerIds.length });
    return producerIds;
  }

  /** An operator lifts a mute: the peer may resume and produce `kind` again (nothing is resumed for it). */
  unmute(peer: Peer, kind: MediaKind): void {
    this.#assertMember(peer);
    peer.setMutedByAdmin(kind, false);
    this.#log.info('unmute() | peer unmuted by an operator', { peerId: peer.id, kind });
  }

  #assertMember(peer: Peer): void {
    if (this.#closed || this.#peers.get(peer.id) !== peer) throw new AppError('NOT_FOUND', `peer ${peer.id} is not in room ${this.id}`);
  }

  /**
   * The media behind the room was replaced after a worker crash: the peers stay, everything
   * they had on the old router is gone; one `mediaReset` tells them to set it up again.
   */
  resetMedia(): void {
    if (this.#closed) return;
    for (const peer of this.#peers.values()) peer.resetMedia();
    this.#log.warn('resetMedia() | the room moved to a new router: peers re-create their media', { peers: this.#peers.size });
    this.#broadcast('mediaReset', { reason: 'WORKER_DIED' });
    this.#observer.emit('mediaReset', { roomId: this.id });
  }

  /** Closes every peer (telling them why), then the media. Idempotent. */
  close(reason: RoomCloseReason): void {
    if (this.#closed) return;
    // Closed first: whatever a peer's close or a channel's disconnect triggers (leave,
    // peerDisconnected, announcements) then finds a closed room and does nothing.
    this.#closed = true;
    clearTimeout(this.#emptyTimer);
    this.#outbox.close();
    const peers = [...this.#peers.values()];
    this.#peers.clear();
    for (const peer of peers) {
      const channel = peer.channel;
      this.#forgetConnection(peer);
      peer.close();
      if (reason !== 'EMPTY') channel?.close(reason);
      this.#observer.emit('peerLeft', { roomId: this.id, peer: peer.info(), reason: 'ROOM_CLOSED' });
    }
    this.#media.closeRoom(this.id);
    this.#log.info('close() | room closed', { reason });
    this.#observer.emit('roomClosed', { roomId: this.id, reason });
    for (const listener of this.#closeListeners) listener(reason);
  }

  /**
   * mediasoup's ActiveSpeakerObserver named a new dominant speaker: everyone hears it (only on a
   * change), and with last-N it moves to the front of the order.
   */
  activeSpeakerChanged(peerId: string): void {
    const peer = this.#peers.get(peerId as PeerId);
    if (this.#closed || !peer || this.#activeSpeaker === peer.id) return;
    this.#activeSpeaker = peer.id;
    this.#order.splice(this.#order.indexOf(peer.id), 1);
    this.#order.unshift(peer.id);
    this.#log.debug('activeSpeaker() | the dominant speaker changed', { peerId });
    this.#broadcast('activeSpeaker', { peerId });
    this.#applyLastN();
  }

  /** An audio level report: to the peers that asked for them, about peers still here. */
  audioLevels(levels: AudioLevel[]): void {
    if (this.#closed) return;
    const known = levels.filter((l) => this.#peers.has(l.peerId as PeerId));
    for (const peer of this.#peers.values()) if (peer.wantsAudioLevels) peer.send('audioLevels', { levels: known });
  }

  /** Whether last-N holds `producer`'s video paused for `subscriberId`: only camera-like video, and only when last-N is on. */
  #lastNPaused(subscriberId: PeerId, producer: ProducerInfo, seen?: ReadonlySet<string>): boolean {
    // Audio is never cut; a screen share is shown to all (someone presenting is watched whoever speaks).
    if (this.#lastN === 0 || producer.kind !== 'video' || producer.appData.source === 'screen') return false;
    return !(seen ?? this.#seenBy(subscriberId)).has(producer.peerId);
  }

  /** The peers whose video `subscriberId` receives under last-N: the N first others of the order, and its pins. */
  #seenBy(subscriberId: PeerId): ReadonlySet<string> {
    const seen = new Set<string>(this.#pins.get(subscriberId));
    let taken = 0;
    for (const peerId of this.#order) {
      if (taken === this.#lastN) break;
      if (peerId === subscriberId) continue;
      seen.add(peerId);
      taken++;
    }
    return seen;
  }

  /** Recomputes last-N for every peer (or one) and lets each apply what changed. */
  #applyLastN(only?: Peer): void {
    if (this.#lastN === 0 || this.#closed) return;
    for (const peer of only ? [only] : this.#peers.values()) {
      const seen = this.#seenBy(peer.id);
      peer.applyLastN((producer) => this.#lastNPaused(peer.id, producer, seen));
    }
  }

  /** A peer left: out of the order, the pins and the speaker slot; whoever it made invisible may now be seen. */
  #forgetSpeaker(peer: Peer): void {
    const at = this.#order.indexOf(peer.id);
    if (at >= 0) this.#order.splice(at, 1);
    this.#pins.delete(peer.id);
    for (const [pinner, pins] of this.#pins) {
      if (pins.has(peer.id)) this.#pins.set(pinner, new Set([...pins].filter((id) => id !== peer.id)));
    }
    if (this.#activeSpeaker === peer.id) this.#activeSpeaker = undefined;
    if (peer.wantsAudioLevels) this.#audioLevelsStale = true;
  }

  /** Once per batch of departures (not at each leave, O(peers × consumers) with last-N): whoever they made invisible may now be seen. */
  #settleDepartures(): void {
    if (this.#audioLevelsStale) {
      this.#audioLevelsStale = false;
      this.#updateAudioLevelsEnabled();
    }
    this.#applyLastN();
  }

  #updateAudioLevelsEnabled(): void {
    if (this.#closed) return;
    const wanted = [...this.#peers.values()].some((p) => p.wantsAudioLevels);
    this.#media.setAudioLevelsEnabled(this.id, wanted);
  }

  #snapshotFor(peer: Peer): Omit<JoinResult, 'peer' | 'resumeToken'> {
    const peers: PeerInfo[] = [];
    const producers: ProducerInfo[] = [];
    const dataProducers: DataProducerInfo[] = [];
    for (const other of this.#peers.values()) {
      if (other === peer) continue;
      peers.push(other.info());
      producers.push(...other.producerInfos());
      dataProducers.push(...other.dataProducerInfos());
    }
    return { peers, producers, dataProducers, ...(this.#activeSpeaker ? { activeSpeakerPeerId: this.#activeSpeaker } : {}) };
  }

  #issueResumeToken(peer: Peer): string {
    const previous = this.#tokenOf.get(peer);
    if (previous) this.#resumeTokens.delete(previous);
    const token = randomBytes(24).toString('base64url');
    this.#resumeTokens.set(token, peer);
    this.#tokenOf.set(peer, token);
    return token;
  }

  #forgetConnection(peer: Peer): void {
    clearTimeout(this.#graceTimers.get(peer));
    this.#graceTimers.delete(peer);
    clearTimeout(this.#idleTimers.get(peer));
    this.#idleTimers.delete(peer);
    const token = this.#tokenOf.get(peer);
    if (token) this.#resumeTokens.delete(token);
    this.#tokenOf.delete(peer);
  }

  /**
   * Open mode: a peer that holds a place without any transport (nothing sent, nothing received)
   * for idlePeerTimeoutMs is expelled (`roomClosed { reason: 'IDLE' }`). Checked when the time
   * since it last had none could be up, so a peer between two transports is not caught.
   */
  #watchIdle(peer: Peer, delayMs: number): void {
    if (this.#idlePeerTimeoutMs === 0) return;
    this.#idleTimers.set(
      peer,
      setTimeout(() => {
        if (this.#closed || this.#peers.get(peer.id) !== peer) return;
        const since = peer.idleSince;
        const idleMs = since === undefined ? 0 : Date.now() - since;
        if (since !== undefined && idleMs >= this.#idlePeerTimeoutMs) {
          this.#log.info('idle() | peer had no transport for too long: expelled', { peerId: peer.id, idleMs });
          this.expel(peer, 'IDLE');
          return;
        }
        this.#watchIdle(peer, this.#idlePeerTimeoutMs - idleMs);
      }, delayMs),
    );
  }

  #scheduleCloseIfEmpty(): void {
    if (this.#peers.size > 0 || this.#closed) return;
    clearTimeout(this.#emptyTimer);
    // Never synchronously, even with a 0 timeout: a caller in the middle of leave() must finish first.
    this.#emptyTimer = setTimeout(() => this.close('EMPTY'), this.#emptyTimeoutMs);
  }

  /** To every connected peer but `except`, in one fan-out (a peer in its grace period has no channel: dropped); after any queued departures. */
  #broadcast<E extends NotificationName>(event: E, payload: NotificationMap[E], except?: Peer): void {
    if (this.#closed) return;
    this.#outbox.announce(event, payload, this.#admissions, except);
  }

  /** The connected peers admitted by `admission`, but `except`. */
  #channels(admission: number, except: Peer | undefined): PeerChannel[] {
    const channels: PeerChannel[] = [];
    for (const peer of this.#peers.values()) {
      if (peer !== except && peer.channel && (this.#admittedAt.get(peer) ?? 0) <= admission) channels.push(peer.channel);
    }
    return channels;
  }

  /** The narrow view each Peer gets of its room. */
  #createLink(): RoomLink {
    return {
      roomId: this.id,
      findProducer: (producerId) => {
        for (const peer of this.#peers.values()) {
          const found = peer.findProducer(producerId);
          if (found) return found;
        }
        return undefined;
      },
      producerOpened: (producer) => {
        const { producerId, peerId, kind, appData } = producer;
        this.#broadcastFrom(peerId, 'newProducer', { producerId, peerId, kind, appData });
        this.#observer.emit('producerOpened', { roomId: this.id, producer });
      },
      producerClosed: ({ producerId, peerId }) => {
        // A leaving peer's producers close with its departure's announcements.
        if (this.#peers.has(peerId as PeerId)) this.#broadcastFrom(peerId, 'producerClosed', { producerId, peerId });
        else this.#outbox.depart('producerClosed', { producerId, peerId }, this.#admissions);
        this.#observer.emit('producerClosed', { roomId: this.id, producerId, peerId });
      },
      producerPauseChanged: ({ producerId, peerId, paused, reason }) => {
        // The server paused it: its owner did not ask, so it hears it too.
        if (paused && reason) this.#broadcast('producerPaused', { producerId, peerId, reason });
        else this.#broadcastFrom(peerId, paused ? 'producerPaused' : 'producerResumed', { producerId, peerId });
      },
      findDataProducer: (dataProducerId) => {
        for (const peer of this.#peers.values()) {
          const found = peer.findDataProducer(dataProducerId);
          if (found) return found;
        }
        return undefined;
      },
      dataProducerOpened: (dataProducer) => this.#broadcastFrom(dataProducer.peerId, 'newDataProducer', dataProducer),
      dataProducerClosed: ({ dataProducerId, peerId }) => {
        if (this.#peers.has(peerId as PeerId)) this.#broadcastFrom(peerId, 'dataProducerClosed', { dataProducerId, peerId });
        else this.#outbox.depart('dataProducerClosed', { dataProducerId, peerId }, this.#admissions);
      },
      lastNPaused: (subscriberId, producer) => this.#lastNPaused(subscriberId as PeerId, producer),
      pinPeers: (peerId, peerIds) => {
        const peer = this.#peers.get(peerId as PeerId);
        if (!peer) return;
        // Peers not here (left meanwhile, another room's, made up) and oneself are ignored.
        this.#pins.set(peer.id, new Set(peerIds.filter((id) => id !== peerId && this.#peers.has(id as PeerId))));
        this.#applyLastN(peer);
      },
      audioLevelsWanted: () => this.#updateAudioLevelsEnabled(),
    };
  }

  /** To everyone but the peer the news is about. */
  #broadcastFrom<E extends NotificationName>(peerId: string, event: E, payload: NotificationMap[E]): void {
    this.#broadcast(event, payload, this.#peers.get(peerId as PeerId));
  }
}
