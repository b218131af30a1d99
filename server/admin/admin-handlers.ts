/**
 * What each admin operation does, over the room domain (RoomManager, Room, Peer) and two read
 * APIs: which worker serves a room, and the server's counts. Input arrives parsed, the caller's
 * scope checked (admin-router.ts); a missing room or peer is NOT_FOUND. The compiler checks
 * there is one handler per operation with the operation's input and output types.
 */
import type { z } from 'zod';
import { TrackSources } from '../../shared/contract';
import { mintAccessToken, verifyAccessToken, type GrantsClaim } from '../auth/access-token';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Peer } from '../rooms/peer';
import type { Room } from '../rooms/room';
import type { RoomManager } from '../rooms/room-manager';
import {
  DEFAULT_TOKEN_TTL_SECONDS,
  type AdminCaller,
  type AdminOperations,
  type OperationInput,
  type OperationOutput,
  type PeerDetailSchema,
  type RoomSummarySchema,
  type StatsSchema,
} from './admin-api';

/** The grants a room admin may hand out: those of a participant (never admin, never plain). */
const ROOM_ADMIN_GRANTS: ReadonlySet<keyof GrantsClaim> = new Set(['join', 'publish', 'subscribe', 'publishData']);

/** Whether `caller` sees `roomId` (a room admin sees its own room only). */
export function visibleTo(caller: AdminCaller, roomId: string): boolean {
  return caller.scope === 'server' || caller.roomId === roomId;
}

export interface AdminDeps {
  rooms: RoomManager;
  /** Which mediasoup worker serves a room (the media layer's read API). */
  roomWorkerPid(roomId: string): number | undefined;
  stats(): z.input<typeof StatsSchema>;
  /** Key of access tokens (AUTH_SECRET); POST /api/tokens is 404 without it. */
  tokenKey?: Uint8Array;
  /** The id of ADMIN_API_KEY that server-wide admin tokens carry (adminKeyId); undefined without an API key. */
  adminKeyId?: string;
  /** ADMIN_TOKEN_MAX_TTL_SECONDS: the default lifetime of an admin token when lower than an hour. */
  adminTokenMaxTtlSeconds: number;
  /** With REDIS_URL: this node's id, given with each room it hosts. */
  nodeId?: string;
  logger: Logger;
}

export type AdminHandlers = {
  readonly [K in keyof AdminOperations]: (
    input: OperationInput<AdminOperations[K]>,
  ) => Promise<OperationOutput<AdminOperations[K]>> | OperationOutput<AdminOperations[K]>;
};

