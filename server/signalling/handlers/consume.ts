import { peerHandler } from './types';

export const consume = peerHandler<'consume'>((peer, req) => peer.consume(req));
