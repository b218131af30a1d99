import { peerHandler } from './types';

export const consumeData = peerHandler<'consumeData'>((peer, req) => peer.consumeData(req));
