import type { Namespace, Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/contract';

/** Per-socket data set by the admission middleware: plain values only. */
export interface SocketData {
  roomId: string;
  displayName?: string;
}

export type SignallingServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type RoomNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type RoomSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
