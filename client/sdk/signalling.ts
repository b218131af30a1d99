/**
 * The room's signalling connection: one socket.io socket on `/rooms/<roomId>`, typed requests
 * with a deadline (built on client/request.ts) and typed notifications.
 * Reconnection is off on purpose: the server forgets a peer whose socket is gone, so a silent
 * reconnect would leave a client that believes it is in the room. The app decides to rejoin.
 */
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { HandshakeAuth, NotificationMap, NotificationName, RequestName, RequestPayload, ResponseMap } from '../../shared/contract';
import { ErrorCodes, type ErrorCode } from '../../shared/errors';
import { ROOM_ID_PATTERN, roomNamespace } from '../../shared/ids';
import { request, type RoomSocket } from '../request';
import { RoomClientError, toRoomClientError } from './errors';

export interface SignallingOptions {
  /** Origin of the server, e.g. `https://conf.example.com`. */
  serverUrl: string;
  roomId: string;
  displayName?: string;
  /** Deadline of every request. */
  requestTimeoutMs: number;
  /** Deadline of the socket handshake. */
  connectTimeoutMs: number;
  /** Extra socket.io options (e.g. `transports: ['websocket']`). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export class SignallingChannel {
  readonly #socket: RoomSocket;
  readonly #requestTimeoutMs: number;
  #closedByUs = false;

  private constructor(socket: RoomSocket, requestTimeoutMs: number) {
    this.#socket = socket;
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  /** Opens the socket and resolves once the server accepted the handshake. */
  static async connect(options: SignallingOptions): Promise<SignallingChannel> {
    if (!ROOM_ID_PATTERN.test(options.roomId)) {
      throw new RoomClientError('BAD_REQUEST', `room id must match ${String(ROOM_ID_PATTERN)}`);
    }
    const auth: HandshakeAuth = options.displayName ? { displayName: options.displayName } : {};
    const url = new URL(roomNamespace(options.roomId), options.serverUrl).toString();
    const socket: RoomSocket = io(url, {
      auth,
      // Own connection per client: `reconnection` is a Manager option and must not leak between rooms.
      forceNew: true,
      reconnection: false,
      timeout: options.connectTimeoutMs,
      ...options.socketOptions,
    });
    await waitForConnect(socket, options.connectTimeoutMs);
    return new SignallingChannel(socket, options.requestTimeoutMs);
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  /** Resolves with the ack's data; rejects with a RoomClientError carrying the contract's code. */
  async request<E extends RequestName>(event: E, payload: RequestPayload<E>, timeoutMs = this.#requestTimeoutMs): Promise<ResponseMap[E]> {
    if (!this.#socket.connected) {
      throw new RoomClientError('DISCONNECTED', `cannot send '${event}': not connected`, event);
    }
    try {
      return await request(this.#socket, event, payload, { timeoutMs });
    } catch (error) {
      // socket.io fails pending acks when the socket drops; the helper reports those as TIMEOUT.
      if (!this.#socket.connected) throw new RoomClientError('DISCONNECTED', `'${event}' failed: the connection dropped`, event, { cause: error });
      throw toRoomClientError(error);
    }
  }

  onNotification<N extends NotificationName>(name: N, handler: (payload: NotificationMap[N]) => void): void {
    // socket.io's typed `on` cannot relate a generic N to its listener type; the map is the contract.
    (this.#socket.on as (event: N, listener: (payload: NotificationMap[N]) => void) => void)(name, handler);
  }

  /** Called once when the connection drops for any reason other than close(). */
  onDisconnected(handler: (reason: string) => void): void {
    this.#socket.on('disconnect', (reason) => {
      if (!this.#closedByUs) handler(reason);
    });
  }

  close(): void {
    this.#closedByUs = true;
    this.#socket.removeAllListeners();
    this.#socket.disconnect();
  }
}

function waitForConnect(socket: RoomSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: RoomClientError): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      socket.disconnect();
      reject(error);
    };
    const onConnect = (): void => {
      clearTimeout(timer);
      socket.off('connect_error', onError);
      resolve();
    };
    const onError = (error: Error & { data?: unknown }): void => {
      // A server middleware can refuse the handshake with `err.data = { code, message }`.
      const code = errorCodeOf(error.data);
      fail(new RoomClientError(code ?? 'CONNECT_FAILED', `cannot connect to the room: ${error.message}`));
    };
    const timer = setTimeout(() => fail(new RoomClientError('CONNECT_FAILED', `no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

function errorCodeOf(data: unknown): ErrorCode | undefined {
  if (typeof data !== 'object' || data === null || !('code' in data)) return undefined;
  const { code } = data;
  return (ErrorCodes as readonly unknown[]).includes(code) ? (code as ErrorCode) : undefined;
}
