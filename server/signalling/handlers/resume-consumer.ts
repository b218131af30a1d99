import { peerHandler } from './types';

export const resumeConsumer = peerHandler<'resumeConsumer'>(async (peer, req) => {
  await peer.setConsumerPaused(req.consumerId, false);
  return {};
});
