/**
 * Signalling: one Socket.IO namespace per room, `/rooms/<roomId>`, under one parent namespace.
 * Admission middleware checks the room id and handshake auth before `connection`; each socket
 * then gets a SocketSession. Registered before the server listens, as socket.io requires for
 * child namespaces to inherit middlewares and listeners.
 */
import type https from 'node:https';
import { Server } from 'socket.io';
import { HandshakeAuthSchema } from '../../shared/contract';
import type { ErrorCode } from '../../shared/errors';
import { ROOM_ID_PATTERN, ROOM_NAMESPACE_PREFIX } from '../../shared/ids';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { RoomManager } from '../rooms/room-manager';
import { SocketSession } from './session';
import { SignallingObserver } from './signalling-observer';
import { describeZodError } from './to-ack';
import type { SignallingServer } from './types';

/** Matches every `/rooms/...` name, so a bad room id gets a clear error rather than "Invalid namespace". */
const ANY_ROOM_NAMESPACE = /^\/rooms\/.*$/s;

function refusal(code: ErrorCode, message: string): Error & { data: { code: string; message: string } } {
  return Object.assign(new Error(message), { data: { code, message } });
}

export function createSignalling(
  httpsServer: https.Server,
  rooms: RoomManager,
  config: Config['signalling'],
  logger: Logger,
  observer: SignallingObserver = new SignallingObserver(),
): SignallingServer {
  const log = logger.child({ component: 'signalling' });
  const io: SignallingServer = new Server(httpsServer, {
    maxHttpBufferSize: config.maxMessageBytes,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
    cors: { origin: true, credentials: true },
  });

  const roomsNamespace = io.of(ANY_ROOM_NAMESPACE);

  roomsNamespace.use((socket, next) => {
    const roomId = socket.nsp.name.slice(ROOM_NAMESPACE_PREFIX.length);
    if (!ROOM_ID_PATTERN.test(roomId)) {
      log.info('connection refused: bad room id', { namespace: socket.nsp.name.slice(0, 80) });
      observer.emit('connectionRefused', { code: 'BAD_REQUEST' });
      return next(refusal('BAD_REQUEST', `invalid room id: it must match ${ROOM_ID_PATTERN.source}`));
    }
    const auth = HandshakeAuthSchema.safeParse(socket.handshake.auth);
    if (!auth.success) {
      log.info('connection refused: bad handshake auth', { roomId, error: describeZodError(auth.error) });
      observer.emit('connectionRefused', { code: 'BAD_REQUEST' });
      return next(refusal('BAD_REQUEST', `invalid handshake auth: ${describeZodError(auth.error)}`));
    }
    socket.data = { roomId, displayName: auth.data?.displayName };
    next();
  });

  roomsNamespace.on('connection', (socket) => {
    new SocketSession(socket, rooms, { joinTimeoutMs: config.joinTimeoutMs, logger, observer, turn: config.turn });
  });

  return io;
}
