/** A peer's transports. */
import type { Handlers } from './types';

export const transportHandlers = {
  createTransport: (peer, req) => peer.createTransport(req),
  connectTransport: async (peer, req) => {
    await peer.connectTransport(req);
    return {};
  },
  closeTransport: (peer, req) => {
    peer.closeTransport(req.transportId);
    return {};
  },
  restartIce: async (peer, req) => ({ iceParameters: await peer.restartIce(req.transportId) }),
} satisfies Partial<Handlers>;
