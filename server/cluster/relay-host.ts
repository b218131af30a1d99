/**
 * The room's node side of a relayed client: for each client admitted by another node for a room
 * hosted here, a RelayedSocket stands in for its socket.io socket, and a SocketSession runs over
 * it exactly as for a local client (the same per-socket ordering, rate limit, validation,
 * handlers, quotas and grants; the admitting node's verified credentials and the client's remote
 * address come with `relay:open`). What the session sends — acks, notifications, the disconnect —
 * goes back to the admitting node, which hands it to the client.
 */
import type { NotificationMap, NotificationName } from '../../shared/contract';
import type { Logger } from '../logger';
import type { SessionSocket, SocketData } from '../signalling/types';
import type { ClusterBus } from './cluster-bus';
import type { BusMessage, NodeId } from './cluster-messages';

/** socket.io's reason when the server ends a socket itself. */
const SERVER_DISCONNECT = 'server namespace disconnect';
/** The reason given to the session when the node that admitted the client died. */
const EDGE_GONE = 'transport close';

/** A socket.io socket of another node, as a SocketSession here sees it. */
export class RelayedSocket implements SessionSocket {
  readonly id: string;
  readonly data: SocketData;
  readonly edge: NodeId;
  readonly #bus: ClusterBus;
  readonly #onGone: () => void;
  #anyListener: ((event: unknown, ...args: unknown[]) => void) | undefined;
  readonly #disconnectListeners: Array<(reason: string) => void> = [];
  #connected = true;

  constructor(conn: string, edge: NodeId, data: SocketData, bus: ClusterBus, onGone: () => void) {
    this.id = conn;
    this.edge = edge;
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
    void this.#bus.send(this.edge, { type: 'relay:emit', conn: this.id, event, payload: { ...payload } });
  }

  /** The session ends the connection: the admitting node disconnects the client. */
  disconnect(): void {
    if (!this.#connected) return;
    void this.#bus.send(this.edge, { type: 'relay:disconnect', conn: this.id });
    this.#closed(SERVER_DISCONNECT);
  }

  /** An event the client sent, as socket.io would deliver it (the ack function last). */
  deliver(event: string | number, args: unknown[], seq: number | null): void {
    if (!this.#connected) return;
    const ack =
      seq === null
        ? []
        : [(response: unknown) => void this.#bus.send(this.edge, { type: 'relay:ack', conn: this.id, seq, response: response as never })];
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
  /** Starts a session over a relayed socket (the signalling layer's). */
  openSession(socket: SessionSocket): void;
  logger: Logger;
}

export class RelayHost {
  readonly #opts: RelayHostOptions;
  readonly #log: Logger;
  readonly #sockets = new Map<string, RelayedSocket>();

  constructor(opts: RelayHostOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'relay-host' });
    const { bus } = opts;
    bus.on('relay:open', (message) => void this.#open(message));
    bus.on('relay:event', ({ conn, from, event, args, seq }) => this.#owned(conn, from)?.deliver(event, args, seq));
    bus.on('relay:closed', ({ conn, from, reason }) => this.#owned(conn, from)?.clientGone(reason));
  }

  /** Relayed clients served here. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Rooms with relayed clients here. */
  rooms(): Set<string> {
    return new Set([...this.#sockets.values()].map((socket) => socket.data.roomId));
  }

  /** The admitting node died: its clients' connections are gone (their peers get the reconnect grace). */
  nodeGone(nodeId: NodeId): void {
    let count = 0;
    for (const socket of [...this.#sockets.values()]) {
      if (socket.edge !== nodeId) continue;
      socket.clientGone(EDGE_GONE);
      count++;
    }
    if (count)
      this.#log.warn('nodeGone() | the node that relayed these clients died: they are disconnected', { node: nodeId, clients: count });
  }

  /** Shutdown: every relayed client is disconnected (after the rooms told them why). */
  closeAll(): void {
    for (const socket of [...this.#sockets.values()]) socket.disconnect();
  }

  #owned(conn: string, from: NodeId): RelayedSocket | undefined {
    const socket = this.#sockets.get(conn);
    return socket?.edge === from ? socket : undefined;
  }

  async #open({ conn, from, data }: Extract<BusMessage, { type: 'relay:open' }>): Promise<void> {
    const { bus } = this.#opts;
    // A connection id is `<admitting node>/<socket id>`: one node cannot speak for another's clients.
    if (!conn.startsWith(`${from}/`) || this.#sockets.has(conn)) {
      this.#log.warn('relay:open refused: bad or reused connection id', { from, conn });
      return void bus.send(from, { type: 'relay:opened', conn, error: { code: 'BAD_REQUEST', message: 'bad connection id' } });
    }
    let claim: Awaited<ReturnType<RelayHostOptions['claim']>>;
    try {
      claim = await this.#opts.claim(data.roomId);
    } catch (error) {
      this.#log.error('relay:open failed: placement', { roomId: data.roomId, error });
      return void bus.send(from, { type: 'relay:opened', conn, error: { code: 'UNAVAILABLE', message: 'room placement failed' } });
    }
    if (!claim.hosted) {
      // The room went to another node between the admitting node's look-up and now.
      return void bus.send(from, {
        type: 'relay:opened',
        conn,
        error: { code: 'ROOM_CLOSED', message: 'the room is hosted by another node' },
        ...(claim.holder ? { moved: claim.holder } : {}),
      });
    }
    const socket = new RelayedSocket(conn, from, data, bus, () => this.#sockets.delete(conn));
    this.#sockets.set(conn, socket);
    // Sent before anything the session may send: the admitting node adopts the client first.
    void bus.send(from, { type: 'relay:opened', conn });
    this.#opts.openSession(socket);
    this.#log.debug('relayed client opened', { roomId: data.roomId, conn, from });
  }
}
