/**
 * Opens the socket.io connection of one peer to a room namespace, and resolves once the
 * namespace accepted it. Each peer gets its own engine.io connection (`forceNew`): peers
 * multiplexed over one websocket would not load the server like real clients do.
 */
import { connectRoomSocket } from '../connect';
import type { RoomSocket } from '../request';
import { FakePeerError } from './errors';

export interface RoomConnectionOptions {
  /** Server base URL, e.g. https://127.0.0.1:4443. */
  url: string;
  roomId: string;
  displayName?: string;
  /** Access token (handshake `auth.token`). */
  token?: string;
  /** Accept self-signed certificates. Default false. */
  insecure?: boolean;
  /** Milliseconds to wait for the namespace to accept. Default 10,000. */
  timeoutMs?: number;
}

export async function connectRoom(options: RoomConnectionOptions): Promise<RoomSocket> {
  try {
    return await connectRoomSocket(options.url, options.roomId, {
      auth: {
        ...(options.displayName ? { displayName: options.displayName } : {}),
        ...(options.token ? { token: options.token } : {}),
      },
      insecure: options.insecure,
      timeoutMs: options.timeoutMs,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FakePeerError('CONNECT_ERROR', `connect to ${options.url} room '${options.roomId}' failed: ${reason}`);
  }
}
