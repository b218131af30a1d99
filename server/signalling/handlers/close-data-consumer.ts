import { peerHandler } from './types';

export const closeDataConsumer = peerHandler<'closeDataConsumer'>((peer, req) => {
  peer.closeDataConsumer(req.dataConsumerId);
  return {};
});
