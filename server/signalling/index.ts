/**
 * Signalling: one Socket.IO namespace per room, `/rooms/<roomId>`, under one parent namespace.
 *  - Each connection's handshake (engine.io) passes the Origin policy and the per-IP connection
 *    rate (`allowRequest`: refused with 403 before any socket exists).
 *  - Admission middleware then checks the room id, the handshake auth, the number of rooms on
 *    this connection, the access token and the room's bans (a kicked identity is FORBIDDEN), and
 *    fills socket.data; refusals reach the client as `connect_error` with `data: { code, message }`.
 *  - With a cluster (REDIS_URL), a last step finds the node hosting the room: here, or another
 *    node, to which the connection is relayed (server/cluster).
 *  - Each admitted socket of a room hosted here gets a SocketSession; so does each client another
 *    node admitted and relays here.
 *  - A connection holding more unsent data than its caps (a client that does not read) is closed
 *    (unsent-data-cap.ts).
 * Registered before the server listens, as socket.io requires for child namespaces to inherit
 * middlewares and listeners.
 */
import type https from 'node:https';
import { Server, type Socket } from 'socket.io';
import { HandshakeAuthSchema } from '../../shared/contract';
import type { ErrorCode } from '../../shared/errors';
import { ROOM_ID_PATTERN, ROOM_NAMESPACE_PREFIX } from '../../shared/ids';
import { AccessTokenError } from '../auth/access-token';
import type { Authenticator, Credentials } from '../auth/authenticator';
import type { Config, Limits } from '../config';
import type { TrustedProxies } from '../http/client-address';
import type { OriginPolicy } from '../http/origins';
import { LogSampler } from '../limits/log-sampler';
import { ConnectionRateLimiter, RequestRateLimiter } from '../limits/rate-limits';
import type { Logger } from '../logger';
import { addressKey, normalizeAddress } from '../rooms/addresses';
import type { RoomManager } from '../rooms/room-manager';
import { BANNED_MESSAGE } from '../rooms/room';
import { SocketSession } from './session';
import { SignallingObserver } from './signalling-observer';
import { clip, describeZodError, errorBody } from './to-ack';
import type { RoomSocket, SessionSocket, SignallingServer } from './types';
import { capUnsentData } from './unsent-data-cap';

/** Matches every `/rooms/...` name, so a bad room id gets a clear error rather than "Invalid namespace". */
const ANY_ROOM_NAMESPACE = /^\/rooms\/.*$/s;
/** Log lines per socket (or per address, for refused connections) per minute, for what a client can repeat at will. */
const SAMPLED_LINES_PER_MINUTE = 3;

/** Who may connect, and how much: the trust side of signalling. */
export interface SignallingTrust {
  authenticator: Authenticator;
  origins: OriginPolicy;
  limits: Limits['connection'];
  /** Whose X-Forwarded-For names the client (TRUST_PROXY); the connection rate counts per client address (an IPv6 /64). */
  proxies: TrustedProxies;
  /** Rooms shared with other nodes (REDIS_URL); undefined: every room is here. */
  cluster?: SignallingCluster;
}

/** What signalling needs of a cluster (server/cluster/cluster.ts). */
export interface SignallingCluster {
  /**
   * After admission: undefined when the room is hosted here; otherwise the relay to its node,
   * open, to adopt once connected. Throws an AppError to refuse the connection with its code.
   */
  route(socket: RoomSocket): Promise<{ attach(): void } | undefined>;
  /** How sessions are started for clients that other nodes admitted and relay here. */
  serveRelayed(openSession: (socket: SessionSocket) => void): void;
}

type Refusal = Error & { data: { code: ErrorCode; message: string } };

function refusal(code: ErrorCode, message: string): Refusal {
  return Object.assign(new Error(message), { data: { code, message } });
}

