/**
 * Local helpers of the signalling tests (not a test file: jest only runs `*.test.ts`).
 * Raw acks (no throw on `{ ok: false }`), plain transports, notification recorders and
 * leak/consistency snapshots of the mediasoup appData index and the RoomManager.
 */
import { z } from 'zod';
import { request, type RoomSocket } from '../../../client/request';
import {
  notificationNames,
  notifications,
  type Ack,
  type NotificationMap,
  type NotificationName,
  type PlainTransportCreated,
} from '../../../shared/contract';
import type { ErrorCode } from '../../../shared/errors';
import type { TestServer } from '../../helpers/server';

/** A socket seen without the contract's typings, to send what a typed client cannot. */
interface UntypedSocket {
  emit(event: string, ...args: unknown[]): unknown;
  timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
}

export function untyped(socket: RoomSocket): UntypedSocket {
  return socket;
}

/**
 * Emits `event` with exactly `args` (so `ackOf(s, 'leave')` sends no payload at all) and
 * resolves with the raw ack. Rejects if no ack arrives within `timeoutMs`.
 */
export async function ackOf(socket: RoomSocket, event: string, ...args: unknown[]): Promise<Ack<unknown>> {
  return (await untyped(socket)
    .timeout(5_000)
    .emitWithAck(event, ...args)) as Ack<unknown>;
}

/** 'ok' or the error code of an ack. */
export function outcome(ack: Ack<unknown>): 'ok' | ErrorCode {
  return ack.ok ? 'ok' : ack.error.code;
}

/** Creates a plain transport; connects it to 127.0.0.1:`connectToPort` when given. */
export async function plainTransport(
  socket: RoomSocket,
  direction: 'send' | 'recv',
  connectToPort?: number,
): Promise<PlainTransportCreated> {
  const created = (await request(socket, 'createTransport', { direction, type: 'plain' })) as PlainTransportCreated;
  expect(typeof created.transportId).toBe('string');
  if (connectToPort !== undefined) {
    await request(socket, 'connectTransport', { transportId: created.transportId, ip: '127.0.0.1', port: connectToPort });
  }
  return created;
}

export interface Recorded {
  /** A NotificationName, or whatever else the server emitted (tests assert there is none). */
  event: string;
  payload: unknown;
}

/** Pushes that report ongoing state (who speaks, scores, layers) rather than changes of the room (the contract's `status`). */
export const STATUS_NOTIFICATIONS: ReadonlySet<string> = new Set(notificationNames.filter((name) => notifications[name].status));

/**
 * What is wrong with a notification the server sent, measured against the contract (its name,
 * its payload schema, and no field the schema does not document); undefined when nothing is.
 */
export function notificationProblem(event: string, payload: unknown): string | undefined {
  if (!(notificationNames as string[]).includes(event)) return `${event}: not a notification of the contract`;
  const schema = notifications[event as NotificationName].payload;
  const parsed = (schema instanceof z.ZodObject ? schema.strict() : schema).safeParse(payload);
  return parsed.success ? undefined : `${event} ${JSON.stringify(payload)}: ${z.prettifyError(parsed.error)}`;
}

/** Records every server → client event of a socket, in arrival order. */
export class Recorder {
  readonly events: Recorded[] = [];
  /** Notifications that do not match the contract (notificationProblem), in arrival order. */
  readonly problems: string[] = [];
  disconnectReason: string | undefined;

  constructor(socket: RoomSocket) {
    socket.onAny((event: string, payload: unknown) => {
      this.events.push({ event, payload });
      const problem = notificationProblem(event, payload);
      if (problem) this.problems.push(problem);
    });
    socket.on('disconnect', (reason) => (this.disconnectReason = reason));
  }

  of<E extends NotificationName>(event: E): NotificationMap[E][] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload as NotificationMap[E]);
  }

  names(): string[] {
    return this.events.map((e) => e.event);
  }

  /** names() without STATUS_NOTIFICATIONS: what changed in the room, in order. */
  changes(): string[] {
    return this.names().filter((name) => !STATUS_NOTIFICATIONS.has(name));
  }

  clear(): void {
    this.events.length = 0;
  }
}

/**
 * A round trip on `socket`: every notification the server emitted to it before handling this
 * request has arrived once this resolves (socket.io keeps one connection's packets in order).
 */
