import { ForbiddenError } from '../../errors';
import { sessionHandler } from './types';

/**
 * Allowed before join: a client loads its Device first. Before join it opens the room (its
 * router) if needed, so it needs the `join` grant: a token without it creates no room.
 */
export const getRouterRtpCapabilities = sessionHandler<'getRouterRtpCapabilities'>((session) => {
  // A member's room is at hand: answered without waiting for anything.
  if (session.member) return { data: { rtpCapabilities: session.member.room.rtpCapabilities() } };
  if (!session.credentials.grants.join) throw new ForbiddenError('the `join` grant is needed to load the room');
  // In open mode the room counts against the opener's address (ADDRESS_MAX_ROOMS).
  const { remoteAddress } = session.profile();
  return session.rooms
    .getOrCreateRoom(session.roomId, remoteAddress)
    .then((room) => ({ data: { rtpCapabilities: room.rtpCapabilities() } }));
});
