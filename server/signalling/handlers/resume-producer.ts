import { peerHandler } from './types';

export const resumeProducer = peerHandler<'resumeProducer'>(async (peer, req) => {
  await peer.setProducerPaused(req.producerId, false);
  return {};
});
