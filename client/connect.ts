/**
 * Opening a Socket.IO connection and waiting until the server accepted it, in one place for the
 * SDK, the fake peers, the tests and the benchmarks. A refusal by the server's middleware
 * (`connect_error` with `data: { code, message }`) keeps its code; anything else is
 * CONNECT_FAILED. Browser-safe: no Node-only imports.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { ErrorCodes, type ErrorCode } from '../shared/errors';
import { roomNamespace } from '../shared/ids';
import type { RoomSocket } from './request';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    /** The server's refusal code (UNAUTHORIZED, BAD_REQUEST, …), or CONNECT_FAILED. */
    readonly code: ErrorCode | 'CONNECT_FAILED',
    message: string,
  ) {
    super(message);
  }
}

export interface ConnectOptions {
  /** Handshake `auth` (e.g. `{ token }`). */
  auth?: Record<string, unknown>;
  /** Deadline of the handshake, in ms. Default 10,000. */
  timeoutMs?: number;
  /** Accept self-signed certificates (Node only; tests and tools). Default false. */
  insecure?: boolean;
  /** Further socket.io-client options; they win over the defaults here. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/**
 * Opens `url` (origin + namespace) on its own connection (`forceNew`, so options such as
 * `reconnection` never leak between rooms) and resolves once the namespace accepted it.
 */
export async function connectSocket<S extends Socket = Socket>(url: string, options: ConnectOptions = {}): Promise<S> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    ...(options.insecure ? { rejectUnauthorized: false } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    ...options.socketOptions,
  }) as S;
  await waitForConnect(socket, timeoutMs);
  return socket;
}

/** Connects to the room namespace `/rooms/<roomId>` of the server at `serverUrl`. */
export function connectRoomSocket(serverUrl: string, roomId: string, options: ConnectOptions = {}): Promise<RoomSocket> {
  return connectSocket<RoomSocket>(new URL(roomNamespace(roomId), serverUrl).toString(), options);
}

/** Resolves on `connect`; rejects with a ConnectError on `connect_error` or after `timeoutMs` (and disconnects). */
export function waitForConnect(socket: Socket, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const settle = (error?: ConnectError): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      if (!error) return resolve();
      socket.disconnect();
      reject(error);
    };
    const onConnect = (): void => settle();
    const onError = (error: Error & { data?: unknown }): void => {
      const refusal = refusalOf(error.data);
      settle(new ConnectError(refusal?.code ?? 'CONNECT_FAILED', refusal?.message ?? `cannot connect: ${error.message}`));
    };
    const timer = setTimeout(() => settle(new ConnectError('CONNECT_FAILED', `no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

function refusalOf(data: unknown): { code: ErrorCode; message: string } | undefined {
  if (typeof data !== 'object' || data === null || !('code' in data)) return undefined;
  const { code } = data;
  if (!(ErrorCodes as readonly unknown[]).includes(code)) return undefined;
  const message = 'message' in data && typeof data.message === 'string' ? data.message : String(code);
  return { code: code as ErrorCode, message };
}
