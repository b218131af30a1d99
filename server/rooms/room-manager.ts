/**
 * Creates, finds and closes rooms. Creation is serialised per room id (two first joins never
 * open the media twice) and admission happens synchronously inside Room.join (the cap is exact).
 * `observer` reports every room's lifecycle to whoever watches (metrics, webhooks).
 */
import type { CloseReason } from '../../shared/contract';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { PeerLimits } from './peer';
import type { Fanout, MediaPort, PeerChannel } from './ports';
import { Room, type JoinResult, type PeerProfile, type ResumeResult } from './room';
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
  logger: Logger;
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
  readonly #rooms = new Map<string, Room>();
  /** Rooms whose media is being opened: later callers await the same promise. */
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #opts: RoomManagerOptions;
  readonly #limits: ServerLimits;
  /** One budget for every room's dropped connections: a turn of the event loop is the process's. */
  readonly #pacer = new TurnPacer();
  readonly #log: Logger;
  #closed = false;

  constructor(opts: RoomManagerOptions) {
    this.#opts = opts;
    this.#limits = opts.limits?.server ?? DEFAULT_SERVER_LIMITS;
    this.#log = opts.logger.child({ component: 'room-manager' });
    this.observer = new RoomObserver(opts.logger);
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  stats(): { rooms: number; peers: number } {
    let peers = 0;
    for (const room of this.#rooms.values()) peers += room.peerCount;
    return { rooms: this.#rooms.size, peers };
  }

  /** The open room with this id, created (with its media) if there is none. */
  async getOrCreateRoom(roomId: string): Promise<Room> {
    if (this.#closed) throw new AppError('ROOM_CLOSED', 'the server is shutting down');
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    const pending = this.#creating.get(roomId);
    if (pending) return pending;
    return this.#create(roomId, {});
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

  #create(roomId: string, settings: RoomSettings): Promise<Room> {
    if (this.#rooms.size + this.#creating.size >= this.#limits.maxRooms) {
      this.#log.warn('getOrCreateRoom() | refused: the server holds its maximum of rooms', { maxRooms: this.#limits.maxRooms });
      return Promise.reject(new AppError('LIMIT_EXCEEDED', `this server holds at most ${this.#limits.maxRooms} rooms`));
    }
    const creation = Room.create({
      roomId,
      media: this.#opts.media,
      maxPeers: settings.maxPeers ?? this.#opts.maxPeers,
      emptyTimeoutMs: settings.emptyTimeoutMs ?? this.#opts.emptyTimeoutMs,
      reconnectGraceMs: this.#opts.reconnectGraceMs,
      peerLimits: this.#opts.limits?.peer,
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
        });
        return room;
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
    // A room can close (empty timeout) between its creation and this join: then take a new one.
    for (let attempt = 0; ; attempt++) {
      const room = await this.getOrCreateRoom(roomId);
      if (room.closed && attempt < 2) continue;
      const replaces = profile.identity !== undefined && room.peerWithIdentity(profile.identity) !== undefined;
      if (!replaces && this.stats().peers >= this.#limits.maxPeers) {
        this.#log.warn('join() | refused: the server holds its maximum of peers', { maxPeers: this.#limits.maxPeers });
        throw new AppError('LIMIT_EXCEEDED', `this server holds at most ${this.#limits.maxPeers} peers`);
      }
      return { room, ...room.join(profile, channel) };
    }
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

  /** Closes every room (server shutdown). */
  closeAll(reason: CloseReason): void {
    this.#closed = true;
    for (const room of [...this.#rooms.values()]) room.close(reason);
    this.#log.info('closeAll() | all rooms closed', { reason });
  }
}
