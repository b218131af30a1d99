import { peerHandler } from './types';

export const pauseProducer = peerHandler<'pauseProducer'>(async (peer, req) => {
  await peer.setProducerPaused(req.producerId, true);
  return {};
});
