import { AppError, ForbiddenError } from '../../errors';
import { mayUseRelay } from '../../turn/turn-credentials';
import { sessionHandler } from './types';

/**
 * Fresh TURN credentials for a joined peer whose credentials are ageing (the SDK asks halfway
 * through their life). Refused to a peer that may neither publish nor subscribe: it has no
 * media to relay, and a credential is a key to the relay that cannot be taken back.
 */
export const getIceServers = sessionHandler<'getIceServers'>((session) => {
  const peer = session.member?.peer;
  if (!peer) throw new AppError('NOT_JOINED', 'join the room first');
  if (!mayUseRelay(peer.grants)) throw new ForbiddenError('TURN credentials are for peers that may publish or subscribe');
  return { data: session.iceServersFor(peer) ?? {} };
});