export function createSignalling(
  httpsServer: https.Server,
  rooms: RoomManager,
  config: Config['signalling'],
  logger: Logger,
  observer: SignallingObserver,
  trust: SignallingTrust,
): SignallingServer {
  const log = logger.child({ component: 'signalling' });
  const { authenticator, origins, limits, proxies } = trust;
  const connectionLimiter = new ConnectionRateLimiter(limits);
  const requestLimiter = new RequestRateLimiter(limits);
  const sampler = new LogSampler(SAMPLED_LINES_PER_MINUTE);
  /** Room namespaces admitted on each engine.io connection. */
  const roomsOnConnection = new WeakMap<object, number>();

  const refuseConnection = (address: string, code: ErrorCode, message: string, fields: Record<string, unknown> = {}): void => {
    observer.emit('connectionRefused', { code });
    sampler.sample(`refused:${address}`, (suppressed) =>
      log.info(`connection refused: ${message}`, { address, code, suppressed, ...fields }),
    );
  };

  const io: SignallingServer = new Server(httpsServer, {
    maxHttpBufferSize: config.maxMessageBytes,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
    // CORS headers of the polling transport: only for the configured origins (the server's own
    // needs none). No credentials: signalling authenticates with the handshake's token, not cookies.
    cors: origins.allowsAny ? { origin: '*' } : { origin: [...origins.listed], credentials: false },
    // Every new engine.io connection (polling or websocket), before anything is allocated for it.
    allowRequest: (req, callback) => {
      const { address } = proxies.clientAddress(req);
      if (!origins.allowsRequest(req)) {
        refuseConnection(address, 'FORBIDDEN', 'origin not allowed', { origin: clip(String(req.headers.origin), 100) });
        return callback('origin not allowed (CORS_ORIGINS)', false);
      }
      void connectionLimiter.admit(addressKey(address)).then((allowed) => {
        if (allowed) return callback(null, true);
        refuseConnection(address, 'RATE_LIMITED', 'too many new connections from this address');
        callback('too many new connections from this address', false);
      });
    },
  });

  capUnsentData(io.engine, { maxBytes: limits.maxBufferedBytes, maxPackets: limits.maxBufferedPackets }, (overflow) => {
    observer.emit('slowClientDropped', { transport: overflow.transport });
    const address = normalizeAddress(overflow.remoteAddress);
    sampler.sample(`slow:${address}`, (suppressed) =>
      log.warn('slow client disconnected: unsent data over its cap', {
        address,
        transport: overflow.transport,
        bytes: overflow.bytes,
        packets: overflow.packets,
        maxBytes: limits.maxBufferedBytes,
        maxPackets: limits.maxBufferedPackets,
        suppressed,
      }),
    );
  });

  const roomsNamespace = io.of(ANY_ROOM_NAMESPACE);

  /** Refusal of one namespace connection, or undefined to admit it (socket.data is then filled). */
  async function admit(socket: RoomSocket): Promise<Refusal | undefined> {
    const client = proxies.clientAddress(socket.request);
    const address = client.address;
    const roomId = socket.nsp.name.slice(ROOM_NAMESPACE_PREFIX.length);
    if (!ROOM_ID_PATTERN.test(roomId)) {
      refuseConnection(address, 'BAD_REQUEST', 'bad room id', { namespace: clip(socket.nsp.name, 80) });
      return refusal('BAD_REQUEST', `invalid room id: it must match ${ROOM_ID_PATTERN.source}`);
    }
    const auth = HandshakeAuthSchema.safeParse(socket.handshake.auth);
    if (!auth.success) {
      const problem = describeZodError(auth.error);
      refuseConnection(address, 'BAD_REQUEST', 'bad handshake auth', { roomId, error: problem });
      return refusal('BAD_REQUEST', `invalid handshake auth: ${problem}`);
    }
    // One websocket carrying many rooms would multiply every per-socket limit.
    const connection = socket.conn;
    const open = roomsOnConnection.get(connection) ?? 0;
    if (open >= limits.maxRooms) {
      refuseConnection(address, 'LIMIT_EXCEEDED', 'too many rooms on one connection', { roomId });
      return refusal('LIMIT_EXCEEDED', `at most ${limits.maxRooms} rooms on one connection`);
    }
    roomsOnConnection.set(connection, open + 1); // reserved while the token is checked
    const release = (): void => {
      roomsOnConnection.set(connection, Math.max(0, (roomsOnConnection.get(connection) ?? 1) - 1));
    };
    let credentials: Credentials;
    try {
      credentials = await authenticator.authenticate(auth.data?.token, roomId);
    } catch (error) {
      release();
      if (!(error instanceof AccessTokenError)) throw error;
      refuseConnection(address, 'UNAUTHORIZED', 'no valid access token', { roomId, problem: error.problem });
      return refusal('UNAUTHORIZED', clip(error.message));
    }
    // In a cluster the bans are in Redis: whichever node the client reaches refuses it here.
    if (credentials.identity !== undefined && (await rooms.bans.find(roomId, credentials.identity))) {
      release();
      refuseConnection(address, 'FORBIDDEN', 'banned identity', { roomId });
      return refusal('FORBIDDEN', BANNED_MESSAGE);
    }
    socket.data = { roomId, displayName: auth.data?.displayName, credentials, remoteAddress: address, remoteAddressSource: client.source };
    socket.once('disconnect', release);
    return undefined;
  }

  roomsNamespace.use((socket, next) => {
    admit(socket).then(
      (refused) => next(refused),
      (error: unknown) => {
        log.error('connection admission failed', { error });
        observer.emit('connectionRefused', { code: 'INTERNAL' });
        next(refusal('INTERNAL', 'internal server error'));
      },
    );
  });

  const sessionOptions = {
    joinTimeoutMs: config.joinTimeoutMs,
    maxQueuedRequests: limits.maxQueuedRequests,
    limiter: requestLimiter,
    sampler,
    logger,
    observer,
    turn: config.turn,
    authenticator,
  };
  /** Sockets whose room is on another node: the relay to adopt them once connected. */
  const relayed = new WeakMap<RoomSocket, { attach(): void }>();
  const cluster = trust.cluster;
  if (cluster) {
    cluster.serveRelayed((socket) => new SocketSession(socket, rooms, sessionOptions));
    // The last step, after every admission check above: only an admitted client is routed.
    roomsNamespace.use((socket, next) => {
      cluster.route(socket).then(
        (relay) => {
          if (relay) relayed.set(socket, relay);
          next();
        },
        (error: unknown) => {
          const body = errorBody(error);
          if (body.code === 'INTERNAL') log.error('connection routing failed', { roomId: socket.data.roomId, error });
          else if (body.code === 'UNAVAILABLE')
            log.warn('connection routing failed: retry later', { roomId: socket.data.roomId, error: body.message });
          observer.emit('connectionRefused', { code: body.code });
          next(refusal(body.code, body.message));
        },
      );
    });
  }

  roomsNamespace.on('connection', (socket: Socket) => {
    const relay = relayed.get(socket as RoomSocket);
    if (relay) relay.attach();
    else new SocketSession(socket as RoomSocket, rooms, sessionOptions);
  });

  return io;
}
