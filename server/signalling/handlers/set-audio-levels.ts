import { peerHandler } from './types';

export const setAudioLevels = peerHandler<'setAudioLevels'>((peer, req) => {
  peer.setAudioLevels(req.enabled);
  return {};
});
