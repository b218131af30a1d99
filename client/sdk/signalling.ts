/**
 * The room's signalling connection: typed requests with a deadline (built on client/request.ts)
 * and typed notifications over one socket.io socket on `/rooms/<roomId>` at a time.
 * socket.io's own reconnection stays off: the server knows a returning client only by its resume
 * token, so each reconnection attempt is a new socket that must `resume` before it replaces the
 * dropped one (`replaceSocket`). The connection engine (engine.ts) decides when to try (its
 * ReconnectPolicy) and when to give up. Requests made while the socket is down wait for the
 * replacement, up to their deadline.
 */
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import type { HandshakeAuth, NotificationMap, NotificationName, RequestName, RequestPayload, ResponseMap } from '../../shared/contract';
import { ROOM_ID_PATTERN } from '../../shared/ids';
import { ConnectError, connectRoomSocket } from '../connect';
import { request, type RoomSocket } from '../request';
import { RoomClientError, toRoomClientError } from './errors';

export interface SignallingOptions {
  /** Origin of the server, e.g. `https://conf.example.com`. */
  serverUrl: string;
  roomId: string;
  displayName?: string;
  /** Access token, sent in the handshake's `auth`: asked for again at each new socket. */
  token?: () => Promise<string | undefined>;
  /** Deadline of every request. */
  requestTimeoutMs: number;
  /** Deadline of the socket handshake. */
  connectTimeoutMs: number;
  /** Extra socket.io options (e.g. `transports: ['websocket']`). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/** A request function bound to one socket (the candidate socket during a replacement). */
export type SocketRequest = <E extends RequestName>(event: E, payload: RequestPayload<E>) => Promise<ResponseMap[E]>;

/**
 * What the parts of a client (publisher, subscriber, data channels) need of the connection: its
 * requests, and whether a request would go out now. The engine provides it for whichever socket
 * is current.
 */
export type Requests = Pick<SignallingChannel, 'request' | 'connected'>;

/** A handler of some notification; the map's key says which (see bindHandler). */
type AnyHandler = (payload: NotificationMap[NotificationName]) => void;

export class SignallingChannel {
  readonly #options: SignallingOptions;
  #socket: RoomSocket;
  /** Notification handlers, bound to every socket this channel adopts. */
  readonly #handlers = new Map<NotificationName, AnyHandler[]>();
  #onDropped: ((reason: string) => void) | undefined;
  /** Requests waiting for a replacement socket. */
  readonly #waiters = new Set<{ resolve(): void; reject(error: RoomClientError): void }>();
  #closed = false;

  private constructor(socket: RoomSocket, options: SignallingOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#bind(socket);
  }

  /** Opens the socket and resolves once the server accepted the handshake. */
  static async connect(options: SignallingOptions): Promise<SignallingChannel> {
    if (!ROOM_ID_PATTERN.test(options.roomId)) {
      throw new RoomClientError('BAD_REQUEST', `room id must match ${String(ROOM_ID_PATTERN)}`);
    }
    return new SignallingChannel(await openSocket(options, options.connectTimeoutMs), options);
  }

  get connected(): boolean {
    return !this.#closed && this.#socket.connected;
  }

