/**
 * Many nodes sharing rooms through Redis (REDIS_URL), LiveKit's way: a room lives on one node;
 * any node admits a client and, when the room is another node's, relays the client's signalling
 * to it (relay-edge.ts → relay-host.ts). Parts:
 *  - NodeRegistry: registration with a lease, heartbeat, load, who died;
 *  - RoomPlacement / RoomClaims: atomic room claims (least-loaded live node), this node's own;
 *  - ClusterBus: signed messages to one node (pub/sub), and requests over them (the admin API's
 *    room list asks every live node);
 *  - RelayEdge / RelayHost: the two ends of a relayed client, which check each heartbeat that
 *    they agree on their clients.
 * The room domain is reached through its ports only: the MediaPort is wrapped so that a room's
 * media opens only on the node holding its claim (two nodes never both host a room).
 *
 * Faults (README "Scaling out"): a node whose lease lapsed holds what other nodes send it until
 * it knows whether it still holds it; registered again after being taken for dead, it closes the
 * rooms others took and has its relayed clients resume; evicted (another process has its
 * NODE_ID), it stops serving. While Redis is away, rooms open here keep admitting and resuming
 * their clients; new rooms and relays are answered UNAVAILABLE (retryable) at once.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Credentials } from '../auth/authenticator';
import type { ClusterConfig } from '../config';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { BanStore } from '../rooms/bans';
import type { MediaPort } from '../rooms/ports';
import type { RoomManager } from '../rooms/room-manager';
import type { SessionSocket, RoomSocket } from '../signalling/types';
import type { RoomSummarySchema } from '../admin/admin-api';
import { ClusterBus, type BusRejection, type RedisClient } from './cluster-bus';
import { clusterKeys, type ClusterKeys } from './cluster-keys';
import type { BusMessage, NodeId, NodeLoad } from './cluster-messages';
import { ClusterSigner } from './cluster-signing';
import { NodeRegistry } from './node-registry';
import { connectRedis, withDeadline } from './redis-connection';
import { RelayEdge, type RelayConnection } from './relay-edge';
import { RedisBanStore } from './redis-bans';
import { RelayHost } from './relay-host';
import { RoomClaims } from './room-claims';
import { RoomPlacement } from './room-placement';

/** How long an admitting node waits for the room's node to open a relayed session, and for an answer between nodes. */
const CLUSTER_REQUEST_TIMEOUT_MS = 5_000;
/** How long a client's connection waits for Redis (placement, claims) before it is answered UNAVAILABLE. */
const REDIS_WAIT_MS = 2_000;
/** Times a connection follows a room that moved between the look-up and the room's node answering. */
const MAX_ROUTE_ATTEMPTS = 3;

type RoomSummary = z.input<typeof RoomSummarySchema>;

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
  /** This node's verdict on a relayed client's token (signalling's Authenticator). */
  authenticate(token: string | undefined, roomId: string): Promise<Credentials>;
}

export interface ClusterStats {
  /** Live nodes as of the last heartbeat; only this one while Redis is away (it knows no more). */
  nodes: { active: number; draining: number };
  /** Clients admitted here whose room is elsewhere / clients of rooms here admitted elsewhere. */
  relayed: { out: number; in: number };
  /** What this node refused to believe from Redis: bus messages by reason, and node records not signed by this cluster. */
  rejected: { messages: Readonly<Record<BusRejection, number>>; records: number };
  /** Redis answered this node's last heartbeat. */
  redisUp: boolean;
}

export class Cluster {
  readonly self: NodeId;
  readonly #config: ClusterConfig;
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #log: Logger;
  readonly #placement: RoomPlacement;
  readonly #claims: RoomClaims;
  readonly #signer: ClusterSigner;
  readonly #bus: ClusterBus;
  readonly #edge: RelayEdge;
  #host: RelayHost | undefined;
  #registry: NodeRegistry | undefined;
  #start: ClusterStartOptions | undefined;
  #openSession: ((socket: SessionSocket) => void) | undefined;
  readonly #evictedListeners: Array<() => void> = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #lastCpu: { seconds: number; at: number } | undefined;
  #closed = false;

