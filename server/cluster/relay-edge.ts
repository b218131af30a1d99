/**
 * The admitting node's side of a relayed client (LiveKit's signal relay): the client's socket is
 * here, its room on another node. Admission (origin, connection rate, room id, token, rooms per
 * connection) already happened here; then `open` asks the room's node to start a session with the
 * verified credentials, and once it has, every event of the client goes there in arrival order,
 * and what comes back (acks by sequence number, notifications, the disconnect) goes to the client.
 * If the room's node dies, its clients here are told `roomClosed { reason: 'MEDIA_FAILURE' }` and
 * disconnected: the room is gone, the next join re-creates it on a live node.
 */
import type { Ack, CloseReason } from '../../shared/contract';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { RoomSocket } from '../signalling/types';
import type { ClusterBus } from './cluster-bus';
import type { BusMessage, NodeId } from './cluster-messages';

type AckFn = (response: Ack<unknown>) => void;

/** Arguments of a client's event relayed (the bus schema's bound). */
const MAX_RELAYED_ARGS = 16;
type Push = Extract<BusMessage, { type: 'relay:emit' | 'relay:disconnect' }>;

/** What `open` found: the relay is open, or the room is another node's now. */
export type OpenResult = { opened: true; connection: RelayConnection } | { opened: false; moved: NodeId };

export class RelayConnection {
  readonly conn: string;
  readonly host: NodeId;
  readonly #socket: RoomSocket;
  readonly #bus: ClusterBus;
  readonly #forget: () => void;
  readonly #acks = new Map<number, AckFn>();
  /** What the room's node sent before the socket was adopted (between admission and `connection`). */
  #early: Push[] | undefined = [];
  #seq = 0;
  #closed = false;

  constructor(conn: string, host: NodeId, socket: RoomSocket, bus: ClusterBus, forget: () => void) {
    this.conn = conn;
    this.host = host;
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
   * This node stops: the client's connection is cut (a transport close, not a server disconnect), so
   * its SDK reconnects (through another node) and resumes: its room lives on.
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
    void this.#bus.send(this.host, { type: 'relay:event', conn: this.conn, seq, event: name, args: args.slice(0, MAX_RELAYED_ARGS) });
  }

  #clientGone(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#acks.clear();
    this.#forget();
    void this.#bus.send(this.host, { type: 'relay:closed', conn: this.conn, reason: reason.slice(0, 64) });
  }
}

export class RelayEdge {
  readonly #bus: ClusterBus;
  readonly #openTimeoutMs: number;
  readonly #log: Logger;
  readonly #connections = new Map<string, RelayConnection>();
  readonly #opening = new Map<string, (message: Extract<BusMessage, { type: 'relay:opened' }>) => void>();

  constructor(bus: ClusterBus, openTimeoutMs: number, logger: Logger) {
    this.#bus = bus;
    this.#openTimeoutMs = openTimeoutMs;
    this.#log = logger.child({ component: 'relay-edge' });
    bus.on('relay:opened', (message) => this.#opening.get(message.conn)?.(message));
    bus.on('relay:ack', ({ conn, from, seq, response }) => this.#of(conn, from)?.ack(seq, response));
    bus.on('relay:emit', (message) => this.#of(message.conn, message.from)?.push(message));
    bus.on('relay:disconnect', (message) => this.#of(message.conn, message.from)?.push(message));
  }

  /** Relayed clients on this node. */
  get size(): number {
    return this.#connections.size;
  }

  /**
   * Asks `host` to serve this admitted socket. Throws an AppError (the connection is refused with
   * its code) when the host does not answer in time, is gone, or refuses.
   */
  async open(socket: RoomSocket, host: NodeId): Promise<OpenResult> {
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
        if (message.from === host) settle(message);
      });
    });
    // Registered before asking: the host's first pushes may follow its answer closely.
    const connection = new RelayConnection(conn, host, socket, this.#bus, () => this.#connections.delete(conn));
    this.#connections.set(conn, connection);
    const delivered = await this.#bus.send(host, { type: 'relay:open', conn, data: socket.data });
    if (!delivered) settle(undefined);
    const reply = await answer;
    if (!reply || reply.moved || reply.error) this.#connections.delete(conn);
    if (!delivered) throw new AppError('UNAVAILABLE', "the room's node is unreachable");
    if (!reply) throw new AppError('UNAVAILABLE', `the room's node did not answer within ${this.#openTimeoutMs} ms`);
    if (reply.moved) return { opened: false, moved: reply.moved };
    if (reply.error) throw new AppError(reply.error.code, reply.error.message);
    // A socket that goes away before socket.io's `connection` never emits `disconnect`.
    socket.conn.once('close', () => connection.abandon());
    return { opened: true, connection };
  }

  /** The room's node died: its clients here lose their room. */
  nodeGone(nodeId: NodeId): void {
    const lost = [...this.#connections.values()].filter((c) => c.host === nodeId);
    for (const connection of lost) connection.hostGone('MEDIA_FAILURE');
    if (lost.length)
      this.#log.warn("nodeGone() | a room's node died: its relayed clients here are told MEDIA_FAILURE", {
        node: nodeId,
        clients: lost.length,
      });
  }

  /** Shutdown of this node: relayed clients are disconnected (they reconnect through another node and resume). */
  closeAll(): void {
    for (const connection of [...this.#connections.values()]) connection.close();
  }

  #of(conn: string, from: NodeId): RelayConnection | undefined {
    const connection = this.#connections.get(conn);
    return connection?.host === from ? connection : undefined;
  }
}
