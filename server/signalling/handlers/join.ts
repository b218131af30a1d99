import { AppError } from '../../errors';
import { joinedData } from './joined-data';
import { sessionHandler } from './types';

export const join = sessionHandler<'join'>(async (session, req) => {
  if (session.member) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
  const joined = await session.rooms.join(session.roomId, session.profile(req.displayName), session.channel);
  return { data: joinedData(session, joined), after: { type: 'enter', member: { room: joined.room, peer: joined.peer }, via: 'join' } };
});
