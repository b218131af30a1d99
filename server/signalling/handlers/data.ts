/** A peer's data producers and data consumers (DataChannels over SCTP). */
import type { Handlers } from './types';

export const dataHandlers = {
  produceData: async (peer, req) => ({ dataProducerId: await peer.produceData(req) }),
  consumeData: (peer, req) => peer.consumeData(req),
  closeDataProducer: (peer, req) => {
    peer.closeDataProducer(req.dataProducerId);
    return {};
  },
  closeDataConsumer: (peer, req) => {
    peer.closeDataConsumer(req.dataConsumerId);
    return {};
  },
} satisfies Partial<Handlers>;
