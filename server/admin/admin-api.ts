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

/** An admin-created room with no emptyTimeoutMs stays open this long waiting for its first peer (LiveKit's default). */
export const CREATED_ROOM_EMPTY_TIMEOUT_MS = 300_000;
/** A minted token's lifetime when the request names none. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3_600;

const count = z.number().int().min(0);
const RoomId = z.string().regex(ROOM_ID_PATTERN).describe('Room id: 1–64 of A–Z a–z 0–9 _ -');
const PeerId = z.string().min(1).max(64).describe('Peer id (as in the join ack and peerJoined)');
const Timestamp = z.iso.datetime().describe('ISO 8601, UTC');

export const RoomParams = z.object({ roomId: RoomId });
export const PeerParams = z.object({ roomId: RoomId, peerId: PeerId });

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

export function mintTokenRequestSchema(maxTtlSeconds: number) {
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
        .max(maxTtlSeconds)
        .default(Math.min(DEFAULT_TOKEN_TTL_SECONDS, maxTtlSeconds))
        .describe('Lifetime in seconds (at most TOKEN_MAX_TTL_SECONDS)'),
    })
    .strict();
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
export function adminOperations(limits: { tokenMaxTtlSeconds: number }) {
  return operations({
    listRooms: {
      method: 'get',
      path: '/rooms',
      summary: 'List open rooms',
      description: 'With REDIS_URL: the rooms of every node of the cluster, whichever node is asked.',
      tag: 'rooms',
      success: { status: 200, description: 'The open rooms', schema: RoomListSchema },
      errors: [],
    },
    createRoom: {
      method: 'post',
      path: '/rooms',
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
      summary: 'A room with its peers and their producers',
      tag: 'rooms',
      params: RoomParams,
      success: { status: 200, description: 'The room', schema: RoomDetailSchema },
      errors: [400, 404],
    },
    closeRoom: {
      method: 'delete',
      path: '/rooms/{roomId}',
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
      summary: 'Remove a peer from its room',
      description: "The peer gets roomClosed { reason: 'KICKED' } and is disconnected; the others see peerLeft.",
      tag: 'rooms',
      params: PeerParams,
      success: { status: 204, description: 'Removed' },
      errors: [400, 404],
    },
    mutePeer: {
      method: 'post',
      path: '/rooms/{roomId}/peers/{peerId}/mute',
      summary: "Pause a peer's producers of one kind",
      description:
        "Everyone in the room, the peer included, gets producerPaused { reason: 'MUTED_BY_ADMIN' } for each; the peer may resume them itself.",
      tag: 'rooms',
      params: PeerParams,
      body: MuteRequestSchema,
      success: { status: 200, description: 'The producers paused', schema: MuteResultSchema },
      errors: [400, 404, 413],
    },
    mintToken: {
      method: 'post',
      path: '/tokens',
      summary: 'Mint an access token',
      description: 'Only when the server has AUTH_SECRET (404 otherwise).',
      tag: 'tokens',
      body: mintTokenRequestSchema(limits.tokenMaxTtlSeconds),
      success: { status: 201, description: 'The token', schema: TokenSchema },
      errors: [400, 404, 413],
    },
    getStats: {
      method: 'get',
      path: '/stats',
      summary: 'Workers, rooms and peers right now',
      tag: 'server',
      success: { status: 200, description: 'Counts', schema: StatsSchema },
      errors: [],
    },
  });
}

export type AdminOperations = ReturnType<typeof adminOperations>;

/** What a handler receives: parsed params and body. */
export interface OperationInput<O extends Operation> {
  params: O['params'] extends z.ZodType ? z.output<O['params']> : Record<string, never>;
  body: O['body'] extends z.ZodType ? z.output<O['body']> : undefined;
}
/** What a handler returns: the success body (nothing for 204). */
export type OperationOutput<O extends Operation> = O['success']['schema'] extends z.ZodType ? z.input<O['success']['schema']> : void;