export async function barrier(socket: RoomSocket): Promise<void> {
  await request(socket, 'getRouterRtpCapabilities', {});
}

export interface IndexSizes {
  /** Per worker: sizes of worker.appData maps. */
  workers: Array<{ routers: number; transports: number; producers: number; consumers: number }>;
  /** Sums over every router of router.appData maps. */
  routerLevel: { transports: number; producers: number; consumers: number };
  /** Sums over every transport of transport.appData maps. */
  transportLevel: { producers: number; consumers: number };
  rooms: number;
  peers: number;
  /** engine.io connections still open on the server. */
  engineClients: number;
  /** socket.io namespaces (the main one plus one per room with sockets). */
  namespaces: number;
}

/** Sizes of every level of the appData index, the RoomManager and socket.io. */
export function indexSizes(server: TestServer): IndexSizes {
  const routerLevel = { transports: 0, producers: 0, consumers: 0 };
  const transportLevel = { producers: 0, consumers: 0 };
  const workers = server.workers.workers.map((w) => {
    for (const router of w.appData.routers.values()) {
      routerLevel.transports += router.appData.transports.size;
      routerLevel.producers += router.appData.producers.size;
      routerLevel.consumers += router.appData.consumers.size;
    }
    for (const transport of w.appData.transports.values()) {
      transportLevel.producers += transport.appData.producers.size;
      transportLevel.consumers += transport.appData.consumers.size;
    }
    return {
      routers: w.appData.routers.size,
      transports: w.appData.transports.size,
      producers: w.appData.producers.size,
      consumers: w.appData.consumers.size,
    };
  });
  return {
    workers,
    routerLevel,
    transportLevel,
    rooms: server.rooms.rooms.size,
    peers: server.rooms.stats().peers,
    engineClients: server.io.engine.clientsCount,
    namespaces: server.io._nsps.size,
  };
}

/** Per worker: sizes of the pipe maps of worker.appData (pipeToRouter between a spread room's routers). */
export function pipeSizes(server: TestServer): Array<{ transports: number; producers: number; consumers: number }> {
  return server.workers.workers.map(({ appData }) => ({
    transports: appData.pipeTransports.size,
    producers: appData.pipeProducers.size,
    consumers: appData.pipeConsumers.size,
  }));
}

/** Routers in the index that serve `roomId`. */
export function routersOfRoom(server: TestServer, roomId: string): string[] {
  const ids: string[] = [];
  for (const w of server.workers.workers) {
    for (const router of w.appData.routers.values()) if (router.appData.roomId === roomId) ids.push(router.id);
  }
  return ids;
}

/**
 * Checks that the index agrees with itself and with the rooms: every indexed object is open,
 * each level's maps are the union of the level below, the pipe maps hold exactly the pipe objects
 * and every pipe producer's origin is open on another worker, and each room's peers own exactly
 * what its routers hold apart from pipes. Returns a list of problems (empty when consistent).
 */
