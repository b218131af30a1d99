import { peerHandler } from './types';

/** Replaces the peer's last-N pins; ids of peers not in the room are ignored (they may just have left). */
export const pinPeers = peerHandler<'pinPeers'>((peer, req) => {
  peer.pinPeers(req.peerIds);
  return {};
});
