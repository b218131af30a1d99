/** PeerChannel over one socket (socket.io's, or one relayed from another node): how the room domain talks to a client. */
import type { CloseReason } from '../../shared/contract';
import type { PeerChannel } from '../rooms/ports';
import type { SessionSocket } from './types';

export function socketChannel(socket: SessionSocket): PeerChannel {
  return {
    send: (event, payload) => {
      // socket.io's typed emit cannot follow a generic event name; the contract types the pair.
      (socket.emit as (e: string, p: unknown) => boolean)(event, payload);
    },
    close: (reason?: CloseReason) => {
      if (reason) socket.emit('roomClosed', { reason });
      socket.disconnect(true);
    },
  };
}
