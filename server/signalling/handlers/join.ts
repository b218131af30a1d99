import { AppError } from '../../errors';
import { sessionHandler } from './types';

export const join = sessionHandler<'join'>(async (session, req) => {
  if (session.member) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
  const { room, peer, peers, producers, dataProducers, activeSpeakerPeerId, resumeToken } = await session.rooms.join(
    session.roomId,
    session.profile(req.displayName),
    session.channel,
  );
  const iceServers = session.iceServersFor(peer.identity);
  return {
    data: {
      peerId: peer.id,
      roomId: room.id,
      peers,
      producers,
      dataProducers,
      ...(activeSpeakerPeerId ? { activeSpeakerPeerId } : {}),
      resumeToken,
      reconnectGraceMs: room.reconnectGraceMs,
      grants: peer.grants,
      ...(iceServers ? { iceServers } : {}),
    },
    after: { type: 'enter', member: { room, peer }, via: 'join' },
  };
});
