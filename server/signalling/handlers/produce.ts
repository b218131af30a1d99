import { peerHandler } from './types';

export const produce = peerHandler<'produce'>(async (peer, req) => ({ producerId: await peer.produce(req) }));
