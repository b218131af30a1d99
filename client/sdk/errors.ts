/**
 * One error class for everything the SDK rejects with or emits on `'error'`, so an app can
 * `switch (error.code)` without knowing which layer failed.
 * Server codes come from the contract (ROOM_FULL, NOT_FOUND, TIMEOUT...); the rest are local.
 */
import type { RequestName } from '../../shared/contract';
import type { ErrorCode } from '../../shared/errors';
import { RequestError } from '../request';

export type LocalErrorCode =
  /** The socket could not connect (server down, certificate refused, handshake rejected). */
  | 'CONNECT_FAILED'
  /** The connection dropped or the room went away while a call was in flight. */
  | 'DISCONNECTED'
  /** getUserMedia / getDisplayMedia refused or found no device. */
  | 'DEVICE_ERROR'
  /** The browser cannot do WebRTC with mediasoup (no handler for it). */
  | 'UNSUPPORTED'
  /** A WebRTC transport failed (ICE/DTLS). */
  | 'TRANSPORT_FAILED'
  /** The call makes no sense in the client's current state (e.g. publish before join). */
  | 'INVALID_STATE';

export type RoomClientErrorCode = ErrorCode | LocalErrorCode;

export class RoomClientError extends Error {
  override readonly name = 'RoomClientError';
  constructor(
    readonly code: RoomClientErrorCode,
    message: string,
    /** The server request that failed, when one did. */
    readonly request?: RequestName,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Normalises anything thrown below the SDK (request helper, mediasoup-client, DOM) into a RoomClientError. */
export function toRoomClientError(error: unknown, fallbackCode: RoomClientErrorCode = 'INTERNAL'): RoomClientError {
  if (error instanceof RoomClientError) return error;
  if (error instanceof RequestError) return new RoomClientError(error.code, error.message, error.request, { cause: error });
  if (error instanceof Error) {
    // mediasoup-client names its own errors; "not supported" must not look like a server fault.
    const code = error.name === 'UnsupportedError' ? 'UNSUPPORTED' : fallbackCode;
    return new RoomClientError(code, error.message, undefined, { cause: error });
  }
  return new RoomClientError(fallbackCode, String(error));
}

/** Codes that mean "this room cannot be entered now", useful for a join screen. */
export function isJoinRefusal(error: unknown): error is RoomClientError {
  return error instanceof RoomClientError && (error.code === 'ROOM_FULL' || error.code === 'ROOM_CLOSED');
}

/**
 * Errors worth another try as they are: the connection could not be made or dropped, no answer came
 * in time, the server asked to slow down, or it cannot serve this right now (UNAVAILABLE: in a
 * cluster, its Redis is away or the room's node does not answer). The SDK retries these itself when
 * it reconnects; an app may retry a failed `join()` on them.
 */
export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(toRoomClientError(error).code);
}

const RETRYABLE: ReadonlySet<RoomClientErrorCode> = new Set(['UNAVAILABLE', 'CONNECT_FAILED', 'DISCONNECTED', 'TIMEOUT', 'RATE_LIMITED']);
