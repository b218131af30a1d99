/**
 * One handler per request of the contract. The mapped type makes the compiler reject a missing
 * handler or a wrong response shape. Handlers are thin: the payload is already validated;
 * they call the room domain and return the ack data.
 */
import type { Empty, ParsedRequest, RequestName, ResponseMap } from '../../shared/contract';
import { AppError } from '../errors';
import type { Peer } from '../rooms/peer';
import type { Room } from '../rooms/room';
import type { RoomManager } from '../rooms/room-manager';
import type { PeerChannel } from '../rooms/ports';

/** What a handler may use: the socket's session state and the room manager. */
export interface RequestContext {
  readonly roomId: string;
  readonly handshakeDisplayName: string | undefined;
  readonly rooms: RoomManager;
  readonly channel: PeerChannel;
  /** Set once joined. */
  membership: { room: Room; peer: Peer } | undefined;
  /** True once the socket disconnected (a join finishing late must undo itself). */
  readonly disconnected: boolean;
  /** Set by `leave`: disconnect the socket once the ack is sent. */
  disconnectAfterAck: boolean;
}

type Handler<E extends RequestName> = (ctx: RequestContext, req: ParsedRequest<E>) => Promise<ResponseMap[E]> | ResponseMap[E];

const EMPTY: Empty = {};

function joined(ctx: RequestContext): Peer {
  if (!ctx.membership) throw new AppError('NOT_JOINED', 'join the room first');
  return ctx.membership.peer;
}

export const handlers: { [E in RequestName]: Handler<E> } = {
  getRouterRtpCapabilities: async (ctx) => {
    const room = ctx.membership?.room ?? (await ctx.rooms.getOrCreateRoom(ctx.roomId));
    return { rtpCapabilities: room.rtpCapabilities() };
  },

  join: async (ctx, req) => {
    if (ctx.membership) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
    const { room, peer, peers, producers } = await ctx.rooms.join(ctx.roomId, req.displayName ?? ctx.handshakeDisplayName, ctx.channel);
    if (ctx.disconnected) {
      room.leave(peer); // the client went away while joining
      throw new AppError('ROOM_CLOSED', 'disconnected while joining');
    }
    ctx.membership = { room, peer };
    return { peerId: peer.id, roomId: room.id, peers, producers };
  },

  createTransport: (ctx, req) => joined(ctx).createTransport(req),
  connectTransport: async (ctx, req) => {
    await joined(ctx).connectTransport(req);
    return EMPTY;
  },
  closeTransport: (ctx, req) => {
    joined(ctx).closeTransport(req.transportId);
    return EMPTY;
  },

  produce: async (ctx, req) => ({ producerId: await joined(ctx).produce(req) }),
  pauseProducer: async (ctx, req) => {
    await joined(ctx).setProducerPaused(req.producerId, true);
    return EMPTY;
  },
  resumeProducer: async (ctx, req) => {
    await joined(ctx).setProducerPaused(req.producerId, false);
    return EMPTY;
  },
  closeProducer: (ctx, req) => {
    joined(ctx).closeProducer(req.producerId);
    return EMPTY;
  },

  consume: (ctx, req) => joined(ctx).consume(req),
  pauseConsumer: async (ctx, req) => {
    await joined(ctx).setConsumerPaused(req.consumerId, true);
    return EMPTY;
  },
  resumeConsumer: async (ctx, req) => {
    await joined(ctx).setConsumerPaused(req.consumerId, false);
    return EMPTY;
  },
  closeConsumer: (ctx, req) => {
    joined(ctx).closeConsumer(req.consumerId);
    return EMPTY;
  },

  leave: (ctx) => {
    const peer = joined(ctx);
    ctx.membership?.room.leave(peer);
    ctx.membership = undefined;
    ctx.disconnectAfterAck = true;
    return EMPTY;
  },
};
