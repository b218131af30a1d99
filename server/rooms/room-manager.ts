/**
 * Creates, finds and closes rooms. Creation is serialised per room id (two first joins never
 * open the media twice) and admission happens synchronously inside Room.join (the cap is exact).
 * `observer` reports every room's lifecycle to whoever watches (metrics, webhooks). Bans (a kick's)
 * are kept in a BanStore, which outlives rooms, and checked at every join.
 */
import type { CloseReason } from '../../shared/contract';
import { AppError } from '../errors';
import { LogSampler } from '../limits/log-sampler';
import type { Logger } from '../logger';
import { addressKey } from './addresses';
import { MemoryBanStore, type BanStore } from './bans';
import type { Peer, PeerLimits } from './peer';
import type { Fanout, MediaPort, PeerChannel } from './ports';
import { BANNED_MESSAGE, Room, type JoinResult, type PeerProfile, type ResumeResult } from './room';
import { RoomObserver } from './room-observer';
import { TurnPacer } from './turn-pacer';

export interface RoomManagerOptions {
  media: MediaPort;
  maxPeers: number;
  emptyTimeoutMs: number;
  reconnectGraceMs: number;
  /** Last-N of every room (0: off). Default 0. */
  lastN?: number;
  /** Quotas of the whole server and of each peer. Default: DEFAULT_SERVER_LIMITS, DEFAULT_PEER_LIMITS. */
  limits?: { server: ServerLimits; peer: PeerLimits };
  /** How a room's announcements reach its peers' channels. Default: sendToEach. */
  fanout?: Fanout;
  /** Where bans are kept. Default: in memory (a cluster's are in Redis). */
  bans?: BanStore;
  /**
   * Open mode only (without access tokens nothing else says who comes in): per client address
   * (an IPv6 /64) at most `addressMaxRooms` rooms opened and still open and `addressMaxPeers`
   * peers; a peer without transport for `idlePeerTimeoutMs` is expelled (0: never).
   */
  openMode?: OpenModeLimits;
  /** Plain transports may send to a loopback or private client address learned through a proxy. Default false. */
  allowPrivateDestinations?: boolean;
  logger: Logger;
}

export interface OpenModeLimits {
  addressMaxRooms: number;
  addressMaxPeers: number;
  idlePeerTimeoutMs: number;
}

/** A room's own settings, in place of the server's defaults. */
export interface RoomSettings {
  maxPeers?: number;
  emptyTimeoutMs?: number;
}

/** What one server holds at most; beyond it, a new room or a new peer is LIMIT_EXCEEDED. */
export interface ServerLimits {
  maxRooms: number;
  /** Peers in all rooms together (those in their reconnect grace count too). */
  maxPeers: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = { maxRooms: 1_000, maxPeers: 5_000 };

export class RoomManager {
  readonly observer: RoomObserver;
  readonly bans: BanStore;
  readonly #rooms = new Map<string, Room>();
  /** Rooms whose media is being opened: later callers await the same promise. */
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #opts: RoomManagerOptions;
  readonly #limits: ServerLimits;
  /** One budget for every room's dropped connections: a turn of the event loop is the process's. */
  readonly #pacer = new TurnPacer();
  readonly #log: Logger;
  /** The server-full warnings: every refused client would repeat them (a few per minute, with the count left out). */
  readonly #capacityLines = new LogSampler(3);
  /** Open mode: rooms each address (addressKey) opened that are open or opening. */
  readonly #roomsByAddress = new Map<string, number>();
  /** Open mode: peers joined from each address (addressKey), their grace included. */
  readonly #peersByAddress = new Map<string, number>();
  /** Open mode: the address key of each peer counted in #peersByAddress. */
  readonly #addressOfPeer = new Map<string, string>();
  #closed = false;

