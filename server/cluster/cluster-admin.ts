/**
 * The admin API over the whole cluster: whichever node is asked, the room list has every node's
 * rooms (each live node answers for its own, to a signed request on the cluster bus), and an
 * operation on one room (get, close, kick, mute, unmute, lift a ban) runs on the node hosting it,
 * through that node's own handlers. A new room (POST /api/rooms) is placed like a room opened by
 * a join. Bans are in Redis (any node lists them; a ban of a room no node hosts is lifted here).
 * The caller goes along with each call and the room's node checks its scope again: a room
 * admin reaches its own room only, whichever node it asks.
 */
import { z } from 'zod';
import { AppError } from '../errors';
import {
  AdminCallerSchema,
  assertInScope,
  RoomSummarySchema,
  targetRoom,
  type AdminCaller,
  type AdminOperations,
  type Operation,
} from '../admin/admin-api';
import { visibleTo, type AdminHandlers } from '../admin/admin-handlers';
import type { Cluster } from './cluster';

/** Operations that act on one room, run where it lives. */
const ROOM_OPERATIONS = ['createRoom', 'getRoom', 'closeRoom', 'kickPeer', 'mutePeer', 'unmutePeer', 'liftBan'] as const;
type RoomOperation = (typeof ROOM_OPERATIONS)[number];

const AdminCallSchema = z.object({
  op: z.enum(ROOM_OPERATIONS),
  params: z.unknown().optional(),
  body: z.unknown().optional(),
  caller: AdminCallerSchema,
});

type AnyInput = { params: unknown; body: unknown; caller: AdminCaller };
type AnyHandler = (input: AnyInput) => unknown;

const asAny = (handlers: AdminHandlers): Record<RoomOperation, AnyHandler> => handlers as unknown as Record<RoomOperation, AnyHandler>;

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return where === 'path' ? {} : undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('BAD_REQUEST', `${where}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Handlers for this node's admin API: `local` for what is here, the other nodes' for the rest. */
export function clusterAdminHandlers(local: AdminHandlers, cluster: Cluster): AdminHandlers {
  const own = asAny(local);
  const roomIdOf = (op: RoomOperation, input: AnyInput): string =>
    op === 'createRoom' ? (input.body as { roomId: string }).roomId : (input.params as { roomId: string }).roomId;

  const onHost = (op: RoomOperation) => async (input: AnyInput) => {
    const roomId = roomIdOf(op, input);
    const host = op === 'createRoom' ? await cluster.place(roomId) : await cluster.hostOf(roomId);
    // A ban outlives its room: with no room open, it is lifted from Redis here.
    if (!host && op === 'liftBan') return own[op](input);
    if (!host) throw new AppError('NOT_FOUND', `no open room '${roomId}'`);
    if (host === cluster.self) return own[op](input);
    return cluster.call(host, 'admin', { op, params: input.params, body: input.body, caller: input.caller });
  };

  const remote = Object.fromEntries(ROOM_OPERATIONS.map((op) => [op, onHost(op)]));
  return {
    ...local,
    ...(remote as unknown as Pick<AdminHandlers, RoomOperation>),
    listRooms: async (input) => {
      const others = z.array(RoomSummarySchema).safeParse(await cluster.remoteRooms());
      if (!others.success) throw new AppError('INTERNAL', 'another node answered with rooms this node cannot read (another version?)');
      const mine = await local.listRooms(input);
      return { rooms: [...mine.rooms, ...others.data.filter((room) => visibleTo(input.caller, room.roomId))] };
    },
  };
}

/** Answers other nodes' admin calls for rooms hosted here, validating what arrives like the HTTP router does. */
export function serveClusterAdmin(cluster: Cluster, local: AdminHandlers, operations: AdminOperations): void {
  const own = asAny(local);
  const ops = operations as unknown as Record<RoomOperation, Operation>;
  cluster.serve('admin', (call) => {
    const parsed = AdminCallSchema.safeParse(call);
    if (!parsed.success) throw new AppError('BAD_REQUEST', 'not an admin call');
    const { op, caller } = parsed.data;
    const params = parse(ops[op].params, parsed.data.params, 'path');
    const body = parse(ops[op].body, parsed.data.body, 'body');
    assertInScope(ops[op], caller, targetRoom(params, body));
    return own[op]({ params, body, caller });
  });
}
