import { peerHandler } from './types';

export const requestKeyFrame = peerHandler<'requestKeyFrame'>(async (peer, req) => {
  await peer.requestKeyFrame(req.consumerId);
  return {};
});
