/**
 * What each admin operation does, over the room domain (RoomManager, Room, Peer) and two read
 * APIs: which worker serves a room, and the server's counts. Input arrives parsed; a missing
 * room or peer is NOT_FOUND. The compiler checks there is one handler per operation with the
 * operation's input and output types.
 */
import type { z } from 'zod';
import { TrackSources } from '../../shared/contract';
import { mintAccessToken, verifyAccessToken } from '../auth/access-token';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Peer } from '../rooms/peer';
import type { Room } from '../rooms/room';
import type { RoomManager } from '../rooms/room-manager';
import type { AdminOperations, OperationInput, OperationOutput, PeerDetailSchema, RoomSummarySchema, StatsSchema } from './admin-api';

export interface AdminDeps {
  rooms: RoomManager;
  /** Which mediasoup worker serves a room (the media layer's read API). */
  roomWorkerPid(roomId: string): number | undefined;
  stats(): z.input<typeof StatsSchema>;
  /** Key of access tokens (AUTH_SECRET); POST /api/tokens is 404 without it. */
  tokenKey?: Uint8Array;
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
    producers: peer.producerInfos().map((p) => ({
      producerId: p.producerId,
      kind: p.kind,
      source: TrackSources.find((s) => s === p.appData.source) ?? null,
      paused: p.paused,
    })),
  });

  return {
    listRooms: () => ({ rooms: [...deps.rooms.rooms.values()].filter((r) => !r.closed).map(summary) }),

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

    kickPeer: ({ params }) => {
      const room = findRoom(params.roomId);
      const peer = findPeer(room, params.peerId);
      log.info('kickPeer() | peer removed by an operator', { roomId: room.id, peerId: peer.id });
      room.expel(peer, 'KICKED');
    },

    mutePeer: async ({ params, body }) => {
      const room = findRoom(params.roomId);
      const peer = findPeer(room, params.peerId);
      return { producerIds: await room.mute(peer, body.kind) };
    },

    mintToken: async ({ body }) => {
      const key = deps.tokenKey;
      if (!key) throw new AppError('NOT_FOUND', 'access tokens are off: the server has no AUTH_SECRET');
      const token = await mintAccessToken(
        { identity: body.identity, roomId: body.roomId, displayName: body.displayName, grants: body.grants, ttlSeconds: body.ttlSeconds },
        key,
      );
      const { expiresAt } = await verifyAccessToken(token, key, body.roomId);
      log.info('mintToken() | access token minted', {
        roomId: body.roomId,
        ttlSeconds: body.ttlSeconds,
        admin: body.grants.admin === true,
      });
      return { token, expiresAt: new Date(expiresAt * 1000).toISOString() };
    },

    getStats: () => deps.stats(),
  };
}
