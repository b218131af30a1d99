import { peerHandler } from './types';

export const restartIce = peerHandler<'restartIce'>(async (peer, req) => ({ iceParameters: await peer.restartIce(req.transportId) }));
