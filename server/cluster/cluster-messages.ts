/**
 * What nodes say to each other through Redis, as zod schemas: each node's registry record and
 * every message on the node-to-node bus. Everything read from Redis is parsed with these before
 * use, once its signature checked (cluster-signing.ts): another node may run another version (a
 * message of an unknown version or shape is dropped with a log line, never half-understood).
 */
import { z } from 'zod';
import { DisplayNameSchema, notificationNames, notifications, type NotificationName } from '../../shared/contract';
import { ErrorCodes } from '../../shared/errors';
import { ROOM_ID_PATTERN } from '../../shared/ids';

/** Version of the records and messages below; a node drops what another version wrote. */
export const CLUSTER_PROTOCOL_VERSION = 1;

export const NodeIdSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
export type NodeId = z.output<typeof NodeIdSchema>;
const RoomIdSchema = z.string().regex(ROOM_ID_PATTERN);
const count = z.number().int().min(0);

/** A node process: each start draws a new one, so a node id's twin or successor is told apart from it. */
export const InstanceSchema = z.string().regex(/^[A-Za-z0-9_-]{8,32}$/);

/** A node's registration: who it is, where it is, how busy it is. Refreshed by its heartbeat. */
export const NodeRecordSchema = z.object({
  v: z.literal(CLUSTER_PROTOCOL_VERSION),
  id: NodeIdSchema,
  /** The process holding the record (its lease): only it refreshes the record. */
  inst: InstanceSchema,
  /** Where clients and operators reach it (HTTPS signalling, demo, admin API). */
  url: z.string().max(512),
  /** The address its ICE candidates carry (RTC_ANNOUNCED_ADDRESS, else RTC_LISTEN_IP). */
  mediaAddress: z.string().max(256),
  /** draining: finishing its rooms before it stops; it takes no new ones. */
  state: z.enum(['active', 'draining']),
  load: z.object({
    rooms: count,
    peers: count,
    consumers: count,
    /** CPU of its mediasoup workers over the last heartbeat, in cores (1 = one core busy). */
    workerCpu: z.number().min(0),
  }),
  startedAt: z.number(),
  updatedAt: z.number(),
});
export type NodeRecord = z.output<typeof NodeRecordSchema>;
export type NodeLoad = NodeRecord['load'];

const ErrorBodySchema = z.object({ code: z.enum(ErrorCodes), message: z.string().max(1_000) });

/** The notifications the room's node sends to a relayed client (the contract's relay rule). */
const relayedNotifications = notificationNames.filter((name) => notifications[name].relayed);
const NotificationNameSchema = z.enum(relayedNotifications as [NotificationName, ...NotificationName[]]);

/**
 * What the admitting node hands the room's node with a client: the room, the client's own name
 * and token from its handshake, and its address. Not the credentials it derived: the room's node
 * authenticates the token itself, with its own switches (ALLOW_PLAIN_TRANSPORTS), so no message
 * can carry grants that a valid token and the room's node's configuration do not give.
 */
export const RelayOpenDataSchema = z.object({
  roomId: RoomIdSchema,
  displayName: DisplayNameSchema.optional(),
  token: z.string().max(16_384).optional(),
  remoteAddress: z.string().min(1).max(64),
  remoteAddressSource: z.enum(['socket', 'proxy', 'unverified']).optional(),
});
export type RelayOpenData = z.output<typeof RelayOpenDataSchema>;

/** Relayed clients listed in one `relay:ping`, at most (beyond it the list is incomplete, and nothing is inferred from it). */
export const MAX_CONNS_PER_PING = 20_000;

/** A relayed connection: the admitting node's id and its socket id, `<nodeId>/<socketId>`. */
const ConnIdSchema = z.string().min(3).max(128);
const AckSchema = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }),
]);

/**
 * Every message's envelope, signed with it: sender (id and process), recipient (id, and its process
 * when known: a message for a node's previous process is not for its successor), when it was sent
 * and a nonce (freshness and replays, see ReplayGuard).
 */
