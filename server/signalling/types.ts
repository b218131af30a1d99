import type { Namespace, Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/contract';
import type { Credentials } from '../auth/authenticator';

/** Per-socket data set by the admission middleware: plain values only. */
export interface SocketData {
  roomId: string;
  /** The handshake's `auth.displayName`, if any. */
  displayName?: string;
  /** Who the client is (its access token, or open mode). */
  credentials: Credentials;
  /** The address the client connects from (IPv4-mapped IPv6 written as IPv4). */
  remoteAddress: string;
}

export type SignallingServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type RoomNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type RoomSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
