/**
 * The admin REST API as data: each operation's method, path, input schemas (zod) and success
 * schema. The Express router validates with these schemas and the compiler holds the handlers
 * to them (admin-router.ts); the OpenAPI document is generated from the same objects
 * (openapi.ts), so the API is described once.
 */
import { z } from 'zod';
import { DisplayNameSchema, TrackSources } from '../../shared/contract';
import { ROOM_ID_PATTERN } from '../../shared/ids';
import { MediaKindSchema } from '../../shared/media';
import { GrantsClaimSchema, IdentitySchema } from '../auth/access-token';
import { ROOM_EMPTY_TIMEOUT_LIMIT_MS, ROOM_MAX_PEERS_LIMIT } from '../config';
import { AppError } from '../errors';

/** An admin-created room with no emptyTimeoutMs stays open this long waiting for its first peer (LiveKit's default). */
export const CREATED_ROOM_EMPTY_TIMEOUT_MS = 300_000;
/** A minted token's lifetime when the request names none. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3_600;

const count = z.number().int().min(0);
const RoomId = z.string().regex(ROOM_ID_PATTERN).describe('Room id: 1–64 of A–Z a–z 0–9 _ -');
const PeerId = z.string().min(1).max(64).describe('Peer id (as in the join ack and peerJoined)');
const Timestamp = z.iso.datetime().describe('ISO 8601, UTC');

const Identity = IdentitySchema.describe("An access token's identity (`sub`): 1-128 of A-Z a-z 0-9 _ . @ : + -");

export const RoomParams = z.object({ roomId: RoomId });
export const PeerParams = z.object({ roomId: RoomId, peerId: PeerId });
export const BanParams = z.object({ roomId: RoomId, identity: Identity });

/**
 * Who called (admin-auth.ts): a server-wide admin (ADMIN_API_KEY, or a token naming that key's id;
 * `identity` is the token's), or a room admin — a token with the admin grant, for its own room
 * only, until its own expiry (seconds since the epoch).
 */
export const AdminCallerSchema = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('server'), identity: Identity.optional() }),
  z.object({ scope: z.literal('room'), roomId: RoomId, identity: Identity, expiresAt: z.number().int() }),
]);
export type AdminCaller = z.output<typeof AdminCallerSchema>;
/** The server acting on its own (a node listing its rooms for another). */
export const SERVER_CALLER: AdminCaller = { scope: 'server' };

const ProducersByKind = z.object({ audio: count, video: count }).describe('Producers in the room by kind');

export const RoomSummarySchema = z.object({
  roomId: RoomId,
  peerCount: count,
  maxPeers: z.number().int().min(1),
  emptyTimeoutMs: count,
  producers: ProducersByKind,
  workerPid: z.number().int().nullable().describe('Process id of the mediasoup worker serving the room (null while it is being replaced)'),
  createdAt: Timestamp,
  nodeId: z.string().optional().describe('With REDIS_URL: the id of the node hosting the room (NODE_ID)'),
});

export const PeerDetailSchema = z.object({
  peerId: PeerId,
  identity: z.string(),
  displayName: z.string(),
  joinedAt: Timestamp,
  connected: z.boolean().describe('false while its connection is down and it may still resume'),
  muted: z.array(MediaKindSchema).describe('Kinds an operator muted: the peer cannot resume or publish them until unmuted'),
  producers: z.array(
    z.object({
      producerId: z.string(),
      kind: MediaKindSchema,
      source: z.enum(TrackSources).nullable().describe("From the producer's appData.source"),
      paused: z.boolean(),
    }),
  ),
});

export const RoomDetailSchema = RoomSummarySchema.extend({ peers: z.array(PeerDetailSchema) });
export const RoomListSchema = z.object({ rooms: z.array(RoomSummarySchema) });

export const CreateRoomRequestSchema = z
  .object({
    roomId: RoomId,
    maxPeers: z.number().int().min(1).max(ROOM_MAX_PEERS_LIMIT).optional().describe('Peer cap of this room (default: ROOM_MAX_PEERS)'),
    emptyTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(ROOM_EMPTY_TIMEOUT_LIMIT_MS)
      .default(CREATED_ROOM_EMPTY_TIMEOUT_MS)
      .describe('How long the room stays open with nobody in it, before the first join and after the last leave'),
  })
  .strict();

export const MuteRequestSchema = z.object({ kind: MediaKindSchema.describe("Which of the peer's producers to pause") }).strict();
export const MuteResultSchema = z.object({ producerIds: z.array(z.string()).describe('The producers this request paused') });
export const UnmuteRequestSchema = z
  .object({ kind: MediaKindSchema.describe('Which kind the peer may resume and publish again') })
  .strict();

export const BanSchema = z.object({
  identity: Identity,
  expiresAt: Timestamp.describe('When the ban ends by itself: the kicked access token’s expiry'),
});
export const BanListSchema = z.object({ bans: z.array(BanSchema) });

