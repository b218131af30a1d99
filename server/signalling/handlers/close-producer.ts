import { peerHandler } from './types';

export const closeProducer = peerHandler<'closeProducer'>((peer, req) => {
  peer.closeProducer(req.producerId);
  return {};
});
