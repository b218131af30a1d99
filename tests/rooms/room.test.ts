/**
 * Room and RoomManager alone: a fake MediaPort and fake PeerChannels, no network, no mediasoup.
 * Timers are jest's fake timers where the empty timeout matters.
 */
import type { CloseReason, NotificationMap, NotificationName } from '../../shared/contract';
import { AppError } from '../../server/errors';
import { createSilentLogger } from '../../server/logger';
import type { MediaPort, PeerChannel } from '../../server/rooms/ports';
import { Room, type RoomCloseReason } from '../../server/rooms/room';
import { RoomManager } from '../../server/rooms/room-manager';

const logger = createSilentLogger();

/** A MediaPort that only counts: routers and transports by id, and the hooks it was given. */
class FakeMedia implements MediaPort {
  readonly routers = new Map<string, { roomId: string; onClosed: () => void }>();
  readonly closedRouters: string[] = [];
  readonly transports = new Set<string>();
  routerCreations = 0;
  #next = 0;
  /** Resolves createRouter after this many macrotask turns (0: next microtask). */
  routerDelayTurns = 0;

  async createRouter(roomId: string, onClosed: () => void): Promise<string> {
    this.routerCreations++;
    for (let i = 0; i < this.routerDelayTurns; i++) await new Promise((r) => setImmediate(r));
    const id = `router-${++this.#next}`;
    this.routers.set(id, { roomId, onClosed });
    return id;
  }
  closeRouter(routerId: string): void {
    if (!this.routers.delete(routerId)) return;
    this.closedRouters.push(routerId);
  }
  /** What a dying worker does: the router goes away without the room asking. */
  killRouter(routerId: string): void {
    const router = this.routers.get(routerId);
    this.routers.delete(routerId);
    router?.onClosed();
  }
  routerRtpCapabilities() {
    return { codecs: [], headerExtensions: [] };
  }
  async createTransport() {
    const transportId = `transport-${++this.#next}`;
    this.transports.add(transportId);
    return { transportId, ip: '127.0.0.1', port: 40000 };
  }
  async connectTransport(): Promise<void> {}
  closeTransport(transportId: string): void {
    this.transports.delete(transportId);
  }
  async produce(): Promise<string> {
    return `producer-${++this.#next}`;
  }
  async setProducerPaused(): Promise<void> {}
  closeProducer(): void {}
  canConsume(): boolean {
    return true;
  }
  async consume(): Promise<never> {
    throw new Error('not used by these tests');
  }
  async setConsumerPaused(): Promise<void> {}
  closeConsumer(): void {}
}

/** A PeerChannel that records what it was sent and how it was closed. */
class FakeChannel implements PeerChannel {
  readonly sent: Array<{ event: NotificationName; payload: unknown }> = [];
  readonly closes: Array<CloseReason | undefined> = [];
  /** Called synchronously from close(), as a socket's disconnect handler is. */
  onClose: (() => void) | undefined;

  send<E extends NotificationName>(event: E, payload: NotificationMap[E]): void {
    this.sent.push({ event, payload });
  }
  close(reason?: CloseReason): void {
    this.closes.push(reason);
    this.onClose?.();
  }
  names(): string[] {
    return this.sent.map((s) => s.event);
  }
}

function makeRoom(media: FakeMedia, opts: { maxPeers?: number; emptyTimeoutMs?: number } = {}): Promise<Room> {
  return Room.create({ roomId: 'r', media, maxPeers: opts.maxPeers ?? 3, emptyTimeoutMs: opts.emptyTimeoutMs ?? 1_000, logger });
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? error.code : `not an AppError: ${String(error)}`;
  }
  return 'no error';
}

afterEach(() => {
  jest.useRealTimers();
});

