import { peerHandler } from './types';

export const createTransport = peerHandler<'createTransport'>((peer, req) => peer.createTransport(req));
