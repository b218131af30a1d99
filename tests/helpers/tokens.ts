/** Access tokens for tests of a server started with AUTH_SECRET = TEST_AUTH_SECRET. */
import { mintAccessToken, secretKey, type GrantsClaim } from '../../server/auth/access-token';
import type { RoomSocket } from '../../client/request';
import { openRoomSocket } from './server';

export const TEST_AUTH_SECRET = 'a-test-secret-of-at-least-thirty-two-bytes';
export const TEST_KEY = secretKey(TEST_AUTH_SECRET);

export function tokenFor(
  roomId: string,
  identity: string,
  grants: GrantsClaim = { join: true, publish: true, subscribe: true },
  extra: { displayName?: string; ttlSeconds?: number } = {},
): Promise<string> {
  return mintAccessToken({ roomId, identity, grants, displayName: extra.displayName, ttlSeconds: extra.ttlSeconds ?? 600 }, TEST_KEY);
}

export interface Refusal {
  code?: string;
  message?: string;
}

/** Opens a room socket with `auth` and resolves with the server's refusal; rejects if it was accepted. */
export function refusalOf(server: { url: string }, roomId: string, auth?: Record<string, unknown>): Promise<Refusal> {
  const socket: RoomSocket = openRoomSocket(server, roomId, auth);
  return new Promise<Refusal>((resolve, reject) => {
    socket.once('connect', () => {
      socket.disconnect();
      reject(new Error(`the connection to ${roomId} was accepted`));
    });
    socket.once('connect_error', (error: Error & { data?: Refusal }) => {
      socket.close();
      resolve(error.data ?? { message: error.message });
    });
  });
}
