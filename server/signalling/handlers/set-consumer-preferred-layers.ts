import { peerHandler } from './types';

export const setConsumerPreferredLayers = peerHandler<'setConsumerPreferredLayers'>(async (peer, req) => {
  await peer.setConsumerPreferredLayers(req.consumerId, {
    spatialLayer: req.spatialLayer,
    ...(req.temporalLayer !== undefined ? { temporalLayer: req.temporalLayer } : {}),
  });
  return {};
});
