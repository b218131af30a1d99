import { sessionHandler } from './types';

/** Allowed before join: a client loads its Device first. */
export const getRouterRtpCapabilities = sessionHandler<'getRouterRtpCapabilities'>(async (session) => {
  const room = session.member?.room ?? (await session.rooms.getOrCreateRoom(session.roomId));
  return { data: { rtpCapabilities: room.rtpCapabilities() } };
});
