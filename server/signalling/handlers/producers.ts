/** A peer's producers (what it sends). */
import type { Handlers } from './types';

export const producerHandlers = {
  produce: async (peer, req) => ({ producerId: await peer.produce(req) }),
  pauseProducer: async (peer, req) => {
    await peer.setProducerPaused(req.producerId, true);
    return {};
  },
  resumeProducer: async (peer, req) => {
    await peer.setProducerPaused(req.producerId, false);
    return {};
  },
  closeProducer: (peer, req) => {
    peer.closeProducer(req.producerId);
    return {};
  },
} satisfies Partial<Handlers>;
