import { peerHandler } from './types';

export const setConsumerPriority = peerHandler<'setConsumerPriority'>(async (peer, req) => {
  await peer.setConsumerPriority(req.consumerId, req.priority);
  return {};
});