export interface TokenLimits {
  /** TOKEN_MAX_TTL_SECONDS */
  tokenMaxTtlSeconds: number;
  /** ADMIN_TOKEN_MAX_TTL_SECONDS: tokens with the admin grant. */
  adminTokenMaxTtlSeconds: number;
}

export function mintTokenRequestSchema(limits: TokenLimits) {
  return z
    .object({
      identity: IdentitySchema.describe('Who the client is (unique in a room): 1-128 of A-Z a-z 0-9 _ . @ : + -'),
      roomId: RoomId,
      displayName: DisplayNameSchema.optional(),
      grants: GrantsClaimSchema.default({}).describe('What the holder may do; a grant left out is false'),
      ttlSeconds: z
        .number()
        .int()
        .min(60)
        .max(limits.tokenMaxTtlSeconds)
        .optional()
        .describe(
          `Lifetime in seconds: at most TOKEN_MAX_TTL_SECONDS, and ADMIN_TOKEN_MAX_TTL_SECONDS with the admin grant (default ${DEFAULT_TOKEN_TTL_SECONDS}, or the cap when lower). A room admin's token never outlives the caller's own`,
        ),
      serverAdmin: z
        .boolean()
        .default(false)
        .describe(
          'With the admin grant: a server-wide admin token, tied to the current ADMIN_API_KEY (rotating the key revokes it). Only a caller with ADMIN_API_KEY itself may ask',
        ),
    })
    .strict()
    .superRefine((body, ctx) => {
      if (body.grants.admin && body.ttlSeconds !== undefined && body.ttlSeconds > limits.adminTokenMaxTtlSeconds) {
        ctx.addIssue({
          code: 'custom',
          path: ['ttlSeconds'],
          message: `a token with the admin grant lasts at most ${limits.adminTokenMaxTtlSeconds} s (ADMIN_TOKEN_MAX_TTL_SECONDS)`,
        });
      }
      if (body.serverAdmin && !body.grants.admin) {
        ctx.addIssue({ code: 'custom', path: ['serverAdmin'], message: 'a server-wide admin token needs the admin grant' });
      }
    });
}
export const TokenSchema = z.object({ token: z.string().describe('HS256 JWT: pass it as { auth: { token } }'), expiresAt: Timestamp });

export const StatsSchema = z.object({
  workers: z.object({ alive: count, configured: count, restarts: count }),
  rooms: count,
  peers: count,
});

export type ErrorStatus = 400 | 404 | 409 | 413;

export interface Operation {
  method: 'get' | 'post' | 'delete';
  /**
   * Who may call it: 'server', server-wide admins only; 'room', a room admin too, for its own
   * room only (the `roomId` of the path, else of the body; without either, the handler answers
   * with that room's share).
   */
  access: 'server' | 'room';
  /** OpenAPI form, relative to /api: `/rooms/{roomId}`. */
  path: string;
  summary: string;
  description?: string;
  tag: 'rooms' | 'tokens' | 'server';
  params?: z.ZodObject;
  body?: z.ZodType;
  /** 204: no body. */
  success: { status: 200 | 201 | 204; description: string; schema?: z.ZodType };
  /** Besides 401 and 403, which every operation may answer. */
  errors: readonly ErrorStatus[];
}

function operations<T extends Record<string, Operation>>(ops: T): T {
  return ops;
}