  constructor(opts: RoomManagerOptions) {
    this.#opts = opts;
    this.#limits = opts.limits?.server ?? DEFAULT_SERVER_LIMITS;
    this.#log = opts.logger.child({ component: 'room-manager' });
    this.observer = new RoomObserver(opts.logger);
    this.bans = opts.bans ?? new MemoryBanStore();
    this.observer.on('peerLeft', ({ peer }) => {
      const key = this.#addressOfPeer.get(peer.peerId);
      if (key === undefined) return;
      this.#addressOfPeer.delete(peer.peerId);
      count(this.#peersByAddress, key, -1);
    });
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  stats(): { rooms: number; peers: number } {
    let peers = 0;
    for (const room of this.#rooms.values()) peers += room.peerCount;
    return { rooms: this.#rooms.size, peers };
  }

  /**
   * The open room with this id, created (with its media) if there is none. `openedBy`: the address
   * of the client whose request opens it (in open mode it counts against that address's rooms).
   */
  async getOrCreateRoom(roomId: string, openedBy?: string): Promise<Room> {
    if (this.#closed) throw new AppError('ROOM_CLOSED', 'the server is shutting down');
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    const pending = this.#creating.get(roomId);
    if (pending) return pending;
    return this.#create(roomId, {}, openedBy);
  }

  /**
   * Opens a room ahead of its first join (admin API), with its own cap and empty timeout in
   * place of the server's defaults. Throws ROOM_EXISTS if that room is open or opening.
   */
  async createRoom(roomId: string, settings: RoomSettings): Promise<Room> {
    if (this.#closed) throw new AppError('ROOM_CLOSED', 'the server is shutting down');
    const existing = this.#rooms.get(roomId);
    if ((existing && !existing.closed) || this.#creating.has(roomId)) {
      throw new AppError('ROOM_EXISTS', `room ${roomId} is already open`);
    }
    return this.#create(roomId, settings);
  }

  #create(roomId: string, settings: RoomSettings, openedBy?: string): Promise<Room> {
    if (this.#rooms.size + this.#creating.size >= this.#limits.maxRooms) {
      this.#capacityLines.sample('rooms', (suppressed) =>
        this.#log.warn('getOrCreateRoom() | refused: the server holds its maximum of rooms', {
          maxRooms: this.#limits.maxRooms,
          suppressed,
        }),
      );
      return Promise.reject(new AppError('LIMIT_EXCEEDED', `this server holds at most ${this.#limits.maxRooms} rooms`));
    }
    const openMode = this.#opts.openMode;
    const opener = openMode && openedBy !== undefined ? addressKey(openedBy) : undefined;
    if (openMode && opener !== undefined && (this.#roomsByAddress.get(opener) ?? 0) >= openMode.addressMaxRooms) {
      this.#log.info('getOrCreateRoom() | refused: this address opened its maximum of rooms', {
        address: opener,
        addressMaxRooms: openMode.addressMaxRooms,
      });
      return Promise.reject(new AppError('LIMIT_EXCEEDED', `one address may have at most ${openMode.addressMaxRooms} rooms open`));
    }
    if (opener !== undefined) count(this.#roomsByAddress, opener, +1);
    let counted = opener !== undefined;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      count(this.#roomsByAddress, opener!, -1);
    };
    const creation = Room.create({
      roomId,
      media: this.#opts.media,
      maxPeers: settings.maxPeers ?? this.#opts.maxPeers,
      emptyTimeoutMs: settings.emptyTimeoutMs ?? this.#opts.emptyTimeoutMs,
      reconnectGraceMs: this.#opts.reconnectGraceMs,
      peerLimits: this.#opts.limits?.peer,
      allowPrivateDestinations: this.#opts.allowPrivateDestinations,
      idlePeerTimeoutMs: this.#opts.openMode?.idlePeerTimeoutMs,
      lastN: this.#opts.lastN,
      fanout: this.#opts.fanout,
      pacer: this.#pacer,
      observer: this.observer,
      logger: this.#opts.logger,
    })
      .then((room) => {
        if (this.#closed) {
          // closeAll() ran while this room's media was being opened: do not open a room after shutdown.
          room.close('SERVER_SHUTDOWN');
          throw new AppError('ROOM_CLOSED', 'the server is shutting down');
        }
        this.#rooms.set(roomId, room);
        room.onClose(() => {
          if (this.#rooms.get(roomId) === room) this.#rooms.delete(roomId);
          uncount();
        });
        if (room.closed) uncount();
        return room;
      })
      .catch((error: unknown) => {
        uncount();
        throw error;
      })
      .finally(() => this.#creating.delete(roomId));
    this.#creating.set(roomId, creation);
    return creation;
  }

  /**
   * Joins a peer into a room (created on first join). Throws ROOM_FULL when at the room's cap,
   * LIMIT_EXCEEDED at the server's. The server-wide check and the join run without an await
   * between them, so the server cap is as exact as the room cap.
   */
  async join(roomId: string, profile: PeerProfile, channel: PeerChannel): Promise<JoinResult & { room: Room }> {
    if (profile.grants && !profile.grants.join) throw new AppError('FORBIDDEN', 'joining needs the `join` grant');
    if (profile.identity !== undefined && (await this.bans.find(roomId, profile.identity))) throw new AppError('FORBIDDEN', BANNED_MESSAGE);
    const openMode = this.#opts.openMode;
    const address = openMode && profile.remoteAddress !== undefined ? addressKey(profile.remoteAddress) : undefined;
    // A room can close (empty timeout) between its creation and this join: then take a new one.
    for (let attempt = 0; ; attempt++) {
      this.#assertAddressMayJoin(address);
      const room = await this.getOrCreateRoom(roomId, profile.remoteAddress);
      if (room.closed && attempt < 2) continue;
      const replaces = profile.identity !== undefined && room.peerWithIdentity(profile.identity) !== undefined;
      if (!replaces && this.stats().peers >= this.#limits.maxPeers) {
        this.#capacityLines.sample('peers', (suppressed) =>
          this.#log.warn('join() | refused: the server holds its maximum of peers', { maxPeers: this.#limits.maxPeers, suppressed }),
        );
        throw new AppError('LIMIT_EXCEEDED', `this server holds at most ${this.#limits.maxPeers} peers`);
      }
      // Checked again with the join, without an await between: the cap is exact under concurrency.
      this.#assertAddressMayJoin(address);
      const joined = room.join(profile, channel);
      if (address !== undefined) {
        this.#addressOfPeer.set(joined.peer.id, address);
        count(this.#peersByAddress, address, +1);
      }
      return { room, ...joined };
    }
  }

  /** Open mode: LIMIT_EXCEEDED when the address has its maximum of peers. */
  #assertAddressMayJoin(address: string | undefined): void {
    const openMode = this.#opts.openMode;
    if (!openMode || address === undefined || (this.#peersByAddress.get(address) ?? 0) < openMode.addressMaxPeers) return;
    this.#log.info('join() | refused: this address has its maximum of peers', { address, addressMaxPeers: openMode.addressMaxPeers });
    throw new AppError('LIMIT_EXCEEDED', `one address may have at most ${openMode.addressMaxPeers} peers`);
  }

  /**
   * Runs `task` now, or later in this turn of the event loop or the next ones when a burst (thousands
   * of connections dropping together) has spent this turn's budget (turn-pacer.ts): for the
   * signalling layer's clean-up after a disconnect.
   */
  pace(task: () => void): void {
    this.#pacer.run(task);
  }

  /** The same peer back on a new connection (see Room.resume). Throws RESUME_FAILED. */
  resume(roomId: string, resumeToken: string, channel: PeerChannel, identity?: string): ResumeResult & { room: Room } {
    const room = this.#rooms.get(roomId);
    if (!room || room.closed) throw new AppError('RESUME_FAILED', `room ${roomId} is gone: join again`);
    return { room, ...room.resume(resumeToken, channel, identity) };
  }

  /** An operator kicks a peer: expelled, and its identity banned (Room.kick) in the room and in the ban store. */
  async kick(room: Room, peer: Peer): Promise<void> {
    const ban = room.kick(peer);
    if (ban) await this.bans.add(room.id, ban);
  }

  /** An operator lifts a ban. False when there was none. */
  async liftBan(roomId: string, identity: string): Promise<boolean> {
    const room = this.#rooms.get(roomId);
    const here = room?.bans.has(identity) ?? false;
    room?.bans.lift(identity);
    return (await this.bans.remove(roomId, identity)) || here;
  }

  /** Closes every room (server shutdown). */
  closeAll(reason: CloseReason): void {
    this.#closed = true;
    for (const room of [...this.#rooms.values()]) room.close(reason);
    this.#log.info('closeAll() | all rooms closed', { reason });
  }
}

/** Adds `delta` to a per-key count, dropping keys that reach 0. */
function count(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