const envelope = {
  v: z.literal(CLUSTER_PROTOCOL_VERSION),
  from: NodeIdSchema,
  inst: InstanceSchema,
  to: NodeIdSchema,
  toInst: InstanceSchema.optional(),
  ts: z.number(),
  nonce: z.string().min(8).max(32),
};
export const EnvelopeSchema = z.object(envelope);

export const BusMessageSchema = z.discriminatedUnion('type', [
  // ---- relay, admitting node → room's node
  /** A client was admitted for a room this node hosts: open a session for it. */
  z.object({ ...envelope, type: z.literal('relay:open'), conn: ConnIdSchema, data: RelayOpenDataSchema }),
  /** An event of the client (a request with `seq` when it has an ack), in the order it arrived. */
  z.object({
    ...envelope,
    type: z.literal('relay:event'),
    conn: ConnIdSchema,
    seq: z.number().int().min(0).nullable(),
    // socket.io delivers numbers as event names too; the session answers them BAD_REQUEST.
    event: z.union([z.string().max(256), z.number()]),
    args: z.array(z.unknown()).max(16),
  }),
  /** The client's connection ended (socket.io's reason). */
  z.object({ ...envelope, type: z.literal('relay:closed'), conn: ConnIdSchema, reason: z.string().max(64) }),
  // ---- relay, room's node → admitting node
  /** Answer to relay:open: the session is open, or refused (`moved`: the room is another node's now). */
  z.object({
    ...envelope,
    type: z.literal('relay:opened'),
    conn: ConnIdSchema,
    error: ErrorBodySchema.optional(),
    moved: NodeIdSchema.optional(),
  }),
  z.object({ ...envelope, type: z.literal('relay:ack'), conn: ConnIdSchema, seq: z.number().int().min(0), response: AckSchema }),
  z.object({
    ...envelope,
    type: z.literal('relay:emit'),
    conn: ConnIdSchema,
    event: NotificationNameSchema,
    payload: z.record(z.string(), z.unknown()),
  }),
  /** The room's node ends the connection (after a roomClosed, when there is one). */
  z.object({ ...envelope, type: z.literal('relay:disconnect'), conn: ConnIdSchema }),
  // ---- liveness between the two ends of relayed clients (every heartbeat)
  /** Admitting node → room's node: the clients it relays there now (opening ones included; all of them if `complete`). */
  z.object({ ...envelope, type: z.literal('relay:ping'), conns: z.array(ConnIdSchema).max(MAX_CONNS_PER_PING), complete: z.boolean() }),
  /**
   * Room's node → admitting node: of the listed clients, those to cut so that they resume (it holds no
   * session for them, or some of what it sent them was lost).
   */
  z.object({ ...envelope, type: z.literal('relay:pong'), resync: z.array(ConnIdSchema).max(MAX_CONNS_PER_PING) }),
  // ---- registry
  /** A node that reaped another tells it, in case it is alive after all (stalled, cut off): it was declared dead. */
  z.object({ ...envelope, type: z.literal('node:down'), node: NodeIdSchema, deadInst: InstanceSchema }),
  // ---- requests between nodes (admin operations on the room's node)
  z.object({ ...envelope, type: z.literal('rpc:request'), id: z.string().max(64), method: z.string().max(64), params: z.unknown() }),
  z.object({
    ...envelope,
    type: z.literal('rpc:response'),
    id: z.string().max(64),
    result: z.unknown().optional(),
    error: ErrorBodySchema.optional(),
  }),
]);
export type BusMessage = z.output<typeof BusMessageSchema>;
export type BusMessageType = BusMessage['type'];
/** A message as its sender writes it (the envelope is added by the bus). */
export type OutgoingMessage = BusMessage extends infer M ? (M extends BusMessage ? Omit<M, keyof typeof envelope> : never) : never;
