/**
 * Many nodes sharing rooms through Redis (REDIS_URL), LiveKit's way: a room lives on one node;
 * any node admits a client and, when the room is another node's, relays the client's signalling
 * to it (relay-edge.ts → relay-host.ts). Parts:
 *  - NodeRegistry: registration, heartbeat, load, who died;
 *  - RoomPlacement: atomic room claims (least-loaded live node);
 *  - ClusterBus: messages to one node (pub/sub on the socket.io adapter's Redis connections);
 *  - a socket.io server with no HTTP listener, whose Redis adapter gathers answers from every
 *    node at once (`serverSideEmitWithAck`: the admin API's room list);
 *  - RelayEdge / RelayHost: the two ends of a relayed client.
 * The room domain is reached through its ports only: the MediaPort is wrapped so that a room's
 * media opens only on the node holding its claim (two nodes never both host a room).
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import type { z } from 'zod';
import type { ClusterConfig } from '../config';
import { AppError } from '../errors';
import { LogSampler } from '../limits/log-sampler';
import type { Logger } from '../logger';
import type { BanStore } from '../rooms/bans';
import type { MediaPort } from '../rooms/ports';
import type { RoomManager } from '../rooms/room-manager';
import type { SessionSocket, RoomSocket } from '../signalling/types';
import type { RoomSummarySchema } from '../admin/admin-api';
import { ClusterBus, type RedisClient } from './cluster-bus';
import { clusterKeys, type ClusterKeys } from './cluster-keys';
import type { NodeId, NodeLoad } from './cluster-messages';
import { NodeRegistry } from './node-registry';
import { RelayEdge, type RelayConnection } from './relay-edge';
import { RedisBanStore } from './redis-bans';
import { RelayHost } from './relay-host';
import { RoomPlacement } from './room-placement';

/** How long an admitting node waits for the room's node to open a relayed session, and for an answer between nodes. */
const CLUSTER_REQUEST_TIMEOUT_MS = 5_000;
/** Times a connection follows a room that moved between the look-up and the room's node answering. */
const MAX_ROUTE_ATTEMPTS = 3;

type RoomSummary = z.input<typeof RoomSummarySchema>;

/** Events of the cluster's own socket.io server (no clients: node to node only). */
interface InterServerEvents {
  /** Each node answers with the summaries of the rooms it hosts. */
  listRooms: (ack: (rooms: RoomSummary[]) => void) => void;
}

export interface ClusterStartOptions {
  /** Where clients reach this node (registry, admin listing). */
  url: string;
  /** The address in this node's ICE candidates. */
  mediaAddress: string;
  rooms: RoomManager;
  /** This node's counts right now; CPU is the workers' total CPU seconds so far. */
  load(): Promise<Omit<NodeLoad, 'workerCpu'> & { workerCpuSeconds: number }>;
  /** Summaries of the rooms this node hosts (the admin API's, tagged with this node's id). */
  localRooms(): Promise<RoomSummary[]>;
  /** How long a connected client may take to join (a claim stays while one could still join). */
  joinTimeoutMs: number;
}

export interface ClusterStats {
  nodes: { active: number; draining: number };
  /** Clients admitted here whose room is elsewhere / clients of rooms here admitted elsewhere. */
  relayed: { out: number; in: number };
}

export class Cluster {
  readonly self: NodeId;
  readonly #config: ClusterConfig;
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #log: Logger;
  readonly #placement: RoomPlacement;
  readonly #bus: ClusterBus;
  readonly #edge: RelayEdge;
  #host: RelayHost | undefined;
  #registry: NodeRegistry | undefined;
  #io: Server<Record<string, never>, Record<string, never>, InterServerEvents> | undefined;
  #start: ClusterStartOptions | undefined;
  #openSession: ((socket: SessionSocket) => void) | undefined;
  /** Rooms whose media is being opened here. */
  readonly #opening = new Set<string>();
  /** When a client of each room was last routed to this node (it may still join). */
  readonly #routed = new Map<string, number>();
  /** Claims found unused at the last sweep: released if still unused at the next. */
  #unused = new Set<string>();
  #lastCpu: { seconds: number; at: number } | undefined;
  #closed = false;