export function adminHandlers(deps: AdminDeps): AdminHandlers {
  const log = deps.logger.child({ component: 'admin' });

  const findRoom = (roomId: string): Room => {
    const room = deps.rooms.rooms.get(roomId);
    if (!room || room.closed) throw new AppError('NOT_FOUND', `no open room '${roomId}'`);
    return room;
  };
  const findPeer = (room: Room, peerId: string): Peer => {
    const peer = room.peers.get(peerId as Peer['id']);
    if (!peer) throw new AppError('NOT_FOUND', `no peer ${peerId} in room '${room.id}'`);
    return peer;
  };
  const summary = (room: Room): z.input<typeof RoomSummarySchema> => {
    const producers = { audio: 0, video: 0 };
    for (const peer of room.peers.values()) for (const p of peer.producerInfos()) producers[p.kind]++;
    return {
      roomId: room.id,
      peerCount: room.peerCount,
      maxPeers: room.maxPeers,
      emptyTimeoutMs: room.emptyTimeoutMs,
      producers,
      workerPid: deps.roomWorkerPid(room.id) ?? null,
      createdAt: room.createdAt.toISOString(),
      ...(deps.nodeId ? { nodeId: deps.nodeId } : {}),
    };
  };
  const peerDetail = (peer: Peer): z.input<typeof PeerDetailSchema> => ({
    peerId: peer.id,
    identity: peer.identity,
    displayName: peer.displayName,
    joinedAt: peer.joinedAt.toISOString(),
    connected: peer.channel !== undefined,
    muted: peer.mutedKinds,
    producers: peer.producerInfos().map((p) => ({
      producerId: p.producerId,
      kind: p.kind,
      source: TrackSources.find((s) => s === p.appData.source) ?? null,
      paused: p.paused,
    })),
  });

  return {
    listRooms: ({ caller }) => ({
      rooms: [...deps.rooms.rooms.values()].filter((r) => !r.closed && visibleTo(caller, r.id)).map(summary),
    }),

    createRoom: async ({ body }) => {
      const room = await deps.rooms.createRoom(body.roomId, { maxPeers: body.maxPeers, emptyTimeoutMs: body.emptyTimeoutMs });
      log.info('createRoom() | room opened by an operator', {
        roomId: room.id,
        maxPeers: room.maxPeers,
        emptyTimeoutMs: room.emptyTimeoutMs,
      });
      return summary(room);
    },

    getRoom: ({ params }) => {
      const room = findRoom(params.roomId);
      return { ...summary(room), peers: [...room.peers.values()].map(peerDetail) };
    },

    closeRoom: ({ params }) => {
      const room = findRoom(params.roomId);
      log.info('closeRoom() | room closed by an operator', { roomId: room.id, peers: room.peerCount });
      room.close('CLOSED_BY_ADMIN');
    },

    kickPeer: async ({ params }) => {
      const room = findRoom(params.roomId);
      const peer = findPeer(room, params.peerId);
      log.info('kickPeer() | peer removed by an operator', { roomId: room.id, peerId: peer.id });
      await deps.rooms.kick(room, peer);
    },

    mutePeer: async ({ params, body }) => {
      const room = findRoom(params.roomId);
      const peer = findPeer(room, params.peerId);
      return { producerIds: await room.mute(peer, body.kind) };
    },

    unmutePeer: ({ params, body }) => {
      const room = findRoom(params.roomId);
      room.unmute(findPeer(room, params.peerId), body.kind);
    },

    listBans: async ({ params }) => ({
      bans: (await deps.rooms.bans.list(params.roomId)).map((ban) => ({
        identity: ban.identity,
        expiresAt: new Date(ban.expiresAt).toISOString(),
      })),
    }),

    liftBan: async ({ params }) => {
      if (!(await deps.rooms.liftBan(params.roomId, params.identity))) {
        throw new AppError('NOT_FOUND', `'${params.identity}' is not banned from room '${params.roomId}'`);
      }
      log.info('liftBan() | ban lifted by an operator', { roomId: params.roomId });
    },

    mintToken: async ({ body, caller }) => {
      const key = deps.tokenKey;
      if (!key) throw new AppError('NOT_FOUND', 'access tokens are off: the server has no AUTH_SECRET');
      let ttlSeconds = body.ttlSeconds ?? Math.min(DEFAULT_TOKEN_TTL_SECONDS, body.grants.admin ? deps.adminTokenMaxTtlSeconds : Infinity);
      if (caller.scope === 'room') {
        const beyond = Object.entries(body.grants).find(
          ([grant, value]) => value !== false && !ROOM_ADMIN_GRANTS.has(grant as keyof GrantsClaim),
        )?.[0];
        if (beyond || body.serverAdmin) {
          throw new AppError(
            'FORBIDDEN',
            `a room admin may grant only ${[...ROOM_ADMIN_GRANTS].join(', ')}, not '${beyond ?? 'serverAdmin'}'`,
          );
        }
        // Never a successor that outlives the caller's own token.
        ttlSeconds = Math.max(1, Math.min(ttlSeconds, caller.expiresAt - Math.floor(Date.now() / 1000)));
      }
      let adminKeyId: string | undefined;
      if (body.serverAdmin) {
        // Only the key itself: a server-wide token cannot renew itself.
        if (caller.scope !== 'server' || caller.identity !== undefined) {
          throw new AppError('FORBIDDEN', 'only ADMIN_API_KEY itself mints server-wide admin tokens');
        }
        adminKeyId = deps.adminKeyId;
        if (!adminKeyId) throw new AppError('BAD_REQUEST', 'server-wide admin tokens need ADMIN_API_KEY');
      }
      const token = await mintAccessToken(
        { identity: body.identity, roomId: body.roomId, displayName: body.displayName, grants: body.grants, ttlSeconds, adminKeyId },
        key,
      );
      const { expiresAt } = await verifyAccessToken(token, key, body.roomId);
      log.info('mintToken() | access token minted', {
        roomId: body.roomId,
        ttlSeconds,
        admin: body.grants.admin === true,
        serverAdmin: body.serverAdmin,
        by: caller.scope,
      });
      return { token, expiresAt: new Date(expiresAt * 1000).toISOString() };
    },

    getStats: () => deps.stats(),
  };
}
