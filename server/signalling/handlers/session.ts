/**
 * Requests about the connection itself: entering the room (join, resume), leaving it, the
 * client's credentials (refreshToken, getIceServers) and what a client loads before joining
 * (getRouterRtpCapabilities). The session acts on what they return (handlers/types.ts).
 */
import type { Joined } from '../../../shared/contract';
import { AccessTokenError } from '../../auth/access-token';
import { AppError, ForbiddenError } from '../../errors';
import type { JoinResult, Room } from '../../rooms/room';
import { mayUseRelay } from '../../turn/turn-credentials';
import type { Handlers, SessionView } from './types';

/** What `join` and `resume` both answer: the peer, the room as it is now, and how to come back. */
function joinedData(
  session: SessionView,
  { room, peer, peers, producers, dataProducers, activeSpeakerPeerId, resumeToken }: JoinResult & { room: Room },
): Joined {
  // Fresh TURN credentials each time: a resuming client may have been away long enough for the old ones to expire.
  const turn = session.iceServersFor(peer);
  return {
    peerId: peer.id,
    roomId: room.id,
    peers,
    producers,
    dataProducers,
    ...(activeSpeakerPeerId ? { activeSpeakerPeerId } : {}),
    resumeToken,
    reconnectGraceMs: room.reconnectGraceMs,
    grants: peer.grants,
    ...turn,
  };
}

export const sessionHandlers = {
  /**
   * Allowed before join: a client loads its Device first. Before join it opens the room (its
   * router) if needed, so it needs the `join` grant: a token without it creates no room.
   */
  getRouterRtpCapabilities: (session) => {
    // A member's room is at hand: answered without waiting for anything.
    if (session.member) return { data: { rtpCapabilities: session.member.room.rtpCapabilities() } };
    if (!session.credentials.grants.join) throw new ForbiddenError('the `join` grant is needed to load the room');
    // In open mode the room counts against the opener's address (ADDRESS_MAX_ROOMS).
    const { remoteAddress } = session.profile();
    return session.rooms
      .getOrCreateRoom(session.roomId, remoteAddress)
      .then((room) => ({ data: { rtpCapabilities: room.rtpCapabilities() } }));
  },

  join: async (session, req) => {
    if (session.member) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
    const joined = await session.rooms.join(session.roomId, session.profile(req.displayName), session.channel);
    return { data: joinedData(session, joined), after: { type: 'enter', member: { room: joined.room, peer: joined.peer }, via: 'join' } };
  },

  /** The same peer back on this new socket after its previous connection dropped. */
  resume: (session, req) => {
    if (session.member) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
    const resumed = session.rooms.resume(session.roomId, req.resumeToken, session.channel, session.credentials.identity);
    return {
      data: { ...joinedData(session, resumed), ...resumed.owned },
      after: { type: 'enter', member: { room: resumed.room, peer: resumed.peer }, via: 'resume' },
    };
  },

  leave: () => ({ data: {}, after: { type: 'leave' } }),

  /**
   * A fresh access token for this connection, before the current one expires (the session then
   * keeps the connection past the old expiry). It must verify for this room and name the same
   * identity; its grants replace the old ones for the requests that follow (its name is not
   * looked at: the others know the peer by the name it joined with). Works before join too.
   */
  refreshToken: async (session, req) => {
    let fresh;
    try {
      fresh = await session.authenticate(req.token);
    } catch (error) {
      if (error instanceof AccessTokenError) throw new AppError('UNAUTHORIZED', error.message);
      throw error;
    }
    if (fresh.identity !== session.credentials.identity) {
      throw new ForbiddenError('the new token is for another identity: a connection keeps the identity it connected with');
    }
    return {
      data: fresh.expiresAt === undefined ? {} : { expiresAt: fresh.expiresAt },
      after: { type: 'refresh', credentials: fresh },
    };
  },

  /**
   * Fresh TURN credentials for a joined peer whose credentials are ageing (the SDK asks halfway
   * through their life). Refused to a peer that may neither publish nor subscribe: it has no
   * media to relay, and a credential is a key to the relay that cannot be taken back.
   */
  getIceServers: (session) => {
    const { peer } = session.member;
    if (!mayUseRelay(peer.grants)) throw new ForbiddenError('TURN credentials are for peers that may publish or subscribe');
    return { data: session.iceServersFor(peer) ?? {} };
  },
} satisfies Partial<Handlers>;