  private constructor(config: ClusterConfig, pub: RedisClient, sub: RedisClient, logger: Logger) {
    this.self = config.nodeId;
    this.#config = config;
    this.#pub = pub;
    this.#sub = sub;
    this.#keys = clusterKeys(config.keyPrefix);
    this.#log = logger.child({ component: 'cluster', nodeId: config.nodeId });
    this.#placement = new RoomPlacement(pub, this.#keys, this.self);
    this.#bus = new ClusterBus(pub, sub, this.#keys, this.self, logger);
    this.#edge = new RelayEdge(this.#bus, CLUSTER_REQUEST_TIMEOUT_MS, logger);
  }

  /** Connects to Redis (failing the start when it cannot: a node outside its cluster must not serve). */
  static async connect(config: ClusterConfig, logger: Logger): Promise<Cluster> {
    const log = logger.child({ component: 'cluster' });
    // node-redis reconnects by itself; while Redis is away each failed attempt is an 'error'.
    const sampler = new LogSampler(6);
    const client = (role: string): RedisClient => {
      const redis: RedisClient = createClient({ url: config.redisUrl, socket: { connectTimeout: 5_000 } });
      redis.on('error', (error: unknown) =>
        sampler.sample(role, (suppressed) => log.error(`redis (${role}) | connection error`, { error, suppressed })),
      );
      return redis;
    };
    const pub = client('commands');
    const sub = client('subscriptions');
    try {
      await Promise.all([pub.connect(), sub.connect()]);
    } catch (error) {
      pub.destroy();
      sub.destroy();
      throw new Error(`cannot reach Redis at REDIS_URL: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return new Cluster(config, pub, sub, logger);
  }

  /** The room domain's media, opened only on the node holding the room's claim. */
  guardMedia(media: MediaPort): MediaPort {
    const openRoom: MediaPort['openRoom'] = async (roomId, events) => {
      this.#opening.add(roomId);
      try {
        const holder = await this.#placement.claimFor(roomId);
        if (holder !== this.self) {
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

  /** The cluster's bans, in Redis: every node checks the same ones. */
  banStore(): BanStore {
    return new RedisBanStore(this.#pub, this.#keys);
  }

  /** The signalling layer's session opener, for clients other nodes relay here. */
  serveRelayed(openSession: (socket: SessionSocket) => void): void {
    this.#openSession = openSession;
  }

  /** Registers this node and starts serving the cluster (after the HTTPS server and signalling are up). */
  async start(options: ClusterStartOptions): Promise<void> {
    this.#start = options;
    const openSession = this.#openSession;
    if (!openSession) throw new Error('Cluster.start() before serveRelayed()');
    this.#host = new RelayHost({
      bus: this.#bus,
      claim: async (roomId) => {
        const holder = await this.#placement.claimFor(roomId);
        if (holder !== this.self) return { hosted: false, holder };
        this.#routed.set(roomId, Date.now());
        return { hosted: true };
      },
      openSession,
      logger: this.#log,
    });
    this.#bus.serve('ping', () => 'pong');
    await this.#bus.start();

    this.#io = new Server({
      adapter: createAdapter(this.#pub, this.#sub, { key: this.#keys.adapter, requestsTimeout: CLUSTER_REQUEST_TIMEOUT_MS }),
    });
    this.#io.on('listRooms', (ack) => {
      options.localRooms().then(ack, (error: unknown) => this.#log.error("listRooms | could not list this node's rooms", { error }));
    });

    const registry = new NodeRegistry(this.#pub, {
      keys: this.#keys,
      self: { id: this.self, url: options.url, mediaAddress: options.mediaAddress },
      heartbeatMs: this.#config.heartbeatMs,
      ttlMs: this.#config.ttlMs,
      load: () => this.#load(),
      logger: this.#log,
    });
    registry.on('nodeDown', (nodeId) => this.#nodeDown(nodeId));
    registry.on('leaseLost', () => this.#leaseLost());
    this.#registry = registry;
    await registry.start();
    this.#sweepEvery(this.#config.heartbeatMs);
  }

  // ---- signalling --------------------------------------------------------------------------

  /**
   * After admission: where this client's room lives. undefined: here (a local session); else the
   * relay to the room's node, open. Places the room on the least-loaded live node if it has no
   * host. Throws AppError to refuse the connection.
   */
  async route(socket: RoomSocket): Promise<RelayConnection | undefined> {
    const roomId = socket.data.roomId;
    let host = await this.#place(roomId);
    for (let attempt = 1; attempt <= MAX_ROUTE_ATTEMPTS; attempt++) {
      if (host === this.self) {
        this.#routed.set(roomId, Date.now());
        return undefined;
      }
      const result = await this.#edge.open(socket, host);
      if (result.opened) return result.connection;
      host = result.moved;
    }
    throw new AppError('UNAVAILABLE', 'the room moved between nodes while connecting: try again');
  }

  // ---- admin -------------------------------------------------------------------------------

  /** The node hosting a room now, or undefined. */
  hostOf(roomId: string): Promise<NodeId | undefined> {
    return this.#placement.holder(roomId, (nodeId) => nodeId === this.self || (this.#registry?.isLive(nodeId) ?? false));
  }

  /** The node a new room goes to (claimed now). */
  place(roomId: string): Promise<NodeId> {
    return this.#place(roomId);
  }

  /** Calls `method` on another node (its bus handler). */
  call(nodeId: NodeId, method: string, params: unknown): Promise<unknown> {
    return this.#bus.request(nodeId, method, params, CLUSTER_REQUEST_TIMEOUT_MS);
  }

  /** Serves `method` for other nodes. */
  serve(method: string, handler: (params: unknown, from: NodeId) => unknown): void {
    this.#bus.serve(method, handler);
  }

  /** Every other node's rooms (the socket.io adapter's server-side emit, one answer per node). */
  async remoteRooms(): Promise<unknown[]> {
    const io = this.#io;
    if (!io) return [];
    try {
      const answers: unknown[] = await io.serverSideEmitWithAck('listRooms');
      return answers.flat();
    } catch (error) {
      throw new AppError('UNAVAILABLE', `not every node answered: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // ---- operations --------------------------------------------------------------------------

  stats(): ClusterStats {
    const nodes = { active: 0, draining: 0 };
    for (const node of this.#registry?.nodes ?? []) nodes[node.state]++;
    return { nodes, relayed: { out: this.#edge.size, in: this.#host?.size ?? 0 } };
  }

  get draining(): boolean {
    return this.#registry?.draining ?? false;
  }

  /**
   * Graceful drain (SIGTERM): this node takes no new rooms (others see it draining at once), and
   * its rooms go on until they end by themselves, at most `drainTimeoutMs`.
   */
  async drain(): Promise<void> {
    const rooms = this.#start?.rooms;
    if (!this.#registry || !rooms) return;
    await this.#registry.setDraining();
    const deadline = Date.now() + this.#config.drainTimeoutMs;
    this.#log.info("drain() | draining: no new rooms here; waiting for this node's rooms to end", {
      rooms: rooms.stats().rooms,
      drainTimeoutMs: this.#config.drainTimeoutMs,
    });
    while (rooms.stats().rooms > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = rooms.stats().rooms;
    if (left > 0) this.#log.warn('drain() | deadline reached: the rooms still open are closed', { rooms: left });
    else this.#log.info('drain() | every room of this node has ended');
  }

  /** Relayed clients are disconnected: those admitted here reconnect through another node and resume there. */
  disconnectRelayed(): void {
    this.#host?.closeAll();
    this.#edge.closeAll();
  }

  /** Deregisters (claims released at once), stops listening, closes the Redis connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    await this.#registry?.close();
    await this.#bus.close();
    // Not io.close(): this server never had an HTTP listener (engine) to close; only its adapter has subscriptions.
    await this.#io?.sockets.adapter.close();
    // close() sends what is queued first (the last relay messages), then quits.
    await Promise.all([this.#pub.close(), this.#sub.close()]).catch(() => undefined);
  }

  // ---- internals ---------------------------------------------------------------------------

  async #place(roomId: string): Promise<NodeId> {
    // node-redis keeps commands while Redis is away: a connecting client must not wait for it forever.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError('UNAVAILABLE', `Redis did not answer within ${CLUSTER_REQUEST_TIMEOUT_MS} ms`)),
        CLUSTER_REQUEST_TIMEOUT_MS,
      );
    });
    const host = await Promise.race([this.#placement.place(roomId), late]).finally(() => clearTimeout(timer));
    if (!host) throw new AppError('UNAVAILABLE', 'no node of the cluster can take a new room now');
    return host;
  }

  #sweepTimer: NodeJS.Timeout | undefined;

  /** Gives up, every interval, the claims this node holds but does not use (two sweeps in a row). */
  #sweepEvery(intervalMs: number): void {
    this.#sweepTimer = setInterval(() => {
      this.#placement.claimed().then(
        (claimed) => {
          const unused = new Set(claimed.filter((roomId) => !this.#inUse(roomId)));
          for (const roomId of unused) if (this.#unused.has(roomId)) void this.#release(roomId);
          this.#unused = unused;
          const stale = Date.now() - (this.#start?.joinTimeoutMs ?? 0);
          for (const [roomId, at] of this.#routed) if (at < stale) this.#routed.delete(roomId);
        },
        (error: unknown) => this.#log.warn("sweep | could not read this node's claims", { error }),
      );
    }, intervalMs);
  }

  /** A room is in use here while it is open or opening, has relayed clients, or a client routed here may still join. */
  #inUse(roomId: string): boolean {
    const room = this.#start?.rooms.rooms.get(roomId);
    if ((room && !room.closed) || this.#opening.has(roomId) || this.#host?.rooms().has(roomId)) return true;
    const routedAt = this.#routed.get(roomId);
    return routedAt !== undefined && Date.now() - routedAt < (this.#start?.joinTimeoutMs ?? 0);
  }

  #releaseIfUnused(roomId: string): void {
    if (!this.#closed && !this.#inUse(roomId)) void this.#release(roomId);
  }

  async #release(roomId: string): Promise<void> {
    try {
      if (await this.#placement.release(roomId)) this.#log.debug('room released', { roomId });
    } catch (error) {
      this.#log.warn('could not release a room claim (the sweep tries again)', { roomId, error });
    }
  }

  async #load(): Promise<NodeLoad> {
    const { workerCpuSeconds, ...counts } = (await this.#start?.load()) ?? { rooms: 0, peers: 0, consumers: 0, workerCpuSeconds: 0 };
    const now = Date.now();
    const last = this.#lastCpu;
    this.#lastCpu = { seconds: workerCpuSeconds, at: now };
    // A replaced worker starts its count again: a negative difference is taken as 0.
    const workerCpu = last && now > last.at ? Math.max(0, (workerCpuSeconds - last.seconds) / ((now - last.at) / 1000)) : 0;
    return { ...counts, workerCpu: Math.round(workerCpu * 1000) / 1000 };
  }

  #nodeDown(nodeId: NodeId): void {
    this.#bus.nodeGone(nodeId);
    this.#edge.nodeGone(nodeId);
    this.#host?.nodeGone(nodeId);
  }

  /**
   * Other nodes took this one for dead (or Redis lost its data): each room it still has is kept
   * if its claim can be taken back, and closed if another node hosts it now (never two hosts).
   */
  #leaseLost(): void {
    const rooms = this.#start?.rooms;
    if (!rooms) return;
    for (const room of [...rooms.rooms.values()]) {
      this.#placement.claimFor(room.id).then(
        (holder) => {
          if (holder === this.self) return;
          this.#log.error('room taken over by another node while this one was cut off: closed here', { roomId: room.id, holder });
          room.close('MEDIA_FAILURE');
        },
        (error: unknown) => {
          this.#log.error('could not take a room back after being cut off: closed here', { roomId: room.id, error });
          room.close('MEDIA_FAILURE');
        },
      );
    }
  }
}
