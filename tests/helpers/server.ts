/** Starts a real server (real worker, real HTTPS) in-process for a test file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io } from 'socket.io-client';
import { request, type RoomSocket } from '../../client/request';
import { roomNamespace } from '../../shared/ids';
import { startServer, type RunningServer } from '../../server/app';
import { loadConfig } from '../../server/config';

export interface TestServer extends RunningServer {
  certsDir: string;
}

/** Env defaults for tests: ephemeral port, loopback only, one worker, quiet logs. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-certs-'));
  const config = loadConfig({
    PORT: '0',
    LISTEN_HOST: '127.0.0.1',
    CERTS_DIR: certsDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    LOG_FORMAT: 'json',
    MEDIASOUP_WORKERS: '1',
    ROOM_EMPTY_TIMEOUT_MS: '0',
    ...env,
  });
  const server = await startServer(config);
  const close = server.close;
  return Object.assign(server, {
    certsDir,
    close: async () => {
      await close();
      fs.rmSync(certsDir, { recursive: true, force: true });
    },
  });
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
  }) as RoomSocket;
}

export async function connectToRoom(server: { url: string }, roomId: string, auth?: unknown): Promise<RoomSocket> {
  const socket = openRoomSocket(server, roomId, auth);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return socket;
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
