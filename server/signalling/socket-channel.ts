/** PeerChannel over one socket (socket.io's, or one relayed from another node): how the room domain talks to a client. */
import type { CloseReason, NotificationMap, NotificationName } from '../../shared/contract';
import type { Fanout, PeerChannel } from '../rooms/ports';
import type { RoomSocket, SessionSocket } from './types';

/** The socket.io socket behind each channel made here (for socketFanout); relayed sockets have none. */
const socketOf = new WeakMap<PeerChannel, RoomSocket>();

function isSocketIoSocket(socket: SessionSocket): socket is RoomSocket {
  return 'nsp' in socket;
}

export function socketChannel(socket: SessionSocket): PeerChannel {
  const channel: PeerChannel = {
    send: (event, payload) => {
      // socket.io's typed emit cannot follow a generic event name; the contract types the pair.
      (socket.emit as (e: string, p: unknown) => boolean)(event, payload);
    },
    close: (reason?: CloseReason) => {
      if (reason) socket.emit('roomClosed', { reason });
      socket.disconnect(true);
    },
  };
  if (isSocketIoSocket(socket)) socketOf.set(channel, socket);
  return channel;
}

/**
 * The room domain's Fanout over socket channels: one socket.io broadcast per namespace
 * (`nsp.to(socketIds).emit`), which encodes the packet and its WebSocket frame once for all
 * recipients instead of once per socket — a room announcement goes to every peer. Each socket
 * still gets the packet synchronously, in call order, like `socket.emit`; a socket that is gone
 * is skipped by both. Other channels (relayed clients of another node; fakes in tests) are sent to one by one.
 */
export const socketFanout: Fanout = (channels, event, payload) => {
  let group: SocketGroup | undefined;
  for (const channel of channels) {
    const socket = socketOf.get(channel);
    if (!socket) {
      channel.send(event, payload);
      continue;
    }
    if (group?.namespace !== socket.nsp) {
      if (group) send(group, event, payload);
      group = { namespace: socket.nsp, socketIds: [], first: channel };
    }
    group.socketIds.push(socket.id);
  }
  if (group) send(group, event, payload);
};

interface SocketGroup {
  namespace: RoomSocket['nsp'];
  socketIds: string[];
  first: PeerChannel;
}

function send<E extends NotificationName>(group: SocketGroup, event: E, payload: NotificationMap[E]): void {
  // One recipient: nothing to share, and a plain emit skips building a broadcast.
  if (group.socketIds.length === 1) group.first.send(event, payload);
  // `local`: these sockets are this node's; with the Redis adapter a plain broadcast would also be
  // published to every other node.
  else (group.namespace.local.to(group.socketIds).emit as (e: string, p: unknown) => boolean)(event, payload);
}
