/** A real server (real worker, real HTTPS) in-process for a test file, and client helpers. */
import { io } from 'socket.io-client';
import { connectRoomSocket } from '../../client/connect';
import { request, type RoomSocket } from '../../client/request';
import { roomNamespace } from '../../shared/ids';
import { startLocalServer, type LocalServer, type LocalServerOptions } from '../../server/local-server';
import { createCaptureLogger } from './log-capture';

export type TestServer = LocalServer;

/**
 * A local server (loopback, ephemeral port, one worker, empty rooms close at once, metrics off
 * unless `options.metrics`) with `env` on top; its logs are captured and shown only if a test fails.
 */
export function startTestServer(env: Record<string, string> = {}, options: Omit<LocalServerOptions, 'logger'> = {}): Promise<TestServer> {
  return startLocalServer(env, { ...options, logger: createCaptureLogger() });
}

export interface ConnectOptions {
  displayName?: string;
  /** Resolve on `connect_error` instead of rejecting (tests of refusals). */
  expectRefusal?: boolean;
}

/** A socket.io client connected to a room namespace (self-signed certificate accepted). */
export function openRoomSocket(server: { url: string }, roomId: string, auth?: unknown): RoomSocket {
  return io(`${server.url}${roomNamespace(roomId)}`, {
    transports: ['websocket'],
    rejectUnauthorized: false,
    reconnection: false,
    forceNew: true,
    auth: auth as Record<string, unknown> | undefined,
  });
}

export function connectToRoom(server: { url: string }, roomId: string, auth?: Record<string, unknown>): Promise<RoomSocket> {
  return connectRoomSocket(server.url, roomId, { auth, insecure: true });
}

/** Connects and joins; returns the socket and the join response. */
export async function joinRoom(server: { url: string }, roomId: string, displayName?: string) {
  const socket = await connectToRoom(server, roomId);
  const joined = await request(socket, 'join', { displayName });
  return { socket, joined };
}

/** Resolves when `predicate()` holds, polling; rejects after `timeoutMs` with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The next occurrence of a server notification on this socket. */
export function nextEvent<T>(socket: RoomSocket, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    (socket as unknown as { once(e: string, f: (p: T) => void): void }).once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}
