/**
 * Bans: identities an operator kicked out of a room, refused until the kicked access token
 * expires or an operator lifts the ban. Where they are kept is a port, so that every place that
 * admits a client can check: in memory on a single server (MemoryBanStore), in Redis in a cluster
 * (server/cluster/redis-bans.ts), where any node admitting a client and whichever node hosts the
 * room later read the same bans.
 */

export interface Ban {
  identity: string;
  /** When the ban ends by itself (ms since the epoch): the kicked token's expiry. */
  expiresAt: number;
}

export interface BanStore {
  /** Bans `ban.identity` from `roomId` (a later ban of the same identity replaces the earlier). */
  add(roomId: string, ban: Ban): Promise<void>;
  /** Lifts a ban; false when there was none in force. */
  remove(roomId: string, identity: string): Promise<boolean>;
  /** The ban in force on `identity` in `roomId`, if any. */
  find(roomId: string, identity: string): Promise<Ban | undefined>;
  /** The bans in force in `roomId`, soonest to end first. */
  list(roomId: string): Promise<Ban[]>;
}

/** How often, at most, an add also sweeps every room's expired bans (a room nobody asks about again keeps none). */
const SWEEP_INTERVAL_MS = 60_000;

/** One server's bans, in memory: they outlive the room (a room that closes and reopens keeps them) but not the process. */
export class MemoryBanStore implements BanStore {
  /** roomId → identity → expiresAt (ms). */
  readonly #rooms = new Map<string, Map<string, number>>();
  #sweptAt = Date.now();

  add(roomId: string, ban: Ban): Promise<void> {
    const now = Date.now();
    if (now - this.#sweptAt > SWEEP_INTERVAL_MS) {
      this.#sweptAt = now;
      for (const id of [...this.#rooms.keys()]) this.#live(id, now);
    }
    if (ban.expiresAt > now) {
      const bans = this.#rooms.get(roomId) ?? new Map<string, number>();
      bans.set(ban.identity, ban.expiresAt);
      this.#rooms.set(roomId, bans);
    }
    return Promise.resolve();
  }

  remove(roomId: string, identity: string): Promise<boolean> {
    const bans = this.#live(roomId, Date.now());
    const removed = bans?.delete(identity) ?? false;
    if (bans?.size === 0) this.#rooms.delete(roomId);
    return Promise.resolve(removed);
  }

  find(roomId: string, identity: string): Promise<Ban | undefined> {
    const expiresAt = this.#live(roomId, Date.now())?.get(identity);
    return Promise.resolve(expiresAt === undefined ? undefined : { identity, expiresAt });
  }

  list(roomId: string): Promise<Ban[]> {
    const bans = [...(this.#live(roomId, Date.now()) ?? [])].map(([identity, expiresAt]) => ({ identity, expiresAt }));
    return Promise.resolve(bans.sort((a, b) => a.expiresAt - b.expiresAt));
  }

  /** The room's bans still in force (expired ones dropped), or undefined when none are. */
  #live(roomId: string, now: number): Map<string, number> | undefined {
    const bans = this.#rooms.get(roomId);
    if (!bans) return undefined;
    for (const [identity, expiresAt] of bans) if (expiresAt <= now) bans.delete(identity);
    if (bans.size > 0) return bans;
    this.#rooms.delete(roomId);
    return undefined;
  }
}

/**
 * The bans of one open room, held by the Room itself: the ban store is what every admission
 * checks, and this copy makes a kick's ban hold at once, synchronously, for a join of the same
 * identity racing the kick on the room's node (the store's write may still be under way).
 */
export class RoomBans {
  /** identity → expiresAt (ms). */
  readonly #banned = new Map<string, number>();

  add(ban: Ban): void {
    this.#banned.set(ban.identity, ban.expiresAt);
  }

  has(identity: string): boolean {
    const expiresAt = this.#banned.get(identity);
    if (expiresAt === undefined) return false;
    if (expiresAt > Date.now()) return true;
    this.#banned.delete(identity);
    return false;
  }

  lift(identity: string): void {
    this.#banned.delete(identity);
  }
}
