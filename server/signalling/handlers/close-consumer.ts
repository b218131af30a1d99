import { peerHandler } from './types';

export const closeConsumer = peerHandler<'closeConsumer'>((peer, req) => {
  peer.closeConsumer(req.consumerId);
  return {};
});
