import { peerHandler } from './types';

export const connectTransport = peerHandler<'connectTransport'>(async (peer, req) => {
  await peer.connectTransport(req);
  return {};
});
