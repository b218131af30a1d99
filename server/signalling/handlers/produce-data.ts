import { peerHandler } from './types';

export const produceData = peerHandler<'produceData'>(async (peer, req) => ({ dataProducerId: await peer.produceData(req) }));
