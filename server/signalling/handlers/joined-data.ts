/** What `join` and `resume` both answer: the peer, the room as it is now, and how to come back. */
import type { Joined } from '../../../shared/contract';
import type { JoinResult, Room } from '../../rooms/room';
import type { SessionView } from './types';

export function joinedData(
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
