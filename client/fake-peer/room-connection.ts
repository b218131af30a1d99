/**
 * Opens the socket.io connection of one peer to a room namespace, and resolves once the
 * namespace accepted it. Each peer gets its own engine.io connection (`forceNew`): peers
 * multiplexed over one websocket would not load the server like real clients do.
 */
import { io } from 'socket.io-client';
import { roomNamespace } from '../../shared/ids';
import type { RoomSocket } from '../request';
import { FakePeerError } from './errors';

export interface RoomConnectionOptions {
  /** Server base URL, e.g. https://127.0.0.1:4443. */
  url: string;
  roomId: string;
  displayName?: string;
  /** Accept self-signed certificates. Default false. */
  insecure?: boolean;
  /** Milliseconds to wait for the namespace to accept. Default 10,000. */
  timeoutMs?: number;
}

export function connectRoom(options: RoomConnectionOptions): Promise<RoomSocket> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const socket: RoomSocket = io(new URL(roomNamespace(options.roomId), options.url).toString(), {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    rejectUnauthorized: !options.insecure,
    auth: options.displayName ? { displayName: options.displayName } : {},
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.off('connect', succeed);
      socket.disconnect();
      reject(new FakePeerError('CONNECT_ERROR', `connect to ${options.url} room '${options.roomId}' failed: ${error.message}`));
    };
    const succeed = (): void => {
      clearTimeout(timer);
      socket.off('connect_error', fail);
      resolve(socket);
    };
    socket.once('connect', succeed);
    socket.once('connect_error', fail);
  });
}
