/**
 * The socket.io floor: a namespace on the server's own Socket.IO instance (same HTTPS server,
 * same engine.io settings) that acks every event at once, with a fixed reply or else the payload
 * it was sent. No validation, no room logic, no mediasoup: what one ack round-trip costs by itself.
 */
import type { Socket } from 'socket.io-client';
import { connectSocket } from '../client/connect';
import type { SignallingServer } from '../server/signalling/types';

export const ECHO_NAMESPACE = '/bench-echo';

/** @param fixedReply `data` of every ack; default: the request's own payload. */
export function installEchoNamespace(server: SignallingServer, fixedReply?: unknown): void {
  server.of(ECHO_NAMESPACE).on('connection', (socket) => {
    socket.onAny((_event: string, ...args: unknown[]) => {
      const ack = args[args.length - 1];
      if (typeof ack === 'function') (ack as (reply: unknown) => void)({ ok: true, data: fixedReply ?? (args.length > 1 ? args[0] : {}) });
    });
  });
}

export function connectEcho(url: string): Promise<Socket> {
  return connectSocket(new URL(ECHO_NAMESPACE, url).toString(), { insecure: true });
}

/** One ack round-trip on the echo namespace, carrying `payload` both ways. */
export async function echo(socket: Socket, event: string, payload: unknown): Promise<void> {
  await socket.timeout(10_000).emitWithAck(event, payload);
}