  private constructor(config: ClusterConfig, pub: RedisClient, sub: RedisClient, logger: Logger) {
    this.self = config.nodeId;
    this.#config = config;
    this.#pub = pub;
    this.#sub = sub;
    this.#keys = clusterKeys(config.keyPrefix);
    this.#log = logger.child({ component: 'cluster', nodeId: config.nodeId });
    this.#signer = new ClusterSigner(config.secret);
    this.#placement = new RoomPlacement(pub, this.#keys, this.self, config.ttlMs);
    this.#claims = new RoomClaims({ placement: this.#placement, self: this.self, commandTimeoutMs: REDIS_WAIT_MS, logger: this.#log });
    const identity = { nodeId: this.self, instance: randomBytes(12).toString('base64url') };
    this.#bus = new ClusterBus(pub, sub, this.#keys, identity, this.#signer, logger);
    this.#edge = new RelayEdge(this.#bus, CLUSTER_REQUEST_TIMEOUT_MS, config.ttlMs, logger);
  }

  /** Connects to Redis (failing the start, ConfigError, when it cannot: a node outside its cluster must not serve). */
  static async connect(config: ClusterConfig, logger: Logger): Promise<Cluster> {
    const { pub, sub } = await connectRedis(config.redisUrl, CLUSTER_REQUEST_TIMEOUT_MS, logger);
    return new Cluster(config, pub, sub, logger);
  }

  /** The room domain's media, opened only on the node holding the room's claim. */
  guardMedia(media: MediaPort): MediaPort {
    return this.#claims.guardMedia(media);
  }

