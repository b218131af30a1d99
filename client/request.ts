/**
 * Typed request over a room socket: `await request(socket, 'produce', payload)` resolves with the
 * ack's `data` or rejects with a `RequestError` carrying the contract's error `code`.
 * Every request has a deadline (default 10 s): a vanished server never leaves a promise pending.
 * Depends only on socket.io-client's types and the shared contract: a React/Vue app imports it as is.
 */
import type { Socket } from 'socket.io-client';
import type { AckOf, ClientToServerEvents, RequestName, RequestPayload, ResponseMap, ServerToClientEvents } from '../shared/contract';
import type { ErrorCode } from '../shared/errors';

export type RoomSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly request: RequestName,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  /** Milliseconds to wait for the ack. Default 10,000. */
  timeoutMs?: number;
}

export async function request<E extends RequestName>(
  socket: RoomSocket,
  event: E,
  payload: RequestPayload<E>,
  { timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS }: RequestOptions = {},
): Promise<ResponseMap[E]> {
  let ack: AckOf<E>;
  try {
    // socket.io's own deadline: rejects when no ack arrives in time (never retried, since
    // requests like `produce` are not idempotent).
    const emitter = socket.timeout(timeoutMs) as unknown as {
      emitWithAck(event: E, payload: RequestPayload<E>): Promise<AckOf<E>>;
    };
    ack = await emitter.emitWithAck(event, payload);
  } catch {
    if (!socket.connected) throw new RequestError('DISCONNECTED', `'${event}' got no answer: the socket is disconnected`, event);
    throw new RequestError('TIMEOUT', `no answer to '${event}' within ${timeoutMs} ms`, event);
  }
  if (ack.ok) return ack.data;
  throw new RequestError(ack.error.code, ack.error.message, event);
}
