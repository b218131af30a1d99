import type { Namespace, Server, Socket } from 'socket.io';
import type { ClientToServerEvents, NotificationMap, NotificationName, ServerToClientEvents } from '../../shared/contract';
import type { Credentials } from '../auth/authenticator';
import type { AddressSource } from '../rooms/addresses';

/** Per-socket data set by the admission middleware: plain values only. */
export interface SocketData {
  roomId: string;
  /** The handshake's `auth.displayName`, if any. */
  displayName?: string;
  /** Who the client is (its access token, or open mode). */
  credentials: Credentials;
  /** The address the client connects from (IPv4-mapped IPv6 written as IPv4; through trusted proxies: see TRUST_PROXY). */
  remoteAddress: string;
  /** How remoteAddress was learned; 'unverified': it is an unknown proxy's (absent: 'socket'). */
  remoteAddressSource?: AddressSource;
}

/**
 * What a SocketSession uses of its socket: a socket.io socket of this server, or a socket that
 * another node of the cluster relays here (server/cluster/relay-host.ts).
 */
export interface SessionSocket {
  readonly id: string;
  readonly data: SocketData;
  onAny(listener: (event: unknown, ...args: unknown[]) => void): unknown;
  on(event: 'disconnect', listener: (reason: string) => void): unknown;
  emit(event: NotificationName, payload: NotificationMap[NotificationName]): unknown;
  disconnect(close: true): unknown;
}

export type SignallingServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type RoomNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type RoomSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