describe('room', () => {
  test('admits exactly maxPeers; a leave frees one place', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media, { maxPeers: 3 });
    const peers = [1, 2, 3].map((i) => room.join(`p${i}`, new FakeChannel()).peer);
    expect(room.peerCount).toBe(3);
    expect(code(() => room.join('p4', new FakeChannel()))).toBe('ROOM_FULL');
    expect(code(() => room.join('p5', new FakeChannel()))).toBe('ROOM_FULL');
    expect(room.peerCount).toBe(3);

    room.leave(peers[1]!);
    expect(room.peerCount).toBe(2);
    const late = room.join('p6', new FakeChannel());
    expect(late.peers.map((p) => p.displayName)).toEqual(['p1', 'p3']);
    expect(code(() => room.join('p7', new FakeChannel()))).toBe('ROOM_FULL');
    room.close('CLOSED_BY_ADMIN');
  });

  test('maxPeers 1: the second peer is refused', async () => {
    const room = await makeRoom(new FakeMedia(), { maxPeers: 1 });
    room.join('only', new FakeChannel());
    expect(code(() => room.join('second', new FakeChannel()))).toBe('ROOM_FULL');
    room.close('CLOSED_BY_ADMIN');
  });

  test('join announces peerJoined to the others, leave announces peerLeft; never to the peer itself', async () => {
    const room = await makeRoom(new FakeMedia());
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join('alice', ca).peer;
    const b = room.join(undefined, cb).peer;
    expect(b.displayName).toMatch(/^guest-/);
    expect(ca.sent).toEqual([{ event: 'peerJoined', payload: { peerId: b.id, displayName: b.displayName } }]);
    expect(cb.sent).toEqual([]);
    room.leave(a);
    room.leave(a); // idempotent
    expect(cb.sent).toEqual([{ event: 'peerLeft', payload: { peerId: a.id } }]);
    expect(ca.sent).toHaveLength(1);
    expect(ca.closes).toEqual([]); // leaving does not close the channel: the signalling layer does
    room.close('CLOSED_BY_ADMIN');
  });

  test('leave closes what the peer owned and announces its producers', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join('alice', ca).peer;
    room.join('bob', cb);
    const t = await a.createTransport({ direction: 'send', type: 'plain' });
    const producerId = await a.produce({
      transportId: t.transportId,
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] },
    });
    expect(media.transports.has(t.transportId)).toBe(true);
    room.leave(a);
    expect(media.transports.size).toBe(0);
    expect(cb.names()).toEqual(['newProducer', 'producerClosed', 'peerLeft']);
    expect(cb.sent[1]!.payload).toEqual({ producerId, peerId: a.id });
    expect(a.closed).toBe(true);
    room.close('CLOSED_BY_ADMIN');
  });

  test('an empty room closes after emptyTimeoutMs, with reason EMPTY, telling nobody', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const room = await makeRoom(media, { emptyTimeoutMs: 1_000 });
    const reasons: RoomCloseReason[] = [];
    room.onClose((reason) => reasons.push(reason));

    jest.advanceTimersByTime(999);
    expect(room.closed).toBe(false);
    jest.advanceTimersByTime(1);
    expect(room.closed).toBe(true);
    expect(reasons).toEqual(['EMPTY']);
    expect(media.closedRouters).toEqual([room.routerId]);
    expect(code(() => room.join('late', new FakeChannel()))).toBe('ROOM_CLOSED');
  });

  test('the empty timer restarts when the last peer leaves, and a join cancels it', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const room = await makeRoom(media, { emptyTimeoutMs: 1_000 });
    jest.advanceTimersByTime(600);
    const channel = new FakeChannel();
    const a = room.join('a', channel).peer;
    jest.advanceTimersByTime(10_000); // occupied: never closes
    expect(room.closed).toBe(false);

    room.leave(a);
    jest.advanceTimersByTime(999);
    expect(room.closed).toBe(false);
    const b = room.join('b', new FakeChannel()).peer; // just in time
    jest.advanceTimersByTime(10_000);
    expect(room.closed).toBe(false);

    room.leave(b);
    jest.advanceTimersByTime(999);
    expect(room.closed).toBe(false);
    jest.advanceTimersByTime(1);
    expect(room.closed).toBe(true);
    expect(media.closedRouters).toEqual([room.routerId]);
    expect(channel.closes).toEqual([]);
  });

  test('emptyTimeoutMs 0 closes on the next turn, not inside leave()', async () => {
    jest.useFakeTimers();
    const room = await makeRoom(new FakeMedia(), { emptyTimeoutMs: 0 });
    const a = room.join('a', new FakeChannel()).peer;
    room.leave(a);
    expect(room.closed).toBe(false);
    jest.advanceTimersByTime(0);
    expect(room.closed).toBe(true);
  });

  test('close() tells every peer the reason, closes the router once, and is idempotent', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const channels = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    const peers = channels.map((c, i) => room.join(`p${i}`, c).peer);
    const t = await peers[0]!.createTransport({ direction: 'recv', type: 'plain' });
    channels.forEach((c) => c.sent.splice(0));
    const reasons: RoomCloseReason[] = [];
    room.onClose((reason) => reasons.push(reason));

    room.close('CLOSED_BY_ADMIN');
    room.close('SERVER_SHUTDOWN');
    room.close('MEDIA_FAILURE');

    expect(channels.map((c) => c.closes)).toEqual([['CLOSED_BY_ADMIN'], ['CLOSED_BY_ADMIN'], ['CLOSED_BY_ADMIN']]);
    expect(channels.map((c) => c.sent)).toEqual([[], [], []]);
    expect(reasons).toEqual(['CLOSED_BY_ADMIN']);
    expect(media.closedRouters).toEqual([room.routerId]);
    expect(media.transports.has(t.transportId)).toBe(false);
    expect(peers.every((p) => p.closed)).toBe(true);
    expect(room.peerCount).toBe(0);
    expect(code(() => room.join('late', new FakeChannel()))).toBe('ROOM_CLOSED');
  });

  test('close() with channels that leave() on close (like a socket) sends no peerLeft', async () => {
    const room = await makeRoom(new FakeMedia());
    const channels = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    for (const [i, channel] of channels.entries()) {
      const { peer } = room.join(`p${i}`, channel);
      channel.onClose = () => room.leave(peer); // the signalling session's disconnect handler
    }
    channels.forEach((c) => c.sent.splice(0));
    room.close('SERVER_SHUTDOWN');
    expect(channels.map((c) => c.sent)).toEqual([[], [], []]);
    expect(channels.map((c) => c.closes)).toEqual([['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN']]);
  });

  test('a router closing from outside closes the room with MEDIA_FAILURE', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const channels = [new FakeChannel(), new FakeChannel()];
    channels.forEach((c, i) => room.join(`p${i}`, c));
    const reasons: RoomCloseReason[] = [];
    room.onClose((reason) => reasons.push(reason));

    media.killRouter(room.routerId);

    expect(room.closed).toBe(true);
    expect(reasons).toEqual(['MEDIA_FAILURE']);
    expect(channels.map((c) => c.closes)).toEqual([['MEDIA_FAILURE'], ['MEDIA_FAILURE']]);
    // Nothing left to fire later (no empty-timeout close on top of it).
    jest.advanceTimersByTime(60_000);
    expect(reasons).toEqual(['MEDIA_FAILURE']);
    expect(channels.map((c) => c.closes)).toEqual([['MEDIA_FAILURE'], ['MEDIA_FAILURE']]);
  });
});

