/**
 * The room's signalling connection: one socket.io socket on `/rooms/<roomId>`, typed requests
 * with a deadline (built on client/request.ts) and typed notifications.
 * Reconnection is off on purpose: the server forgets a peer whose socket is gone, so a silent
 * reconnect would leave a client that believes it is in the room. The app decides to rejoin.
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
  /** Access token, sent in the handshake's `auth`. */
  token?: string;
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
    const auth: HandshakeAuth = {
      ...(options.displayName ? { displayName: options.displayName } : {}),
      ...(options.token ? { token: options.token } : {}),
    };
    try {
      const socket = await connectRoomSocket(options.serverUrl, options.roomId, {
        auth,
        timeoutMs: options.connectTimeoutMs,
        // The SDK's own transports choice: polling first where websockets are blocked.
        socketOptions: { transports: ['polling', 'websocket'], ...options.socketOptions },
      });
      return new SignallingChannel(socket, options.requestTimeoutMs);
    } catch (error) {
      if (error instanceof ConnectError) throw new RoomClientError(error.code, `cannot connect to the room: ${error.message}`);
      throw toRoomClientError(error);
    }
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
      if (!this.#socket.connected)
        throw new RoomClientError('DISCONNECTED', `'${event}' failed: the connection dropped`, event, { cause: error });
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
