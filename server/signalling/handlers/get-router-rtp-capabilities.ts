import { ForbiddenError } from '../../errors';
import { sessionHandler } from './types';

/**
 * Allowed before join: a client loads its Device first. Before join it opens the room (its
 * router) if needed, so it needs the `join` grant: a token without it creates no room.
 */
export const getRouterRtpCapabilities = sessionHandler<'getRouterRtpCapabilities'>(async (session) => {
  if (!session.member && !session.credentials.grants.join) throw new ForbiddenError('the `join` grant is needed to load the room');
  const room = session.member?.room ?? (await session.rooms.getOrCreateRoom(session.roomId));
  return { data: { rtpCapabilities: room.rtpCapabilities() } };
});