describe('room-manager', () => {
  function manager(media: FakeMedia, opts: { maxPeers?: number; emptyTimeoutMs?: number } = {}) {
    return new RoomManager({ media, maxPeers: opts.maxPeers ?? 3, emptyTimeoutMs: opts.emptyTimeoutMs ?? 60_000, logger });
  }

  test('concurrent joins into a new room: one router, exactly maxPeers admitted', async () => {
    const media = new FakeMedia();
    media.routerDelayTurns = 3;
    const rooms = manager(media, { maxPeers: 3 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => rooms.join('r', `p${i}`, new FakeChannel())));
    const admitted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as AppError).code] : []));
    expect(admitted).toHaveLength(3);
    expect(refused).toEqual(Array(7).fill('ROOM_FULL'));
    expect(media.routerCreations).toBe(1);
    expect(rooms.stats()).toEqual({ rooms: 1, peers: 3 });
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('concurrent getOrCreateRoom calls share one room; different ids get different rooms', async () => {
    const media = new FakeMedia();
    media.routerDelayTurns = 2;
    const rooms = manager(media);
    const got = await Promise.all([rooms.getOrCreateRoom('x'), rooms.getOrCreateRoom('x'), rooms.getOrCreateRoom('y'), rooms.getOrCreateRoom('x')]);
    expect(new Set(got.filter((r) => r.id === 'x')).size).toBe(1);
    expect(got[2]!.id).toBe('y');
    expect(got[2]).not.toBe(got[0]);
    expect(media.routerCreations).toBe(2);
    expect([...rooms.rooms.keys()].sort()).toEqual(['x', 'y']);
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('a room that closed is forgotten; the next join gets a new room and router', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const rooms = manager(media, { emptyTimeoutMs: 500 });
    const first = await rooms.join('r', 'a', new FakeChannel());
    first.room.leave(first.peer);
    jest.advanceTimersByTime(500);
    expect(first.room.closed).toBe(true);
    expect(rooms.rooms.size).toBe(0);
    const second = await rooms.join('r', 'b', new FakeChannel());
    expect(second.room).not.toBe(first.room);
    expect(second.room.routerId).not.toBe(first.room.routerId);
    expect(rooms.stats()).toEqual({ rooms: 1, peers: 1 });
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('a router closing from outside: the room is dropped, its peers told MEDIA_FAILURE', async () => {
    const media = new FakeMedia();
    const rooms = manager(media);
    const channel = new FakeChannel();
    const { room } = await rooms.join('r', 'a', channel);
    media.killRouter(room.routerId);
    expect(channel.closes).toEqual(['MEDIA_FAILURE']);
    expect(rooms.rooms.has('r')).toBe(false);
    expect(rooms.stats()).toEqual({ rooms: 0, peers: 0 });
    const again = await rooms.join('r', 'b', new FakeChannel());
    expect(again.room.routerId).not.toBe(room.routerId);
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('closeAll while a room is being created: the late room is closed and the join refused', async () => {
    const media = new FakeMedia();
    media.routerDelayTurns = 2;
    const rooms = manager(media);
    const channel = new FakeChannel();
    const joining = rooms.join('r', 'late', channel);
    rooms.closeAll('SERVER_SHUTDOWN');
    await expect(joining).rejects.toMatchObject({ code: 'ROOM_CLOSED' });
    expect(media.routerCreations).toBe(1);
    expect(media.routers.size).toBe(0); // its router was closed, not left behind
    expect(rooms.stats()).toEqual({ rooms: 0, peers: 0 });
    expect(channel.sent).toEqual([]);
  });

  test('closeAll tells every peer SERVER_SHUTDOWN and refuses new rooms', async () => {
    const media = new FakeMedia();
    const rooms = manager(media);
    const channels = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    await rooms.join('r1', 'a', channels[0]!);
    await rooms.join('r1', 'b', channels[1]!);
    await rooms.join('r2', 'c', channels[2]!);
    rooms.closeAll('SERVER_SHUTDOWN');
    expect(channels.map((c) => c.closes)).toEqual([['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN']]);
    expect(rooms.stats()).toEqual({ rooms: 0, peers: 0 });
    expect(media.routers.size).toBe(0);
    await expect(rooms.getOrCreateRoom('r3')).rejects.toMatchObject({ code: 'ROOM_CLOSED' });
    await expect(rooms.join('r1', 'd', new FakeChannel())).rejects.toMatchObject({ code: 'ROOM_CLOSED' });
  });
});