  /** The cluster's bans, in Redis: every node checks the same ones. */
  banStore(): BanStore {
    return new RedisBanStore(this.#pub, this.#keys);
  }

  /** The signalling layer's session opener, for clients other nodes relay here. */
  serveRelayed(openSession: (socket: SessionSocket) => void): void {
    this.#openSession = openSession;
  }

  /** Called once if another process takes this NODE_ID (this one stalled past its lease): this process must stop. */
  onEvicted(listener: () => void): void {
    this.#evictedListeners.push(listener);
  }

  /** Registers this node and starts serving the cluster (after the HTTPS server and signalling are up). */
  async start(options: ClusterStartOptions): Promise<void> {
    this.#start = options;
    const openSession = this.#openSession;
    if (!openSession) throw new Error('Cluster.start() before serveRelayed()');
    const claims = this.#claims;
    const host = new RelayHost({
      bus: this.#bus,
      claim: async (roomId) => {
        const holder = await claims.claimFor(roomId);
        if (holder === undefined) throw new AppError('UNAVAILABLE', 'this node is not registered in the cluster right now');
        if (holder !== this.self) return { hosted: false, holder };
        claims.routed(roomId);
        return { hosted: true };
      },
      authenticate: (token, roomId) => options.authenticate(token, roomId),
      openSession,
      currentInstance: (nodeId) => this.#registry?.instanceOf(nodeId),
      logger: this.#log,
    });
    this.#host = host;
    this.#bus.serve('ping', () => 'pong');
    this.#bus.serve('listRooms', () => options.localRooms());
    this.#bus.on('node:down', (message) => this.#toldDead(message));
    await this.#bus.start();

    const registry = new NodeRegistry(this.#pub, {
      keys: this.#keys,
      self: { id: this.self, url: options.url, mediaAddress: options.mediaAddress },
      instance: this.#bus.instance,
      heartbeatMs: this.#config.heartbeatMs,
      ttlMs: this.#config.ttlMs,
      load: () => this.#load(),
      signer: this.#signer,
      logger: this.#log,
    });
    registry.on('nodeDown', (nodeId, instance) => this.#nodeDown(nodeId, instance));
    // Until the lease is confirmed, nothing another node asks is acted on (it may be another's now).
    registry.on('leaseLapsed', () => this.#bus.hold());
    registry.on('leaseRenewed', () => this.#bus.release(true));
    registry.on('registeredAgain', (info) => void this.#registeredAgain(info));
    registry.on('evicted', () => this.#evicted());
    this.#registry = registry;
    // Back from a Redis outage: confirm the lease at once rather than at the next heartbeat.
    this.#pub.on('ready', () => void registry.beat());
    await registry.start();
    this.#bus.setGate({ canAct: () => registry.leaseValid, onHold: () => registry.checkLease() });
    claims.start(options.rooms, () => host.rooms(), options.joinTimeoutMs, this.#config.heartbeatMs);
    this.#heartbeat = setInterval(() => {
      this.#edge.heartbeat(registry.settled, (nodeId) => registry.isLive(nodeId));
      host.heartbeat(registry.settled, this.#config.ttlMs);
    }, this.#config.heartbeatMs);
  }

  // ---- signalling --------------------------------------------------------------------------

  /**
   * After admission: where this client's room lives. undefined: here (a local session); else the
   * relay to the room's node, open. A room open here is served without asking Redis (its clients
   * join and resume while Redis is away); otherwise the room is placed on the least-loaded live
   * node if it has no host. Throws AppError to refuse the connection (UNAVAILABLE: try again).
   */
  async route(socket: RoomSocket): Promise<RelayConnection | undefined> {
    const roomId = socket.data.roomId;
    const registry = this.#registry;
    if (!registry || registry.evicted) throw new AppError('UNAVAILABLE', 'this node is leaving the cluster: connect again');
    if (this.#claims.isOpenHere(roomId)) {
      this.#claims.routed(roomId);
      return undefined;
    }
    if (!registry.redisUp) throw new AppError('UNAVAILABLE', "the cluster's Redis does not answer: try again in a moment");
    // After a stall: this node must know it still holds its lease before it places anything.
    if (!registry.leaseValid) await registry.beat();
    if (!registry.leaseValid) throw new AppError('UNAVAILABLE', 'this node is rejoining the cluster: try again in a moment');
    let host = await this.#place(roomId);
    for (let attempt = 1; attempt <= MAX_ROUTE_ATTEMPTS; attempt++) {
      if (host === this.self) {
        this.#claims.routed(roomId);
        return undefined;
      }
      const result = await this.#edge.open(socket, host, registry.instanceOf(host));
      if (result.opened) return result.connection;
      host = result.moved;
    }
    throw new AppError('UNAVAILABLE', 'the room moved between nodes while connecting: try again');
  }

  // ---- admin -------------------------------------------------------------------------------

  /** The node hosting a room now, or undefined. */
  async hostOf(roomId: string): Promise<NodeId | undefined> {
    if (this.#claims.isOpenHere(roomId)) return this.self;
    this.#requireRedis();
    return this.#redisAnswer(this.#placement.holder(roomId, (nodeId) => nodeId === this.self || (this.#registry?.isLive(nodeId) ?? false)));
  }

  /** The node a new room goes to (claimed now). */
  place(roomId: string): Promise<NodeId> {
    this.#requireRedis();
    return this.#place(roomId);
  }

  /** Calls `method` on another node (its bus handler). */
  call(nodeId: NodeId, method: string, params: unknown): Promise<unknown> {
    this.#requireRedis();
    return this.#bus.request(nodeId, method, params, CLUSTER_REQUEST_TIMEOUT_MS);
  }

  /** Serves `method` for other nodes. */
  serve(method: string, handler: (params: unknown, from: NodeId) => unknown): void {
    this.#bus.serve(method, handler);
  }

  /** Every other live node's rooms (a signed request to each; one that does not answer fails the listing). */
  async remoteRooms(): Promise<unknown[]> {
    this.#requireRedis();
    const others = (this.#registry?.nodes ?? []).filter((node) => node.id !== this.self);
    const answers = await Promise.all(
      others.map((node) =>
        this.#bus.request(node.id, 'listRooms', {}, CLUSTER_REQUEST_TIMEOUT_MS).catch((error: unknown) => {
          throw new AppError(
            'UNAVAILABLE',
            `node ${node.id} did not list its rooms: ${error instanceof Error ? error.message : String(error)}`,
          );
        }),
      ),
    );
    return answers.flatMap((answer): unknown[] => (Array.isArray(answer) ? (answer as unknown[]) : [answer]));
  }

  // ---- operations --------------------------------------------------------------------------

  stats(): ClusterStats {
    const nodes = { active: 0, draining: 0 };
    for (const node of this.#registry?.nodes ?? []) nodes[node.state]++;
    return {
      nodes,
      relayed: { out: this.#edge.size, in: this.#host?.size ?? 0 },
      rejected: { messages: this.#bus.rejected, records: this.#registry?.rejectedRecords ?? 0 },
      redisUp: this.redisUp,
    };
  }

  get draining(): boolean {
    return this.#registry?.draining ?? false;
  }

  /** Redis answered this node's last heartbeat (readiness: not ready while it does not). */
  get redisUp(): boolean {
    return this.#registry?.redisUp ?? false;
  }

  /**
   * Graceful drain (SIGTERM): this node takes no new rooms (others see it draining at once, when
   * Redis answers: the drain never waits for it), and its rooms go on until they end by themselves,
   * at most `drainTimeoutMs`.
   */
  async drain(): Promise<void> {
    const rooms = this.#start?.rooms;
    if (!this.#registry || !rooms) return;
    await this.#registry.setDraining();
    const deadline = Date.now() + this.#config.drainTimeoutMs;
    this.#log.info("drain() | draining: no new rooms here; waiting for this node's rooms to end", {
      rooms: rooms.stats().rooms,
      drainTimeoutMs: this.#config.drainTimeoutMs,
      redisUp: this.redisUp,
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

  /** Deregisters (claims released at once), stops listening, closes the Redis connections. Idempotent; bounded without Redis. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#claims.stop();
    await this.#registry?.close();
    await withDeadline(this.#bus.close(), REDIS_WAIT_MS).catch(() => undefined);
    // close() sends what is queued first (the last relay messages), then quits; a Redis that does not answer is cut.
    await withDeadline(Promise.all([this.#pub.close(), this.#sub.close()]), REDIS_WAIT_MS).catch(() => {
      this.#pub.destroy();
      this.#sub.destroy();
    });
  }

  // ---- internals ---------------------------------------------------------------------------

  #requireRedis(): void {
    if (!this.redisUp) throw new AppError('UNAVAILABLE', "the cluster's Redis does not answer: try again in a moment");
  }

  /** A Redis answer within REDIS_WAIT_MS, else UNAVAILABLE (node-redis would wait for a stalled Redis forever). */
  async #redisAnswer<T>(command: Promise<T>): Promise<T> {
    try {
      return await withDeadline(command, REDIS_WAIT_MS);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError('UNAVAILABLE', `the cluster's Redis did not answer: try again in a moment`);
    }
  }

  async #place(roomId: string): Promise<NodeId> {
    const host = await this.#redisAnswer(this.#placement.place(roomId));
    if (!host) throw new AppError('UNAVAILABLE', 'no node of the cluster can take a new room now');
    return host;
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

  /** A node's process is gone: its relays end, and it is told, in case it is alive after all (stalled, cut off). */
  #nodeDown(nodeId: NodeId, instance: string | undefined): void {
    this.#bus.nodeGone(nodeId);
    this.#edge.nodeGone(nodeId, instance);
    this.#host?.nodeGone(nodeId, instance);
    if (instance) void this.#bus.send(nodeId, { type: 'node:down', node: nodeId, deadInst: instance }, instance);
  }

  /** Another node declared this one dead: the rooms' nodes dropped its relayed clients' sessions (they wait in their grace). */
  #toldDead({ from, node, deadInst }: Extract<BusMessage, { type: 'node:down' }>): void {
    if (node !== this.self || deadInst !== this.#bus.instance) return;
    this.#log.error('told by another node that this one was taken for dead: relayed clients resume, the lease is confirmed', { by: from });
    this.#edge.closeAll();
    void this.#registry?.beat();
  }

  /**
   * Registered again (its record had expired, or Redis lost its data): takes its rooms' claims back
   * (closing those another node took) before acting on what other nodes send; if it had been taken
   * for dead, its relayed clients resume (their sessions were dropped into their grace).
   */
  async #registeredAgain({ declaredDead }: { declaredDead: boolean; redisRestarted: boolean }): Promise<void> {
    this.#bus.hold();
    try {
      await this.#claims.reclaim();
      if (declaredDead) this.#edge.closeAll();
    } finally {
      this.#bus.release(true);
    }
  }

  /** Another process holds this NODE_ID: this one serves nobody any more, and its owner stops it. */
  #evicted(): void {
    this.#bus.release(false);
    this.#claims.stop();
    this.#claims.closeAll();
    this.#edge.closeAll();
    for (const listener of this.#evictedListeners.splice(0)) listener();
  }
}
