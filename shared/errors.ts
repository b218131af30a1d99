/**
 * Error codes carried by every failed ack: `{ ok: false, error: { code, message } }`.
 * Stable strings: clients switch on them, operators grep for them.
 */
export const ErrorCodes = [
  /** The payload failed validation against the contract's schema. Also: unknown event name. */
  'BAD_REQUEST',
  /** Connection refused: no valid access token for this room (missing, bad signature, expired, other room). */
  'UNAUTHORIZED',
  /** The event needs a joined peer and this socket has not joined. */
  'NOT_JOINED',
  /** `join` was sent twice on one socket. */
  'ALREADY_JOINED',
  /** The room already holds its maximum number of peers. */
  'ROOM_FULL',
  /** No such transport / producer / consumer in the caller's reach (own objects, own room). */
  'NOT_FOUND',
  /** The router cannot produce a consumer for these rtpCapabilities. */
  'CANNOT_CONSUME',
  /** The caller may not do that (e.g. produce on a recv transport, or without the `publish` grant). */
  'FORBIDDEN',
  /** A quota was reached (transports, producers, consumers per peer; rooms or peers per server). */
  'LIMIT_EXCEEDED',
  /** Too many requests from this connection; slow down. */
  'RATE_LIMITED',
  /** Admin API: a room with this id is already open (POST /api/rooms). */
  'ROOM_EXISTS',
  /** The room is closing or closed. */
  'ROOM_CLOSED',
  /** `resume`: the token is unknown, already used, or its peer's grace period ran out. Join again. */
  'RESUME_FAILED',
  /**
   * Retryable: the cluster cannot serve this right now (its Redis is away, or the room's node does not
   * answer). Try again in a moment; rooms already open on the node you reached keep working.
   */
  'UNAVAILABLE',
  /** Client side only: no ack arrived in time. */
  'TIMEOUT',
  /** Client side only: the socket was not connected, or dropped before the ack arrived. */
  'DISCONNECTED',
  /** Something failed on the server; it is logged with a stack. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}