/** Every operation of the admin API (schemas that depend on the configuration are built here). */
export function adminOperations(limits: TokenLimits) {
  return operations({
    listRooms: {
      method: 'get',
      path: '/rooms',
      access: 'room',
      summary: 'List open rooms',
      description:
        "With REDIS_URL: the rooms of every node of the cluster, whichever node is asked. A room admin's list has its own room only.",
      tag: 'rooms',
      success: { status: 200, description: 'The open rooms', schema: RoomListSchema },
      errors: [],
    },
    createRoom: {
      method: 'post',
      path: '/rooms',
      access: 'server',
      summary: 'Open a room ahead of its first join',
      description: 'The room gets its own peer cap and empty timeout instead of the server defaults.',
      tag: 'rooms',
      body: CreateRoomRequestSchema,
      success: { status: 201, description: 'The room, open', schema: RoomSummarySchema },
      errors: [400, 409, 413],
    },
    getRoom: {
      method: 'get',
      path: '/rooms/{roomId}',
      access: 'room',
      summary: 'A room with its peers and their producers',
      tag: 'rooms',
      params: RoomParams,
      success: { status: 200, description: 'The room', schema: RoomDetailSchema },
      errors: [400, 404],
    },
    closeRoom: {
      method: 'delete',
      path: '/rooms/{roomId}',
      access: 'room',
      summary: 'Close a room',
      description: "Every peer gets roomClosed { reason: 'CLOSED_BY_ADMIN' } and is disconnected.",
      tag: 'rooms',
      params: RoomParams,
      success: { status: 204, description: 'Closed' },
      errors: [400, 404],
    },
    kickPeer: {
      method: 'delete',
      path: '/rooms/{roomId}/peers/{peerId}',
      access: 'room',
      summary: 'Remove a peer from its room, and ban its identity',
      description:
        "The peer gets roomClosed { reason: 'KICKED' } and is disconnected; the others see peerLeft. With access tokens its identity is banned from the room until its token expires or the ban is lifted: connecting again is refused with FORBIDDEN.",
      tag: 'rooms',
      params: PeerParams,
      success: { status: 204, description: 'Removed' },
      errors: [400, 404],
    },
    mutePeer: {
      method: 'post',
      path: '/rooms/{roomId}/peers/{peerId}/mute',
      access: 'room',
      summary: "Pause a peer's producers of one kind, until unmuted",
      description:
        "Everyone in the room, the peer included, gets producerPaused { reason: 'MUTED_BY_ADMIN' } for each. The mute is hard: the peer's resumeProducer and produce of that kind are FORBIDDEN until an operator unmutes it.",
      tag: 'rooms',
      params: PeerParams,
      body: MuteRequestSchema,
      success: { status: 200, description: 'The producers paused', schema: MuteResultSchema },
      errors: [400, 404, 413],
    },
    unmutePeer: {
      method: 'post',
      path: '/rooms/{roomId}/peers/{peerId}/unmute',
      access: 'room',
      summary: 'Lift a mute',
      description: 'The peer may resume (its producers stay paused until it does) and publish that kind again.',
      tag: 'rooms',
      params: PeerParams,
      body: UnmuteRequestSchema,
      success: { status: 204, description: 'Unmuted' },
      errors: [400, 404, 413],
    },
    listBans: {
      method: 'get',
      path: '/rooms/{roomId}/bans',
      access: 'room',
      summary: 'Identities banned from a room',
      description: 'A kick bans the identity until its token expires. With REDIS_URL the bans are in Redis, shared by every node.',
      tag: 'rooms',
      params: RoomParams,
      success: { status: 200, description: 'The bans in force', schema: BanListSchema },
      errors: [400],
    },
    liftBan: {
      method: 'delete',
      path: '/rooms/{roomId}/bans/{identity}',
      access: 'room',
      summary: 'Lift a ban',
      description: 'The identity may connect to the room again.',
      tag: 'rooms',
      params: BanParams,
      success: { status: 204, description: 'Lifted' },
      errors: [400, 404],
    },
    mintToken: {
      method: 'post',
      path: '/tokens',
      access: 'room',
      summary: 'Mint an access token',
      description:
        "Only when the server has AUTH_SECRET (404 otherwise). A room admin mints only for its own room, only the join, publish, subscribe and publishData grants, and tokens that expire no later than its own (the answer's expiresAt says when).",
      tag: 'tokens',
      body: mintTokenRequestSchema(limits),
      success: { status: 201, description: 'The token', schema: TokenSchema },
      errors: [400, 404, 413],
    },
    getStats: {
      method: 'get',
      path: '/stats',
      access: 'server',
      summary: 'Workers, rooms and peers right now',
      tag: 'server',
      success: { status: 200, description: 'Counts', schema: StatsSchema },
      errors: [],
    },
  });
}

export type AdminOperations = ReturnType<typeof adminOperations>;

/** What a handler receives: parsed params and body, and who called (the scope is checked already). */
export interface OperationInput<O extends Operation> {
  params: O['params'] extends z.ZodType ? z.output<O['params']> : Record<string, never>;
  body: O['body'] extends z.ZodType ? z.output<O['body']> : undefined;
  caller: AdminCaller;
}

/** The room an operation acts on: its path's `roomId`, else its body's. */
export function targetRoom(params: unknown, body: unknown): string | undefined {
  for (const source of [params, body]) {
    const roomId = (source as { roomId?: unknown } | undefined)?.roomId;
    if (typeof roomId === 'string') return roomId;
  }
  return undefined;
}

/** Throws FORBIDDEN unless `caller` may run `op` on `roomId` (see Operation.access). Checked before anything is looked up. */
export function assertInScope(op: Pick<Operation, 'access'>, caller: AdminCaller, roomId: string | undefined): void {
  if (caller.scope === 'server') return;
  if (op.access === 'server') {
    throw new AppError('FORBIDDEN', 'a room admin token cannot do this: it needs ADMIN_API_KEY or a server-wide admin token');
  }
  if (roomId !== undefined && roomId !== caller.roomId) {
    throw new AppError('FORBIDDEN', `this token administers room '${caller.roomId}' only`);
  }
}
/** What a handler returns: the success body (nothing for 204). */
export type OperationOutput<O extends Operation> = O['success']['schema'] extends z.ZodType ? z.input<O['success']['schema']> : void;
