/**
 * The error registry: every code a failed ack (`{ ok: false, error: { code, message } }`), a
 * refused connection (`connect_error` `data`) or an admin API error body carries, with what it
 * means, its HTTP status and whether sending the same request again later may succeed.
 * Stable strings: clients switch on them, operators grep for them. docs/protocol.md is generated
 * from this table (npm run docs).
 */

export interface ErrorInfo {
  /** The admin API's HTTP status for this code (server/http/http-errors.ts). */
  readonly status: number;
  /**
   * The same request, sent again unchanged after a short delay, may succeed: the failure was
   * the server's momentary state, not the request.
   */
  readonly retryable: boolean;
  /** 'client': made by the SDK's request helper, never sent by the server. */
  readonly by: 'server' | 'client';
  /** What it means, for the generated reference (markdown). */
  readonly doc: string;
}

export const errorRegistry = {
  BAD_REQUEST: {
    status: 400,
    retryable: false,
    by: 'server',
    doc: "The payload fails the contract's schema (the message names the field), mediasoup refuses it (a codec the router lacks, a kind contradicting its codec), or the event name is unknown.",
  },
  UNAUTHORIZED: {
    status: 401,
    retryable: false,
    by: 'server',
    doc: 'No valid access token for this room (missing, bad signature, expired, another room): the connection is refused; also a request after the token expired, and a bad `refreshToken`.',
  },
  NOT_JOINED: { status: 409, retryable: false, by: 'server', doc: 'The request needs a joined peer and this socket has not joined.' },
  ALREADY_JOINED: { status: 409, retryable: false, by: 'server', doc: '`join` or `resume` on a socket that already joined.' },
  ROOM_FULL: { status: 409, retryable: false, by: 'server', doc: 'The room already holds its maximum number of peers.' },
  NOT_FOUND: {
    status: 404,
    retryable: false,
    by: 'server',
    doc: "No such transport, producer or consumer in the caller's reach: not its own, not in its room, or no such id.",
  },
  CANNOT_CONSUME: {
    status: 400,
    retryable: false,
    by: 'server',
    doc: 'The router cannot make a consumer of that producer for these `rtpCapabilities`.',
  },
  FORBIDDEN: {
    status: 403,
    retryable: false,
    by: 'server',
    doc: "The caller may not do that: produce on a recv transport, a request the token's grants do not allow, consuming one's own producer or one producer twice on a transport, a plain transport sending elsewhere than the client's address, resuming or producing a kind an operator muted; at connect: an identity banned from the room by a kick.",
  },
  LIMIT_EXCEEDED: {
    status: 429,
    retryable: false,
    by: 'server',
    doc: 'A quota was reached: transports, producers, consumers, data producers or `appData` size per peer; rooms per connection; rooms or peers per server.',
  },
  RATE_LIMITED: {
    status: 429,
    retryable: true,
    by: 'server',
    doc: 'Too many requests from this connection: slow down (the message says when the next one is admitted). Answered at once, so it may arrive before the answers of earlier requests.',
  },
  ROOM_EXISTS: { status: 409, retryable: false, by: 'server', doc: 'Admin API: a room with this id is already open (`POST /api/rooms`).' },
  ROOM_CLOSED: { status: 409, retryable: false, by: 'server', doc: 'The room is closing or closed.' },
  RESUME_FAILED: {
    status: 409,
    retryable: false,
    by: 'server',
    doc: "`resume`: the token is unknown, already used, or its peer's grace period ran out. Join again.",
  },
  UNAVAILABLE: {
    status: 503,
    retryable: true,
    by: 'server',
    doc: 'A transient failure (a worker being replaced, Redis away, a node unreachable): retry after a short delay.',
  },
  TIMEOUT: {
    status: 504,
    retryable: false,
    by: 'client',
    doc: 'No ack arrived in time. Whether the server did it is unknown: look before repeating a request that is not idempotent.',
  },
  DISCONNECTED: {
    status: 503,
    retryable: false,
    by: 'client',
    doc: 'The socket was not connected, or dropped before the ack arrived (the SDK resumes the session by itself).',
  },
  INTERNAL: {
    status: 500,
    retryable: false,
    by: 'server',
    doc: 'Something failed on the server that should not have; it is logged with a stack.',
  },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof errorRegistry;
/** Every code, in the registry's order. */
export const ErrorCodes = Object.keys(errorRegistry) as [ErrorCode, ...ErrorCode[]];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}
