import { AppError } from '../../errors';
import { joinedData } from './joined-data';
import { sessionHandler } from './types';

/** The same peer back on this new socket after its previous connection dropped. */
export const resume = sessionHandler<'resume'>((session, req) => {
  if (session.member) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
  const resumed = session.rooms.resume(session.roomId, req.resumeToken, session.channel, session.credentials.identity);
  return {
    data: { ...joinedData(session, resumed), ...resumed.owned },
    after: { type: 'enter', member: { room: resumed.room, peer: resumed.peer }, via: 'resume' },
  };
});
