/**
 * A cap on the data the server holds for a client that does not read it. Every answer and
 * notification becomes an engine.io packet in its connection's write queue; the queue goes to the
 * transport when it can take it — a websocket's send buffer (which stays full while the client
 * does not read), or the response to the client's next long-polling GET (which a client may never
 * send). Without a cap a client that stops reading grows the server without bound.
 *
 * Counted per engine.io connection (all room namespaces on it share one queue), from engine.io's
 * public events: `packetCreate` adds a packet to the queue, `flush` hands the whole queue to the
 * transport. A websocket's own backlog is the ws socket's `bufferedAmount`. Checked as each packet
 * is queued; over either cap the connection is closed on the next tick (not inside the emit that
 * queued the packet, which may be a room's fan-out loop), discarding what it holds.
 */
import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';

export interface UnsentDataCaps {
  maxBytes: number;
  maxPackets: number;
}

/** Transports as metric labels: engine.io's names, anything else `other`. */
export type TransportLabel = 'websocket' | 'polling' | 'other';

export interface UnsentDataOverflow {
  transport: TransportLabel;
  /** Unsent bytes (string lengths of the queued packets plus the websocket's buffer) and queued packets. */
  bytes: number;
  packets: number;
  remoteAddress: string;
}

/** engine.io packets as they are queued (`packetCreate`): data is an encoded socket.io packet or a binary attachment. */
interface QueuedPacket {
  data?: string | Buffer | ArrayBuffer | ArrayBufferView;
}

/** The ws socket under engine.io's websocket transport (a private field: read defensively). */
interface WebSocketTransport {
  socket?: { bufferedAmount?: unknown; terminate?: () => void };
}

function sizeOf(packet: QueuedPacket): number {
  const data = packet.data;
  if (data === undefined) return 0;
  return typeof data === 'string' ? data.length : data.byteLength;
}

function transportLabel(connection: EngineSocket): TransportLabel {
  const name = connection.transport.name;
  return name === 'websocket' || name === 'polling' ? name : 'other';
}

/** The websocket's bytes not yet taken by the kernel, or 0 on another transport. */
function webSocketBacklog(connection: EngineSocket): number {
  if (connection.transport.name !== 'websocket') return 0;
  const amount = (connection.transport as unknown as WebSocketTransport).socket?.bufferedAmount;
  return typeof amount === 'number' ? amount : 0;
}

/** Watches every connection of `engine`; `onOverflow` is told of each one closed for holding too much. */
export function capUnsentData(engine: EngineServer, caps: UnsentDataCaps, onOverflow: (overflow: UnsentDataOverflow) => void): void {
  engine.on('connection', (connection: EngineSocket) => watch(connection, caps, onOverflow));
}

function watch(connection: EngineSocket, caps: UnsentDataCaps, onOverflow: (overflow: UnsentDataOverflow) => void): void {
  let queuedPackets = 0;
  let queuedBytes = 0;
  let closing = false;
  connection.on('packetCreate', (packet: QueuedPacket) => {
    queuedPackets++;
    queuedBytes += sizeOf(packet);
    if (closing) return;
    const bytes = queuedBytes + webSocketBacklog(connection);
    if (queuedPackets <= caps.maxPackets && bytes <= caps.maxBytes) return;
    closing = true;
    const overflow = { transport: transportLabel(connection), bytes, packets: queuedPackets, remoteAddress: connection.remoteAddress };
    process.nextTick(() => {
      drop(connection);
      onOverflow(overflow);
    });
  });
  connection.on('flush', () => {
    queuedPackets = 0;
    queuedBytes = 0;
  });
}

/**
 * Closes at once, discarding the queue (an orderly close would wait for the queue to drain,
 * which is what never happens); a websocket is destroyed rather than sent a close frame that
 * would wait behind the unread data.
 */
function drop(connection: EngineSocket): void {
  const webSocket = connection.transport.name === 'websocket' ? (connection.transport as unknown as WebSocketTransport).socket : undefined;
  connection.close(true);
  webSocket?.terminate?.();
}
