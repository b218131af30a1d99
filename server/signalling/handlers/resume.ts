import { AppError } from '../../errors';
import { sessionHandler } from './types';

/** The same peer back on this new socket after its previous connection dropped. */
export const resume = sessionHandler<'resume'>((session, req) => {
  if (session.member) throw new AppError('ALREADY_JOINED', 'this socket already joined the room');
  const { room, peer, peers, producers, dataProducers, activeSpeakerPeerId, resumeToken, owned } = session.rooms.resume(
    session.roomId,
    req.resumeToken,
    session.channel,
    session.credentials.identity,
  );
  // Fresh credentials: the client may have been away long enough for the old ones to matter.
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
      ...owned,
    },
    after: { type: 'enter', member: { room, peer }, via: 'resume' },
  };
});