export function indexProblems(server: TestServer): string[] {
  const problems: string[] = [];
  /** Per room: what its routers hold that is not a pipe. */
  const heldByRoom = new Map<string, { transports: number; producers: number; consumers: number }>();
  for (const w of server.workers.workers) {
    const fromRouters = { transports: new Set<string>(), producers: new Set<string>(), consumers: new Set<string>() };
    for (const router of w.appData.routers.values()) {
      if (router.closed) problems.push(`closed router ${router.id} still indexed`);
      for (const id of router.appData.transports.keys()) fromRouters.transports.add(id);
      for (const id of router.appData.producers.keys()) fromRouters.producers.add(id);
      for (const id of router.appData.consumers.keys()) fromRouters.consumers.add(id);
      const roomId = router.appData.roomId ?? '';
      const held = heldByRoom.get(roomId) ?? { transports: 0, producers: 0, consumers: 0 };
      held.transports += [...router.appData.transports.keys()].filter((id) => !w.appData.pipeTransports.has(id)).length;
      held.producers += [...router.appData.producers.keys()].filter((id) => !w.appData.pipeProducers.has(id)).length;
      held.consumers += [...router.appData.consumers.keys()].filter((id) => !w.appData.pipeConsumers.has(id)).length;
      heldByRoom.set(roomId, held);
    }
    const fromTransports = { producers: new Set<string>(), consumers: new Set<string>() };
    const fromPipeTransports = { producers: new Set<string>(), consumers: new Set<string>() };
    for (const t of w.appData.transports.values()) {
      if (t.closed) problems.push(`closed transport ${t.id} still indexed`);
      if ((t.type === 'pipe') !== w.appData.pipeTransports.has(t.id)) problems.push(`transport ${t.id} (${t.type}) misfiled as to pipes`);
      for (const id of t.appData.producers.keys()) (t.type === 'pipe' ? fromPipeTransports : fromTransports).producers.add(id);
      for (const id of t.appData.consumers.keys()) (t.type === 'pipe' ? fromPipeTransports : fromTransports).consumers.add(id);
    }
    for (const p of w.appData.producers.values()) if (p.closed) problems.push(`closed producer ${p.id} still indexed`);
    for (const c of w.appData.consumers.values()) if (c.closed) problems.push(`closed consumer ${c.id} still indexed`);
    const same = (a: Iterable<string>, b: Set<string>) => {
      const left = new Set(a);
      return left.size === b.size && [...left].every((x) => b.has(x));
    };
    const union = (a: Set<string>, b: Set<string>) => new Set([...a, ...b]);
    if (!same(w.appData.transports.keys(), fromRouters.transports)) problems.push('worker/router transports differ');
    if (!same(w.appData.producers.keys(), fromRouters.producers)) problems.push('worker/router producers differ');
    if (!same(w.appData.consumers.keys(), fromRouters.consumers)) problems.push('worker/router consumers differ');
    if (!same(w.appData.producers.keys(), union(fromTransports.producers, fromPipeTransports.producers)))
      problems.push('worker/transport producers differ');
    if (!same(w.appData.consumers.keys(), union(fromTransports.consumers, fromPipeTransports.consumers)))
      problems.push('worker/transport consumers differ');
    if (!same(w.appData.pipeProducers.keys(), fromPipeTransports.producers)) problems.push('worker/pipe transport producers differ');
    if (!same(w.appData.pipeConsumers.keys(), fromPipeTransports.consumers)) problems.push('worker/pipe transport consumers differ');
    for (const id of w.appData.pipeProducers.keys()) {
      const origin = server.media.index.findProducer(id);
      if (!origin || origin.closed) problems.push(`pipe producer ${id} has no open origin`);
      else if (server.media.index.workerPidOf(id) === w.pid) problems.push(`pipe producer ${id} is on its origin's worker`);
    }
  }
  for (const room of server.rooms.rooms.values()) {
    const routerIds = server.media.routerIdsOf(room.id);
    if (routerIds.length === 0 || routerIds.some((id) => !server.media.index.findRouter(id))) {
      problems.push(`room ${room.id} has no router in the index`);
      continue;
    }
    if (JSON.stringify([...routerIds].sort()) !== JSON.stringify(routersOfRoom(server, room.id).sort())) {
      problems.push(
        `room ${room.id}: the media service knows routers ${routerIds.join()} but the index has ${routersOfRoom(server, room.id).join()}`,
      );
    }
    const owned = { transports: 0, producers: 0, consumers: 0 };
    for (const peer of room.peers.values()) {
      const c = peer.counts();
      owned.transports += c.transports;
      owned.producers += c.producers;
      owned.consumers += c.consumers;
    }
    const held = heldByRoom.get(room.id) ?? { transports: 0, producers: 0, consumers: 0 };
    if (JSON.stringify(owned) !== JSON.stringify(held)) {
      problems.push(`room ${room.id}: peers own ${JSON.stringify(owned)} but its routers hold ${JSON.stringify(held)}`);
    }
  }
  return problems;
}

/** Disconnects every socket of the list (idempotent). */
export function disconnectAll(sockets: Iterable<RoomSocket>): void {
  for (const s of sockets) s.disconnect();
}

/** Resolves when the socket is disconnected (at once if it already is). */
export function disconnected(socket: RoomSocket, timeoutMs = 5_000): Promise<string> {
  if (!socket.connected) return Promise.resolve('already disconnected');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket not disconnected within ${timeoutMs} ms`)), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** An RTP capabilities object that can receive opus only / VP8 only. */
export const OPUS_ONLY_CAPS = {
  codecs: [{ kind: 'audio' as const, mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2 }],
  headerExtensions: [],
};
export const VP8_ONLY_CAPS = {
  codecs: [{ kind: 'video' as const, mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000 }],
  headerExtensions: [],
};
