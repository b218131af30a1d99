import { peerHandler } from './types';

export const closeTransport = peerHandler<'closeTransport'>((peer, req) => {
  peer.closeTransport(req.transportId);
  return {};
});
