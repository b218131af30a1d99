/**
 * Error codes a fake peer reports: the contract's codes (from failed acks) plus the client-side
 * failures a load run must count: connection refused, socket dropped, a stream that never
 * delivered media, a WebRTC session that never connected.
 */
import type { ErrorCode } from '../../shared/errors';
import { RequestError } from '../request';

export type FakePeerErrorCode =
  | ErrorCode
  /** The socket.io connection could not be opened (wrong URL, TLS, refused namespace). */
  | 'CONNECT_ERROR'
  /** The socket dropped before the peer left. */
  | 'DISCONNECTED'
  /** A consumed stream delivered no RTP at all. */
  | 'NO_MEDIA'
  /** ICE/DTLS did not connect (webrtc engine). */
  | 'WEBRTC_FAILED'
  /** Anything else thrown on the client (a bug, a socket error). */
  | 'CLIENT_ERROR';

export class FakePeerError extends Error {
  override readonly name = 'FakePeerError';
  constructor(
    readonly code: FakePeerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function errorCodeOf(error: unknown): FakePeerErrorCode {
  if (error instanceof RequestError || error instanceof FakePeerError) return error.code;
  return 'CLIENT_ERROR';
}

export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
