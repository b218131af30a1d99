import { peerHandler } from './types';

export const closeDataProducer = peerHandler<'closeDataProducer'>((peer, req) => {
  peer.closeDataProducer(req.dataProducerId);
  return {};
});
