/**
 * The room's node side of a relayed client: for each client admitted by another node for a room
 * hosted here, a RelayedSocket stands in for its socket.io socket, and a SocketSession runs over
 * it exactly as for a local client (the same per-socket ordering, rate limit, validation,
 * handlers, quotas and grants). `relay:open` brings the client's token, name and address; this
 * node authenticates the token itself, with its own switches (ALLOW_PLAIN_TRANSPORTS off here
 * means no plain transport, whatever the admitting node allows), so grants never come from a
 * message. What the session sends — acks, notifications, the disconnect — goes back to the
 * admitting node, which hands it to the client.
 *
 * Liveness (see relay-edge.ts): the admitting node pings every heartbeat with the clients it relays
 * here. A session it no longer lists, or whose admitting node (that process) is gone or silent for
 * two TTLs while Redis works here, ends as a network drop ends it (its peer keeps its place for the
 * reconnect grace). A session some of whose messages could not be sent is named in the answer, so
 * that its client is cut and resumes with a fresh view.
 */
import type { NotificationMap, NotificationName } from '../../shared/contract';
import { AccessTokenError } from '../auth/access-token';
import type { Credentials } from '../auth/authenticator';
import type { Logger } from '../logger';
import type { SessionSocket, SocketData } from '../signalling/types';
import type { ClusterBus } from './cluster-bus';
import type { BusMessage, NodeId, OutgoingMessage } from './cluster-messages';

/** socket.io's reason when the server ends a socket itself. */
const SERVER_DISCONNECT = 'server namespace disconnect';
/** The reason given to the session when the node that admitted the client died. */
const EDGE_GONE = 'transport close';

/** A socket.io socket of another node, as a SocketSession here sees it. */
export class RelayedSocket implements SessionSocket {
  readonly id: string;
  readonly data: SocketData;
  readonly edge: NodeId;
  /** The admitting node's process. */
  readonly edgeInst: string;
  /** Something this session sent did not reach the admitting node: its client must resync. */
  lost = false;
  readonly #bus: ClusterBus;
  readonly #onGone: () => void;
  #anyListener: ((event: unknown, ...args: unknown[]) => void) | undefined;
  readonly #disconnectListeners: Array<(reason: string) => void> = [];
  #connected = true;

  constructor(conn: string, edge: NodeId, edgeInst: string, data: SocketData, bus: ClusterBus, onGone: () => void) {
    this.id = conn;
    this.edge = edge;
    this.edgeInst = edgeInst;
    this.data = data;
    this.#bus = bus;
    this.#onGone = onGone;
  }

  onAny(listener: (event: unknown, ...args: unknown[]) => void): void {
    this.#anyListener = listener;
  }

  on(_event: 'disconnect', listener: (reason: string) => void): void {
    this.#disconnectListeners.push(listener);
  }