  /**
   * Resolves with the ack's data; rejects with a RoomClientError carrying the contract's code.
   * While the socket is down (a replacement is being sought) the request waits up to `timeoutMs`
   * for it, then fails with DISCONNECTED. A request in flight when the socket drops fails with
   * DISCONNECTED: it may or may not have been carried out, so it is never re-sent.
   */
  async request<E extends RequestName>(
    event: E,
    payload: RequestPayload<E>,
    timeoutMs = this.#options.requestTimeoutMs,
  ): Promise<ResponseMap[E]> {
    if (!this.connected) await this.#waitForSocket(event, timeoutMs);
    return requestOn(this.#socket, event, payload, timeoutMs);
  }

  onNotification<N extends NotificationName>(name: N, handler: (payload: NotificationMap[N]) => void): void {
    const list = this.#handlers.get(name) ?? [];
    list.push(handler as AnyHandler);
    this.#handlers.set(name, list);
    bindHandler(this.#socket, name, handler);
  }

  /** Called when the current socket drops for any reason other than close() (socket.io's reason). */
  onDropped(handler: (reason: string) => void): void {
    this.#onDropped = handler;
  }

  /**
   * Opens a new socket, runs `handshake` on it (e.g. `resume`), and only if that succeeds makes it
   * the channel's socket: notifications then come from it and waiting requests go out on it.
   * On failure the new socket is closed and the error (a RoomClientError) is thrown.
   */
  async replaceSocket<T>(handshake: (request: SocketRequest) => Promise<T>, connectTimeoutMs: number): Promise<T> {
    if (this.#closed) throw new RoomClientError('DISCONNECTED', 'the connection is closed');
    const socket = await openSocket(this.#options, connectTimeoutMs);
    // Bound before the handshake so that nothing the server sends right after it is missed.
    this.#bind(socket);
    try {
      const result = await handshake((event, payload) => requestOn(socket, event, payload, this.#options.requestTimeoutMs));
      if (this.#closed || !socket.connected) throw new RoomClientError('DISCONNECTED', 'the new connection dropped during its handshake');
      const previous = this.#socket;
      this.#socket = socket;
      release(previous);
      for (const waiter of this.#waiters) waiter.resolve();
      this.#waiters.clear();
      return result;
    } catch (error) {
      release(socket);
      throw toRoomClientError(error);
    }
  }

  /** Closes the connection for good; waiting requests fail with DISCONNECTED. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    release(this.#socket);
    for (const waiter of this.#waiters) waiter.reject(new RoomClientError('DISCONNECTED', 'the connection to the room was closed'));
    this.#waiters.clear();
  }

  #bind(socket: RoomSocket): void {
    for (const [name, handlers] of this.#handlers) for (const handler of handlers) bindHandler(socket, name, handler);
    socket.on('disconnect', (reason) => {
      // Only the adopted socket's drop matters; a candidate's failure is its handshake's error.
      if (socket === this.#socket && !this.#closed) this.#onDropped?.(reason);
    });
  }

  #waitForSocket(event: RequestName, timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.reject(new RoomClientError('DISCONNECTED', `cannot send '${event}': the connection is closed`, event));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: RoomClientError) => {
          clearTimeout(timer);
          reject(new RoomClientError(error.code, `cannot send '${event}': ${error.message}`, event));
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new RoomClientError('DISCONNECTED', `cannot send '${event}': not reconnected within ${timeoutMs} ms`, event));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

async function openSocket(options: SignallingOptions, timeoutMs: number): Promise<RoomSocket> {
  try {
    // Every attempt sends the token again (a fresh one with a tokenProvider): an expired one ends the session (UNAUTHORIZED).
    let token: string | undefined;
    try {
      token = await options.token?.();
    } catch (error) {
      throw new RoomClientError('CONNECT_FAILED', `no access token: ${toRoomClientError(error).message}`, undefined, { cause: error });
    }
    const auth: HandshakeAuth = {
      ...(options.displayName ? { displayName: options.displayName } : {}),
      ...(token ? { token } : {}),
    };
    return await connectRoomSocket(options.serverUrl, options.roomId, {
      auth,
      timeoutMs,
      // The SDK's own transports choice: polling first where websockets are blocked.
      socketOptions: { transports: ['polling', 'websocket'], ...options.socketOptions },
    });
  } catch (error) {
    if (error instanceof ConnectError) throw new RoomClientError(error.code, `cannot connect to the room: ${error.message}`);
    throw toRoomClientError(error);
  }
}

async function requestOn<E extends RequestName>(
  socket: RoomSocket,
  event: E,
  payload: RequestPayload<E>,
  timeoutMs: number,
): Promise<ResponseMap[E]> {
  if (!socket.connected) throw new RoomClientError('DISCONNECTED', `cannot send '${event}': not connected`, event);
  try {
    return await request(socket, event, payload, { timeoutMs });
  } catch (error) {
    // socket.io fails pending acks when the socket drops; report those as DISCONNECTED.
    if (!socket.connected) throw new RoomClientError('DISCONNECTED', `'${event}' failed: the connection dropped`, event, { cause: error });
    throw toRoomClientError(error);
  }
}

function bindHandler<N extends NotificationName>(socket: RoomSocket, name: N, handler: (payload: NotificationMap[N]) => void): void {
  // socket.io's typed `on` cannot relate a generic N to its listener type; the map is the contract.
  (socket.on as (event: N, listener: (payload: NotificationMap[N]) => void) => void)(name, handler);
}

/** Stops listening to a socket and closes it. */
function release(socket: RoomSocket): void {
  socket.removeAllListeners();
  socket.disconnect();
}
