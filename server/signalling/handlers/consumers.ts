/** A peer's consumers, and what it wants to receive of the room (last-N pins, audio levels). */
import type { Handlers } from './types';

export const consumerHandlers = {
  consume: (peer, req) => peer.consume(req),
  pauseConsumer: async (peer, req) => {
    await peer.setConsumerPaused(req.consumerId, true);
    return {};
  },
  resumeConsumer: async (peer, req) => {
    await peer.setConsumerPaused(req.consumerId, false);
    return {};
  },
  closeConsumer: (peer, req) => {
    peer.closeConsumer(req.consumerId);
    return {};
  },
  setConsumerPreferredLayers: async (peer, req) => {
    await peer.setConsumerPreferredLayers(req.consumerId, {
      spatialLayer: req.spatialLayer,
      ...(req.temporalLayer !== undefined ? { temporalLayer: req.temporalLayer } : {}),
    });
    return {};
  },
  setConsumerPriority: async (peer, req) => {
    await peer.setConsumerPriority(req.consumerId, req.priority);
    return {};
  },
  requestKeyFrame: async (peer, req) => {
    await peer.requestKeyFrame(req.consumerId);
    return {};
  },
  /** Replaces the peer's last-N pins; ids of peers not in the room are ignored (they may just have left). */
  pinPeers: (peer, req) => {
    peer.pinPeers(req.peerIds);
    return {};
  },
  setAudioLevels: (peer, req) => {
    peer.setAudioLevels(req.enabled);
    return {};
  },
} satisfies Partial<Handlers>;
