/**
 * This node's side of its room claims: a room's media opens only while this node holds the room's
 * claim (taken or re-asserted just before, atomically: two nodes never both open a room); a claim
 * is given up once the room has closed and no client routed here may still join; after this node
 * registered again (its record had expired, or Redis lost its data) it takes back the claims of the
 * rooms it still has, and closes those another node took meanwhile (their clients join again and
 * land in the other node's room).
 */
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { MediaPort } from '../rooms/ports';
import type { RoomManager } from '../rooms/room-manager';
import type { NodeId } from './cluster-messages';
import { withDeadline } from './redis-connection';
import type { RoomPlacement } from './room-placement';

export interface RoomClaimsOptions {
  placement: RoomPlacement;
  self: NodeId;
  /** How long one claim command may take before the caller is answered UNAVAILABLE. */
  commandTimeoutMs: number;
  logger: Logger;
}

export class RoomClaims {
  readonly #opts: RoomClaimsOptions;
  readonly #log: Logger;
  #rooms: RoomManager | undefined;
  /** Rooms with relayed clients here (the relay host's). */
  #relayedRooms: () => Set<string> = () => new Set();
  #joinTimeoutMs = 0;
  /** Rooms whose media is being opened here. */
  readonly #opening = new Set<string>();
  /** When a client of each room was last routed to this node (it may still join). */
  readonly #routed = new Map<string, number>();
  /** Claims found unused at the last sweep: released if still unused at the next. */
  #unused = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: RoomClaimsOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'room-claims' });
  }

  /** The room domain's media, opened only on the node holding the room's claim. */
  guardMedia(media: MediaPort): MediaPort {
    const openRoom: MediaPort['openRoom'] = async (roomId, events) => {
      this.#opening.add(roomId);
      try {
        const holder = await this.claimFor(roomId);
        if (holder === undefined) throw new AppError('UNAVAILABLE', 'this node is not registered in the cluster right now: try again');
        if (holder !== this.#opts.self) {
          throw new AppError('ROOM_CLOSED', `room ${roomId} is hosted by another node now: connect again`);
        }
        await media.openRoom(roomId, events);
      } finally {
        this.#opening.delete(roomId);
      }
    };
    const closeRoom: MediaPort['closeRoom'] = (roomId) => {
      media.closeRoom(roomId);
      // After the room left the manager's map (its close listeners run after this).
      setImmediate(() => this.#releaseIfUnused(roomId));
    };
    // A proxy rather than a copy: every other method of the port goes to the media as it is.
    return new Proxy(media, {
      get(target, property) {
        if (property === 'openRoom') return openRoom;
        if (property === 'closeRoom') return closeRoom;
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Starts sweeping every `intervalMs` (once the node serves). */
  start(rooms: RoomManager, relayedRooms: () => Set<string>, joinTimeoutMs: number, intervalMs: number): void {
    this.#rooms = rooms;
    this.#relayedRooms = relayedRooms;
    this.#joinTimeoutMs = joinTimeoutMs;
    this.#timer = setInterval(() => this.#sweep(), intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** This node takes the room unless a registered node holds it; the holder. UNAVAILABLE when Redis does not answer in time. */
  async claimFor(roomId: string): Promise<NodeId | undefined> {
    try {
      return await withDeadline(this.#opts.placement.claimFor(roomId), this.#opts.commandTimeoutMs);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError('UNAVAILABLE', `the cluster's Redis did not answer: try again in a moment`);
    }
  }

  /** A client of the room was routed here: the claim stays while it may still join. */
  routed(roomId: string): void {
    this.#routed.set(roomId, Date.now());
  }

  /** The room is open here (a client may be admitted without asking Redis). */
  isOpenHere(roomId: string): boolean {
    const room = this.#rooms?.rooms.get(roomId);
    return room !== undefined && !room.closed;
  }

  /**
   * After this node registered again: takes back the claims of the rooms it has; a room another node
   * took meanwhile is closed here with MEDIA_FAILURE (its clients join again, into the other node's).
   */
  async reclaim(): Promise<void> {
    const rooms = [...(this.#rooms?.rooms.values() ?? [])].filter((room) => !room.closed);
    await Promise.all(
      rooms.map(async (room) => {
        let holder: NodeId | undefined;
        try {
          holder = await this.claimFor(room.id);
        } catch (error) {
          // Redis failed again: the sweep checks the room's claim again.
          return this.#log.warn('reclaim() | could not take a room back now: the sweep tries again', { roomId: room.id, error });
        }
        // undefined: this node is not registered (again) yet; the sweep checks the claim again.
        if (holder === this.#opts.self || holder === undefined) return;
        this.#log.error('reclaim() | room taken over by another node while this one was away: closed here', { roomId: room.id, holder });
        room.close('MEDIA_FAILURE');
      }),
    );
  }

  /** Every room of this node ends with MEDIA_FAILURE (this process lost its NODE_ID): their clients join again elsewhere. */
  closeAll(): void {
    for (const room of [...(this.#rooms?.rooms.values() ?? [])]) if (!room.closed) room.close('MEDIA_FAILURE');
  }

  /**
   * Every interval: gives up the claims this node holds but does not use (two sweeps in a row), and
   * takes back the claim of a room open here that lacks one (closing it if another node holds it).
   */
  #sweep(): void {
    this.#opts.placement.claimed().then(
      (claimed) => {
        const held = new Set(claimed);
        const unclaimed = [...(this.#rooms?.rooms.values() ?? [])].filter((room) => !room.closed && !held.has(room.id));
        if (unclaimed.length) void this.#check(unclaimed);
        const unused = new Set(claimed.filter((roomId) => !this.#inUse(roomId)));
        for (const roomId of unused) if (this.#unused.has(roomId)) void this.#release(roomId);
        this.#unused = unused;
        const stale = Date.now() - this.#joinTimeoutMs;
        for (const [roomId, at] of this.#routed) if (at < stale) this.#routed.delete(roomId);
      },
      (error: unknown) => this.#log.debug("sweep | could not read this node's claims", { error }),
    );
  }

  /** Open rooms whose claim is not in this node's set: taken back, or closed if another node holds them. */
  async #check(rooms: Array<{ id: string; closed: boolean; close(reason: 'MEDIA_FAILURE'): void }>): Promise<void> {
    for (const room of rooms) {
      if (room.closed || this.#opening.has(room.id)) continue;
      // A failure, or no holder at all (this node is not registered right now): looked at again next time.
      const holder = await this.claimFor(room.id).catch(() => undefined);
      if (holder === undefined || holder === this.#opts.self || room.closed) continue;
      this.#log.error('sweep | room held by another node: closed here', { roomId: room.id, holder });
      room.close('MEDIA_FAILURE');
    }
  }

  /** A room is in use here while it is open or opening, has relayed clients, or a client routed here may still join. */
  #inUse(roomId: string): boolean {
    if (this.isOpenHere(roomId) || this.#opening.has(roomId) || this.#relayedRooms().has(roomId)) return true;
    const routedAt = this.#routed.get(roomId);
    return routedAt !== undefined && Date.now() - routedAt < this.#joinTimeoutMs;
  }

  #releaseIfUnused(roomId: string): void {
    if (!this.#stopped && !this.#inUse(roomId)) void this.#release(roomId);
  }

  async #release(roomId: string): Promise<void> {
    try {
      if (await this.#opts.placement.release(roomId)) this.#log.debug('room released', { roomId });
    } catch (error) {
      this.#log.warn('could not release a room claim (the sweep tries again)', { roomId, error });
    }
  }
}
