/**
 * The admitting node's side of a relayed client (LiveKit's signal relay): the client's socket is
 * here, its room on another node. Admission (origin, connection rate, room id, token, rooms per
 * connection) already happened here; then `open` asks the room's node to start a session with the
 * verified credentials, and once it has, every event of the client goes there in arrival order,
 * and what comes back (acks by sequence number, notifications, the disconnect) goes to the client.
 * If the room's node dies, its clients here are told `roomClosed { reason: 'MEDIA_FAILURE' }` and
 * disconnected: the room is gone, the next join re-creates it on a live node.
 *
 * The two ends check that they agree, every heartbeat: this node pings each room's node with the
 * clients it relays there; the room's node answers which of them to cut (it holds no session for
 * them, or some of what it sent them was lost), and they are cut the way a network drop cuts them
 * (their SDK resumes, with a fresh view of the room). A room's node silent for two TTLs while
 * Redis works (alive, its record refreshed, but deaf) has its clients cut too. No client stays connected to a session that does not exist.
 */
import { HandshakeAuthSchema, type Ack, type CloseReason } from '../../shared/contract';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { RoomSocket } from '../signalling/types';
import type { ClusterBus } from './cluster-bus';
import { MAX_CONNS_PER_PING, type BusMessage, type NodeId } from './cluster-messages';

type AckFn = (response: Ack<unknown>) => void;

/** Arguments of a client's event relayed (the bus schema's bound). */
const MAX_RELAYED_ARGS = 16;
type Push = Extract<BusMessage, { type: 'relay:emit' | 'relay:disconnect' }>;

/** What `open` found: the relay is open, or the room is another node's now. */
export type OpenResult = { opened: true; connection: RelayConnection } | { opened: false; moved: NodeId };

export class RelayConnection {
  readonly conn: string;
  readonly host: NodeId;
  /** The room's node's process, once it answered (messages of another process of that id are not for this client). */
  hostInst: string | undefined;
  readonly #socket: RoomSocket;
  readonly #bus: ClusterBus;
  readonly #forget: () => void;
  readonly #acks = new Map<number, AckFn>();
  /** What the room's node sent before the socket was adopted (between admission and `connection`). */
  #early: Push[] | undefined = [];
  #seq = 0;
  #closed = false;

  constructor(conn: string, host: NodeId, hostInst: string | undefined, socket: RoomSocket, bus: ClusterBus, forget: () => void) {
    this.conn = conn;
    this.host = host;
    this.hostInst = hostInst;
    this.#socket = socket;
    this.#bus = bus;
    this.#forget = forget;
  }

  get socketId(): string {
    return this.#socket.id;
  }

