import { peerHandler } from './types';

export const pauseConsumer = peerHandler<'pauseConsumer'>(async (peer, req) => {
  await peer.setConsumerPaused(req.consumerId, true);
  return {};
});