  emit(event: NotificationName, payload: NotificationMap[NotificationName]): void {
    if (!this.#connected) return;
    this.#send({ type: 'relay:emit', conn: this.id, event, payload: { ...payload } });
  }

  /** The session ends the connection: the admitting node disconnects the client. */
  disconnect(): void {
    if (!this.#connected) return;
    this.#send({ type: 'relay:disconnect', conn: this.id });
    this.#closed(SERVER_DISCONNECT);
  }

  #send(message: OutgoingMessage): void {
    void this.#bus.send(this.edge, message, this.edgeInst).then((delivered) => {
      if (!delivered) this.lost = true;
    });
  }

  /** An event the client sent, as socket.io would deliver it (the ack function last). */
  deliver(event: string | number, args: unknown[], seq: number | null): void {
    if (!this.#connected) return;
    const ack =
      seq === null ? [] : [(response: unknown) => this.#send({ type: 'relay:ack', conn: this.id, seq, response: response as never })];
    this.#anyListener?.(event, ...args, ...ack);
  }

  /** The client's connection ended (on its node), or its node died. */
  #closed(reason: string): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#onGone();
    for (const listener of this.#disconnectListeners) listener(reason);
  }

  clientGone(reason: string): void {
    this.#closed(reason);
  }
}

export interface RelayHostOptions {
  bus: ClusterBus;
  /**
   * Whether this node hosts `roomId` (taking it when nobody does); else the node that does.
   * A client is served here only while its room is this node's.
   */
  claim(roomId: string): Promise<{ hosted: true } | { hosted: false; holder?: NodeId }>;
  /** This node's own verdict on a client's token for a room (its Authenticator); throws AccessTokenError. */
  authenticate(token: string | undefined, roomId: string): Promise<Credentials>;
  /** Starts a session over a relayed socket (the signalling layer's). */
  openSession(socket: SessionSocket): void;
  /** The process a node's record names now (the registry's view), if known. */
  currentInstance(nodeId: NodeId): string | undefined;
  logger: Logger;
}

export class RelayHost {
  readonly #opts: RelayHostOptions;
  readonly #log: Logger;
  readonly #sockets = new Map<string, RelayedSocket>();
  /** Connections whose relay:open is being handled (not unknown to a ping meanwhile). */
  readonly #opening = new Set<string>();
  /** When each admitting node (id/process) last pinged (monotonic ms). */
  readonly #pinged = new Map<string, number>();

  constructor(opts: RelayHostOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'relay-host' });
    const { bus } = opts;
    bus.on('relay:open', (message) => {
      this.#opening.add(message.conn);
      this.#open(message)
        .catch((error: unknown) => this.#log.error('relay:open failed', { from: message.from, conn: message.conn, error }))
        .finally(() => this.#opening.delete(message.conn));
    });
    bus.on('relay:event', ({ conn, from, inst, event, args, seq }) => this.#owned(conn, from, inst)?.deliver(event, args, seq));
    bus.on('relay:closed', ({ conn, from, inst, reason }) => this.#owned(conn, from, inst)?.clientGone(reason));
    bus.on('relay:ping', (message) => this.#ping(message));
  }

  /** Relayed clients served here. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Rooms with relayed clients here. */
  rooms(): Set<string> {
    return new Set([...this.#sockets.values()].map((socket) => socket.data.roomId));
  }

  /**
   * An admitting node (that process, or whichever when undefined) died: its clients' connections are
   * gone (their peers get the reconnect grace).
   */
  nodeGone(nodeId: NodeId, instance?: string): void {
    const count = this.#drop((socket) => socket.edge === nodeId && (instance === undefined || socket.edgeInst === instance));
    if (count)
      this.#log.warn('nodeGone() | the node that relayed these clients died: they are disconnected', { node: nodeId, clients: count });
  }

  /** Every heartbeat: sessions of admitting nodes silent for two TTLs end, if `redisSettled` (the silence is theirs). */
  heartbeat(redisSettled: boolean, ttlMs: number): void {
    const now = performance.now();
    // Silence while this node had no Redis of its own says nothing about the admitting node: counted from now.
    if (!redisSettled) {
      for (const key of this.#pinged.keys()) this.#pinged.set(key, now);
      return;
    }
    const silent = (socket: RelayedSocket) => now - (this.#pinged.get(`${socket.edge}/${socket.edgeInst}`) ?? now) > 2 * ttlMs;
    const count = this.#drop(silent);
    if (count)
      this.#log.warn('heartbeat() | admitting nodes silent for two TTLs: their relayed clients here are disconnected', { clients: count });
    for (const key of this.#pinged.keys()) {
      if (![...this.#sockets.values()].some((socket) => `${socket.edge}/${socket.edgeInst}` === key)) this.#pinged.delete(key);
    }
  }

  /** Shutdown: every relayed client is disconnected (after the rooms told them why). */
  closeAll(): void {
    for (const socket of [...this.#sockets.values()]) socket.disconnect();
  }

  #drop(which: (socket: RelayedSocket) => boolean): number {
    let count = 0;
    for (const socket of [...this.#sockets.values()]) {
      if (!which(socket)) continue;
      socket.clientGone(EDGE_GONE);
      count++;
    }
    return count;
  }

  #owned(conn: string, from: NodeId, inst: string): RelayedSocket | undefined {
    const socket = this.#sockets.get(conn);
    return socket?.edge === from && socket.edgeInst === inst ? socket : undefined;
  }

  /** What an admitting node relays here now: sessions it no longer lists end; it learns which of its clients to cut. */
  #ping({ from, inst, conns, complete }: Extract<BusMessage, { type: 'relay:ping' }>): void {
    // Not the process the registry names (a stale twin, or a successor not seen yet): nothing is inferred from it.
    const current = this.#opts.currentInstance(from);
    if (current !== undefined && current !== inst) return;
    this.#pinged.set(`${from}/${inst}`, performance.now());
    const listed = new Set(conns);
    const resync: string[] = [];
    for (const conn of conns) {
      const socket = this.#sockets.get(conn);
      if (socket?.edge === from && socket.edgeInst === inst) {
        if (!socket.lost) continue;
        socket.lost = false;
        resync.push(conn);
      } else if (!this.#opening.has(conn)) {
        resync.push(conn);
      }
    }
    // Its older process's clients (when the registry knows this one is current), and those it no longer
    // relays (their relay:closed was lost), are gone.
    const gone = this.#drop(
      (socket) => socket.edge === from && (socket.edgeInst === inst ? complete && !listed.has(socket.id) : current !== undefined),
    );
    if (gone) this.#log.info('ping | relayed clients the admitting node no longer has: disconnected', { node: from, clients: gone });
    void this.#opts.bus.send(from, { type: 'relay:pong', resync }, inst);
  }

  async #open({ conn, from, inst, data }: Extract<BusMessage, { type: 'relay:open' }>): Promise<void> {
    const { bus } = this.#opts;
    const reply = (answer: Omit<Extract<OutgoingMessage, { type: 'relay:opened' }>, 'type' | 'conn'>) =>
      void bus.send(from, { type: 'relay:opened', conn, ...answer }, inst);
    // A connection id is `<admitting node>/<socket id>`: one node cannot speak for another's clients.
    if (!conn.startsWith(`${from}/`) || this.#sockets.has(conn)) {
      this.#log.warn('relay:open refused: bad or reused connection id', { from, conn });
      return reply({ error: { code: 'BAD_REQUEST', message: 'bad connection id' } });
    }
    let credentials: Credentials;
    try {
      credentials = await this.#opts.authenticate(data.token, data.roomId);
    } catch (error) {
      if (!(error instanceof AccessTokenError)) throw error;
      this.#log.warn('relay:open refused: the token does not pass here', { from, roomId: data.roomId, problem: error.problem });
      return reply({ error: { code: 'UNAUTHORIZED', message: error.message.slice(0, 200) } });
    }
    let claim: Awaited<ReturnType<RelayHostOptions['claim']>>;
    try {
      claim = await this.#opts.claim(data.roomId);
    } catch (error) {
      this.#log.error('relay:open failed: placement', { roomId: data.roomId, error });
      return reply({ error: { code: 'UNAVAILABLE', message: 'room placement failed: try again in a moment' } });
    }
    if (!claim.hosted) {
      // The room went to another node between the admitting node's look-up and now.
      return reply({
        error: { code: 'ROOM_CLOSED', message: 'the room is hosted by another node' },
        ...(claim.holder ? { moved: claim.holder } : {}),
      });
    }
    const socketData = { roomId: data.roomId, displayName: data.displayName, credentials, remoteAddress: data.remoteAddress };
    const socket = new RelayedSocket(conn, from, inst, socketData, bus, () => this.#sockets.delete(conn));
    this.#sockets.set(conn, socket);
    const key = `${from}/${inst}`;
    if (!this.#pinged.has(key)) this.#pinged.set(key, performance.now());
    // Sent before anything the session may send: the admitting node adopts the client first.
    reply({});
    this.#opts.openSession(socket);
    this.#log.debug('relayed client opened', { roomId: data.roomId, conn, from });
  }
}