  /** The socket is connected (socket.io's `connection`): from now on its events go to the room's node. */
  attach(): void {
    const socket = this.#socket;
    socket.onAny((event: unknown, ...args: unknown[]) => this.#forward(event, args));
    socket.on('disconnect', (reason) => this.#clientGone(reason));
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const push of early) this.push(push);
  }

  /** The client's socket never connected after admission (it went away meanwhile). */
  abandon(): void {
    if (this.#early) this.#clientGone('transport close');
  }

  push(message: Push): void {
    if (this.#closed) return;
    if (this.#early) return void this.#early.push(message);
    if (message.type === 'relay:emit') (this.#socket.emit as (e: string, p: unknown) => boolean)(message.event, message.payload);
    else this.#socket.disconnect(true);
  }

  ack(seq: number, response: Ack<unknown>): void {
    const ack = this.#acks.get(seq);
    if (!ack) return;
    this.#acks.delete(seq);
    try {
      ack(response);
    } catch {
      // socket.io may throw from the ack of a socket that just closed: nothing left to tell.
    }
  }

  /**
   * The client's connection is cut (a transport close, not a server disconnect), so its SDK
   * reconnects (through this or another node) and resumes: its room lives on. For this node's
   * shutdown, and when the two ends may no longer agree on the client's state.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#early) return this.#clientGone('server shutting down');
    this.#socket.conn.close();
  }

  /** The room's node is gone: its rooms are too. */
  hostGone(reason: CloseReason): void {
    if (this.#closed) return;
    if (this.#early) return this.#clientGone('transport close');
    this.#socket.emit('roomClosed', { reason });
    this.#socket.disconnect(true);
  }

  #forward(event: unknown, args: unknown[]): void {
    if (this.#closed) return;
    const last = args.length > 0 ? args[args.length - 1] : undefined;
    let seq: number | null = null;
    if (typeof last === 'function') {
      args.pop();
      seq = this.#seq++;
      this.#acks.set(seq, last as AckFn);
    }
    // Anything else than a string or a number cannot be an event name: sent as one the session refuses.
    const name = typeof event === 'string' || typeof event === 'number' ? event : `<${typeof event}>`;
    // A session reads only the first argument (the payload); a bounded number goes along.
    const message = { type: 'relay:event' as const, conn: this.conn, seq, event: name, args: args.slice(0, MAX_RELAYED_ARGS) };
    void this.#bus.send(this.host, message, this.hostInst).then((delivered) => {
      // The room's node never got it: the request fails now, retryable, rather than at the client's deadline.
      if (!delivered && seq !== null)
        this.ack(seq, { ok: false, error: { code: 'UNAVAILABLE', message: "the room's node is unreachable" } });
    });
  }

  #clientGone(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#acks.clear();
    this.#forget();
    void this.#bus.send(this.host, { type: 'relay:closed', conn: this.conn, reason: reason.slice(0, 64) }, this.hostInst);
  }
}

export class RelayEdge {
  readonly #bus: ClusterBus;
  readonly #openTimeoutMs: number;
  readonly #ttlMs: number;
  readonly #log: Logger;
  readonly #connections = new Map<string, RelayConnection>();
  readonly #opening = new Map<string, (message: Extract<BusMessage, { type: 'relay:opened' }>) => void>();
  /** When each room's node was last heard from (monotonic ms): its answer to a ping, or to an open. */
  readonly #heard = new Map<NodeId, number>();

  constructor(bus: ClusterBus, openTimeoutMs: number, ttlMs: number, logger: Logger) {
    this.#bus = bus;
    this.#openTimeoutMs = openTimeoutMs;
    this.#ttlMs = ttlMs;
    this.#log = logger.child({ component: 'relay-edge' });
    bus.on('relay:opened', (message) => this.#opening.get(message.conn)?.(message));
    bus.on('relay:ack', ({ conn, from, inst, seq, response }) => this.#of(conn, from, inst)?.ack(seq, response));
    bus.on('relay:emit', (message) => this.#of(message.conn, message.from, message.inst)?.push(message));
    bus.on('relay:disconnect', (message) => this.#of(message.conn, message.from, message.inst)?.push(message));
    bus.on('relay:pong', (message) => this.#pong(message));
  }

  /** Relayed clients on this node. */
  get size(): number {
    return this.#connections.size;
  }

  /**
   * Asks `host` (its process `hostInst`, when known) to serve this admitted socket. Throws an
   * AppError (the connection is refused with its code) when the host does not answer in time
   * (UNAVAILABLE, retryable), is gone, or refuses.
   */
  async open(socket: RoomSocket, host: NodeId, hostInst?: string): Promise<OpenResult> {
    const conn = `${this.#bus.self}/${socket.id}`;
    let settle: (message: Extract<BusMessage, { type: 'relay:opened' }> | undefined) => void = () => undefined;
    const answer = new Promise<Extract<BusMessage, { type: 'relay:opened' }> | undefined>((resolve) => {
      const timer = setTimeout(() => settle(undefined), this.#openTimeoutMs);
      settle = (message) => {
        clearTimeout(timer);
        this.#opening.delete(conn);
        resolve(message);
      };
      this.#opening.set(conn, (message) => {
        if (message.from === host && (hostInst === undefined || message.inst === hostInst)) settle(message);
      });
    });
    // Registered before asking: the host's first pushes may follow its answer closely.
    const connection = new RelayConnection(conn, host, hostInst, socket, this.#bus, () => this.#connections.delete(conn));
    this.#connections.set(conn, connection);
    if (!this.#heard.has(host)) this.#heard.set(host, performance.now());
    const { roomId, displayName, remoteAddress } = socket.data;
    // The raw token, not the credentials derived here: the room's node authenticates it itself.
    const token = HandshakeAuthSchema.safeParse(socket.handshake.auth).data?.token;
    const data = { roomId, displayName, remoteAddress, ...(typeof token === 'string' ? { token } : {}) };
    const delivered = await this.#bus.send(host, { type: 'relay:open', conn, data }, hostInst);
    if (!delivered) settle(undefined);
    const reply = await answer;
    if (!reply || reply.moved || reply.error) this.#connections.delete(conn);
    if (!delivered) throw new AppError('UNAVAILABLE', "the room's node is unreachable: try again in a moment");
    if (!reply) throw new AppError('UNAVAILABLE', `the room's node did not answer within ${this.#openTimeoutMs} ms: try again in a moment`);
    this.#heard.set(host, performance.now());
    if (reply.moved) return { opened: false, moved: reply.moved };
    if (reply.error) throw new AppError(reply.error.code, reply.error.message);
    connection.hostInst = reply.inst;
    // A socket that goes away before socket.io's `connection` never emits `disconnect`.
    socket.conn.once('close', () => connection.abandon());
    return { opened: true, connection };
  }

  /**
   * Every heartbeat: pings each room's node with the clients relayed there (those being opened
   * included); cuts the clients of a room's node not heard from for two TTLs if `redisSettled`
   * (this node has had Redis all that time: the silence is the other node's) and the registry
   * says it is alive (a dead one's clients are told MEDIA_FAILURE when it is reaped).
   */
  heartbeat(redisSettled: boolean, isLive: (nodeId: NodeId) => boolean): void {
    const byHost = new Map<NodeId, string[]>();
    /** The process each room's node answered from last (pings go to it only, not to a stale twin). */
    const instances = new Map<NodeId, string>();
    for (const connection of this.#connections.values()) {
      const conns = byHost.get(connection.host) ?? [];
      conns.push(connection.conn);
      byHost.set(connection.host, conns);
      if (connection.hostInst !== undefined) instances.set(connection.host, connection.hostInst);
    }
    const now = performance.now();
    // Silence while this node had no Redis of its own says nothing about the other node: counted from now.
    if (!redisSettled) for (const host of byHost.keys()) this.#heard.set(host, now);
    for (const [host, conns] of byHost) {
      if (redisSettled && isLive(host) && now - (this.#heard.get(host) ?? now) > 2 * this.#ttlMs) {
        this.#log.warn("heartbeat() | a room's node has not answered for two TTLs: its relayed clients are cut (they resume)", {
          node: host,
          clients: conns.length,
        });
        this.#heard.delete(host);
        for (const conn of conns) this.#connections.get(conn)?.close();
        continue;
      }
      const complete = conns.length <= MAX_CONNS_PER_PING;
      void this.#bus.send(host, { type: 'relay:ping', conns: conns.slice(0, MAX_CONNS_PER_PING), complete }, instances.get(host));
    }
    for (const host of this.#heard.keys()) if (!byHost.has(host)) this.#heard.delete(host);
  }

  /** A room's node (that process, or whichever when undefined) died: its clients here lose their room. */
  nodeGone(nodeId: NodeId, instance?: string): void {
    const lost = [...this.#connections.values()].filter(
      (c) => c.host === nodeId && (instance === undefined || c.hostInst === undefined || c.hostInst === instance),
    );
    for (const connection of lost) connection.hostGone('MEDIA_FAILURE');
    if (lost.length)
      this.#log.warn("nodeGone() | a room's node died: its relayed clients here are told MEDIA_FAILURE", {
        node: nodeId,
        clients: lost.length,
      });
  }

  /**
   * Relayed clients are cut (they reconnect and resume): on this node's shutdown, and when it was
   * taken for dead (the rooms' nodes dropped their sessions, which wait in their grace for them).
   */
  closeAll(): void {
    for (const connection of [...this.#connections.values()]) connection.close();
  }

  #pong({ from, inst, resync }: Extract<BusMessage, { type: 'relay:pong' }>): void {
    this.#heard.set(from, performance.now());
    let cut = 0;
    for (const conn of resync) {
      const connection = this.#connections.get(conn);
      if (connection?.host !== from) continue;
      // Pinned to another process of that node id: that process is gone, and the room with it.
      if (connection.hostInst !== undefined && connection.hostInst !== inst) connection.hostGone('MEDIA_FAILURE');
      else connection.close();
      cut++;
    }
    if (cut) this.#log.info("pong | the room's node asked to resync relayed clients: cut, they resume", { node: from, clients: cut });
  }

  #of(conn: string, from: NodeId, inst: string): RelayConnection | undefined {
    const connection = this.#connections.get(conn);
    return connection?.host === from && (connection.hostInst === undefined || connection.hostInst === inst) ? connection : undefined;
  }
}
