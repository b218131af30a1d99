/**
 * Room and RoomManager alone: a fake MediaPort and fake PeerChannels, no network, no mediasoup.
 * Timers are jest's fake timers where the empty timeout matters.
 */
import type { CloseReason, NotificationMap, NotificationName } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import { AppError } from '../../server/errors';
import { createSilentLogger } from '../../server/logger';
import { DEFAULT_PEER_LIMITS, type Peer } from '../../server/rooms/peer';
import type { MediaPort, PeerChannel, RoomMediaEvents } from '../../server/rooms/ports';
import { Room, type RoomCloseReason } from '../../server/rooms/room';
import { RoomManager } from '../../server/rooms/room-manager';
import { RoomObserver } from '../../server/rooms/room-observer';
import { SENDS_PER_CHUNK } from '../../server/rooms/room-outbox';
import { TurnPacer } from '../../server/rooms/turn-pacer';

const logger = createSilentLogger();

/** A MediaPort that only counts: room media by room id, transports by id, and the hooks it was given. */
class FakeMedia implements MediaPort {
  /** roomId → the room's media events and a generation number (bumped by each reset). */
  readonly rooms = new Map<string, { events: RoomMediaEvents; generation: number }>();
  readonly closedRooms: string[] = [];
  readonly transports = new Set<string>();
  openings = 0;
  #next = 0;
  /** Resolves openRoom after this many macrotask turns (0: next microtask). */
  openDelayTurns = 0;

  async openRoom(roomId: string, events: RoomMediaEvents): Promise<void> {
    this.openings++;
    for (let i = 0; i < this.openDelayTurns; i++) await new Promise((r) => setImmediate(r));
    this.rooms.set(roomId, { events, generation: ++this.#next });
  }
  closeRoom(roomId: string): void {
    if (!this.rooms.delete(roomId)) return;
    this.closedRooms.push(roomId);
  }
  /** What a dying worker does: the room's media goes away; it is replaced (`reset`) or not (`fail`). */
  loseRoomMedia(roomId: string, outcome: 'reset' | 'fail'): void {
    const media = this.rooms.get(roomId);
    if (!media) throw new Error(`no media for room ${roomId}`);
    this.transports.clear();
    if (outcome === 'reset') {
      media.generation = ++this.#next;
      media.events.onMediaReset();
    } else {
      this.rooms.delete(roomId);
      media.events.onMediaFailed();
    }
  }
  rtpCapabilities() {
    return { codecs: [], headerExtensions: [] };
  }
  createTransport() {
    const transportId = `transport-${++this.#next}`;
    this.transports.add(transportId);
    return Promise.resolve({ transportId, ip: '127.0.0.1', port: 40000 });
  }
  async connectTransport(): Promise<void> {}
  restartIce() {
    return Promise.resolve({ usernameFragment: 'u', password: 'p' });
  }
  closeTransport(transportId: string): void {
    this.transports.delete(transportId);
  }
  /** producerId → kind */
  readonly producers = new Map<string, MediaKind>();
  /** consumerId → paused in the (fake) media now */
  readonly consumers = new Map<string, boolean>();
  /** Speaker observers switched on (setAudioLevelsEnabled). */
  audioLevelsEnabled = false;
  produce(_transportId: string, { kind }: { kind: MediaKind }): Promise<string> {
    const producerId = `producer-${++this.#next}`;
    this.producers.set(producerId, kind);
    return Promise.resolve(producerId);
  }
  async setProducerPaused(): Promise<void> {}
  closeProducer(): void {}
  consume(_transportId: string, { producerId }: { producerId: string }) {
    const consumerId = `consumer-${++this.#next}`;
    this.consumers.set(consumerId, true);
    return Promise.resolve({
      consumerId,
      producerId,
      kind: this.producers.get(producerId) ?? 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] },
      type: 'simple' as const,
      paused: true as const,
    });
  }
  setConsumerPaused(consumerId: string, paused: boolean): Promise<void> {
    this.consumers.set(consumerId, paused);
    return Promise.resolve();
  }
  async setConsumerPreferredLayers(): Promise<void> {}
  async setConsumerPriority(): Promise<void> {}
  async requestKeyFrame(): Promise<void> {}
  closeConsumer(consumerId: string): void {
    this.consumers.delete(consumerId);
  }
  produceData(): Promise<string> {
    return Promise.resolve(`data-producer-${++this.#next}`);
  }
  closeDataProducer(): void {}
  consumeData(): Promise<never> {
    return Promise.reject(new Error('not used by these tests'));
  }
  closeDataConsumer(): void {}
  setAudioLevelsEnabled(_roomId: string, enabled: boolean): void {
    this.audioLevelsEnabled = enabled;
  }
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

function makeRoom(
  media: FakeMedia,
  opts: { maxPeers?: number; emptyTimeoutMs?: number; reconnectGraceMs?: number; observer?: RoomObserver; lastN?: number } = {},
): Promise<Room> {
  return Room.create({
    roomId: 'r',
    media,
    maxPeers: opts.maxPeers ?? 3,
    emptyTimeoutMs: opts.emptyTimeoutMs ?? 1_000,
    reconnectGraceMs: opts.reconnectGraceMs ?? 0,
    lastN: opts.lastN,
    observer: opts.observer ?? new RoomObserver(logger),
    logger,
  });
}

/** A profile with this display name. */
const as = (displayName?: string) => ({ displayName });

/** The rest of the current turn of the event loop: departures are announced then (room-outbox.ts). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
    const peers = [1, 2, 3].map((i) => room.join(as(`p${i}`), new FakeChannel()).peer);
    expect(room.peerCount).toBe(3);
    expect(code(() => room.join(as('p4'), new FakeChannel()))).toBe('ROOM_FULL');
    expect(code(() => room.join(as('p5'), new FakeChannel()))).toBe('ROOM_FULL');
    expect(room.peerCount).toBe(3);

    room.leave(peers[1]!);
    expect(room.peerCount).toBe(2);
    const late = room.join(as('p6'), new FakeChannel());
    expect(late.peers.map((p) => p.displayName)).toEqual(['p1', 'p3']);
    expect(code(() => room.join(as('p7'), new FakeChannel()))).toBe('ROOM_FULL');
    room.close('CLOSED_BY_ADMIN');
  });

  test('maxPeers 1: the second peer is refused', async () => {
    const room = await makeRoom(new FakeMedia(), { maxPeers: 1 });
    room.join(as('only'), new FakeChannel());
    expect(code(() => room.join(as('second'), new FakeChannel()))).toBe('ROOM_FULL');
    room.close('CLOSED_BY_ADMIN');
  });

  test('join announces peerJoined to the others, leave announces peerLeft; never to the peer itself', async () => {
    const room = await makeRoom(new FakeMedia());
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join(as('alice'), ca).peer;
    const b = room.join(as(undefined), cb).peer;
    expect(b.displayName).toMatch(/^guest-/);
    expect(ca.sent).toEqual([{ event: 'peerJoined', payload: { peerId: b.id, displayName: b.displayName } }]);
    expect(cb.sent).toEqual([]);
    room.leave(a);
    room.leave(a); // idempotent
    expect(room.peerCount).toBe(1); // gone at once; told after the turn
    expect(cb.sent).toEqual([]);
    await nextTurn();
    expect(cb.sent).toEqual([{ event: 'peerLeft', payload: { peerId: a.id } }]);
    expect(ca.sent).toHaveLength(1);
    expect(ca.closes).toEqual([]); // leaving does not close the channel: the signalling layer does
    room.close('CLOSED_BY_ADMIN');
  });

  test('leave closes what the peer owned and announces its producers', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join(as('alice'), ca).peer;
    room.join(as('bob'), cb);
    const t = await a.createTransport({ direction: 'send', type: 'plain' });
    const producerId = await a.produce({
      transportId: t.transportId,
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] },
    });
    expect(media.transports.has(t.transportId)).toBe(true);
    room.leave(a);
    expect(media.transports.size).toBe(0);
    await nextTurn();
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
    expect(media.closedRooms).toEqual(['r']);
    expect(code(() => room.join(as('late'), new FakeChannel()))).toBe('ROOM_CLOSED');
  });

  test('the empty timer restarts when the last peer leaves, and a join cancels it', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const room = await makeRoom(media, { emptyTimeoutMs: 1_000 });
    jest.advanceTimersByTime(600);
    const channel = new FakeChannel();
    const a = room.join(as('a'), channel).peer;
    jest.advanceTimersByTime(10_000); // occupied: never closes
    expect(room.closed).toBe(false);

    room.leave(a);
    jest.advanceTimersByTime(999);
    expect(room.closed).toBe(false);
    const b = room.join(as('b'), new FakeChannel()).peer; // just in time
    jest.advanceTimersByTime(10_000);
    expect(room.closed).toBe(false);

    room.leave(b);
    jest.advanceTimersByTime(999);
    expect(room.closed).toBe(false);
    jest.advanceTimersByTime(1);
    expect(room.closed).toBe(true);
    expect(media.closedRooms).toEqual(['r']);
    expect(channel.closes).toEqual([]);
  });

  test('emptyTimeoutMs 0 closes on the next turn, not inside leave()', async () => {
    jest.useFakeTimers();
    const room = await makeRoom(new FakeMedia(), { emptyTimeoutMs: 0 });
    const a = room.join(as('a'), new FakeChannel()).peer;
    room.leave(a);
    expect(room.closed).toBe(false);
    jest.advanceTimersByTime(0);
    expect(room.closed).toBe(true);
  });

  test('close() tells every peer the reason, closes the router once, and is idempotent', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const channels = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    const peers = channels.map((c, i) => room.join(as(`p${i}`), c).peer);
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
    expect(media.closedRooms).toEqual(['r']);
    expect(media.transports.has(t.transportId)).toBe(false);
    expect(peers.every((p) => p.closed)).toBe(true);
    expect(room.peerCount).toBe(0);
    expect(code(() => room.join(as('late'), new FakeChannel()))).toBe('ROOM_CLOSED');
  });

  test('close() with channels that leave() on close (like a socket) sends no peerLeft', async () => {
    const room = await makeRoom(new FakeMedia());
    const channels = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    for (const [i, channel] of channels.entries()) {
      const { peer } = room.join(as(`p${i}`), channel);
      channel.onClose = () => room.leave(peer); // the signalling session's disconnect handler
    }
    channels.forEach((c) => c.sent.splice(0));
    room.close('SERVER_SHUTDOWN');
    expect(channels.map((c) => c.sent)).toEqual([[], [], []]);
    expect(channels.map((c) => c.closes)).toEqual([['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN']]);
  });

  test('media that fails for good closes the room with MEDIA_FAILURE', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const channels = [new FakeChannel(), new FakeChannel()];
    channels.forEach((c, i) => room.join(as(`p${i}`), c));
    const reasons: RoomCloseReason[] = [];
    room.onClose((reason) => reasons.push(reason));

    media.loseRoomMedia('r', 'fail');

    expect(room.closed).toBe(true);
    expect(reasons).toEqual(['MEDIA_FAILURE']);
    expect(channels.map((c) => c.closes)).toEqual([['MEDIA_FAILURE'], ['MEDIA_FAILURE']]);
    // Nothing left to fire later (no empty-timeout close on top of it).
    jest.advanceTimersByTime(60_000);
    expect(reasons).toEqual(['MEDIA_FAILURE']);
    expect(channels.map((c) => c.closes)).toEqual([['MEDIA_FAILURE'], ['MEDIA_FAILURE']]);
  });
});

describe('Room: dropped connections, resume, media reset', () => {
  const audio = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] };

  test('a dropped peer keeps its place for the grace period, then leaves with peerLeft', async () => {
    jest.useFakeTimers();
    const observer = new RoomObserver(logger);
    const left: string[] = [];
    observer.on('peerLeft', ({ peer, reason }) => left.push(`${peer.displayName}:${reason}`));
    const room = await makeRoom(new FakeMedia(), { reconnectGraceMs: 5_000, observer });
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join(as('a'), ca).peer;
    room.join(as('b'), cb);
    room.peerDisconnected(a, ca);
    expect(room.peerCount).toBe(2);
    expect(a.channel).toBeUndefined();
    jest.advanceTimersByTime(4_999);
    expect(cb.names()).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(room.peerCount).toBe(1);
    expect(left).toEqual(['a:DISCONNECTED']);
    jest.runOnlyPendingTimers(); // the turn's end (setImmediate)
    expect(cb.names()).toEqual(['peerLeft']);
    room.close('CLOSED_BY_ADMIN');
  });

  test('resume within the grace: the same peer, nothing announced, a fresh single-use token and a snapshot', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const room = await makeRoom(media, { reconnectGraceMs: 5_000 });
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const joined = room.join(as('a'), ca);
    const b = room.join(as('b'), cb).peer;
    const t = await joined.peer.createTransport({ direction: 'send', type: 'plain' });
    const producerId = await joined.peer.produce({ transportId: t.transportId, kind: 'audio', rtpParameters: audio });
    cb.sent.splice(0);

    room.peerDisconnected(joined.peer, ca);
    const bt = await b.createTransport({ direction: 'send', type: 'plain' });
    const bProducer = await b.produce({ transportId: bt.transportId, kind: 'audio', rtpParameters: audio });
    expect(ca.sent.map((e) => e.event)).toEqual(['peerJoined']); // nothing delivered while away
    jest.advanceTimersByTime(4_000);

    const back = new FakeChannel();
    const resumed = room.resume(joined.resumeToken, back);
    expect(resumed.peer).toBe(joined.peer);
    expect(resumed.owned).toEqual({
      transportIds: [t.transportId],
      producerIds: [producerId],
      consumerIds: [],
      dataProducerIds: [],
      dataConsumerIds: [],
      serverPausedConsumerIds: [],
    });
    expect(resumed.producers.map((p) => p.producerId)).toEqual([bProducer]); // missed while away: re-synced
    expect(resumed.resumeToken).not.toBe(joined.resumeToken);
    expect(code(() => room.resume(joined.resumeToken, new FakeChannel()))).toBe('RESUME_FAILED');
    jest.advanceTimersByTime(60_000); // the grace timer was cancelled
    expect(room.peerCount).toBe(2);
    expect(cb.names()).toEqual([]); // b never saw a leave
    b.send('peerJoined', { peerId: 'x', displayName: 'x' });
    joined.peer.send('peerLeft', { peerId: 'x' });
    expect(back.names()).toEqual(['peerLeft']); // notifications reach the new connection
    room.close('CLOSED_BY_ADMIN');
    expect(back.closes).toEqual(['CLOSED_BY_ADMIN']);
  });

  test('resume while the server still holds the old connection closes it silently; its late drop is ignored', async () => {
    const room = await makeRoom(new FakeMedia(), { reconnectGraceMs: 5_000 });
    const old = new FakeChannel();
    const joined = room.join(as('a'), old);
    const fresh = new FakeChannel();
    room.resume(joined.resumeToken, fresh);
    expect(old.closes).toEqual([undefined]);
    room.peerDisconnected(joined.peer, old); // the old socket's disconnect arrives afterwards
    expect(joined.peer.channel).toBe(fresh);
    expect(room.peerCount).toBe(1);
    room.close('CLOSED_BY_ADMIN');
  });

  test('after the grace, or after leave, the token is refused', async () => {
    jest.useFakeTimers();
    const room = await makeRoom(new FakeMedia(), { reconnectGraceMs: 1_000, emptyTimeoutMs: 60_000 });
    const c = new FakeChannel();
    const a = room.join(as('a'), c);
    room.join(as('keep-open'), new FakeChannel());
    room.peerDisconnected(a.peer, c);
    jest.advanceTimersByTime(1_000);
    expect(code(() => room.resume(a.resumeToken, new FakeChannel()))).toBe('RESUME_FAILED');
    const b = room.join(as('b'), new FakeChannel());
    room.leave(b.peer);
    expect(code(() => room.resume(b.resumeToken, new FakeChannel()))).toBe('RESUME_FAILED');
    room.close('CLOSED_BY_ADMIN');
  });

  test('grace 0: a dropped connection is a leave', async () => {
    const room = await makeRoom(new FakeMedia(), { reconnectGraceMs: 0 });
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join(as('a'), ca).peer;
    room.join(as('b'), cb);
    room.peerDisconnected(a, ca);
    expect(room.peerCount).toBe(1);
    await nextTurn();
    expect(cb.names()).toEqual(['peerLeft']);
    room.close('CLOSED_BY_ADMIN');
  });

  test('media reset: peers stay, their media records go, everyone gets one mediaReset', async () => {
    const media = new FakeMedia();
    const observer = new RoomObserver(logger);
    const resets: string[] = [];
    observer.on('mediaReset', ({ roomId }) => resets.push(roomId));
    const room = await makeRoom(media, { observer });
    const [ca, cb] = [new FakeChannel(), new FakeChannel()];
    const a = room.join(as('a'), ca).peer;
    room.join(as('b'), cb);
    const t = await a.createTransport({ direction: 'send', type: 'plain' });
    await a.produce({ transportId: t.transportId, kind: 'audio', rtpParameters: audio });
    [ca, cb].forEach((c) => c.sent.splice(0));

    media.loseRoomMedia('r', 'reset');

    expect(room.closed).toBe(false);
    expect(room.peerCount).toBe(2);
    expect(a.counts()).toEqual({ transports: 0, producers: 0, consumers: 0 });
    expect(ca.sent).toEqual([{ event: 'mediaReset', payload: { reason: 'WORKER_DIED' } }]);
    expect(cb.sent).toEqual([{ event: 'mediaReset', payload: { reason: 'WORKER_DIED' } }]);
    expect(resets).toEqual(['r']);
    expect(code(() => a.closeTransport(t.transportId))).toBe('NOT_FOUND');
    room.close('CLOSED_BY_ADMIN');
  });

  test('the observer sees the lifecycle in order', async () => {
    const observer = new RoomObserver(logger);
    const seen: string[] = [];
    for (const event of ['roomOpened', 'roomClosed', 'peerJoined', 'peerLeft', 'producerOpened', 'producerClosed'] as const) {
      observer.on(event, () => seen.push(event));
    }
    observer.on('peerJoined', () => {
      throw new Error('a throwing listener does not break the room');
    });
    const room = await makeRoom(new FakeMedia(), { observer });
    const a = room.join(as('a'), new FakeChannel()).peer;
    const t = await a.createTransport({ direction: 'send', type: 'plain' });
    await a.produce({ transportId: t.transportId, kind: 'audio', rtpParameters: audio });
    room.leave(a);
    room.join(as('b'), new FakeChannel());
    room.close('CLOSED_BY_ADMIN');
    expect(seen).toEqual([
      'roomOpened',
      'peerJoined',
      'producerOpened',
      'producerClosed',
      'peerLeft',
      'peerJoined',
      'peerLeft',
      'roomClosed',
    ]);
  });
});

describe('room-manager', () => {
  function manager(media: FakeMedia, opts: { maxPeers?: number; emptyTimeoutMs?: number } = {}) {
    return new RoomManager({
      media,
      maxPeers: opts.maxPeers ?? 3,
      emptyTimeoutMs: opts.emptyTimeoutMs ?? 60_000,
      reconnectGraceMs: 0,
      logger,
    });
  }

  test('concurrent joins into a new room: one router, exactly maxPeers admitted', async () => {
    const media = new FakeMedia();
    media.openDelayTurns = 3;
    const rooms = manager(media, { maxPeers: 3 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => rooms.join('r', as(`p${i}`), new FakeChannel())));
    const admitted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as AppError).code] : []));
    expect(admitted).toHaveLength(3);
    expect(refused).toEqual(Array(7).fill('ROOM_FULL'));
    expect(media.openings).toBe(1);
    expect(rooms.stats()).toEqual({ rooms: 1, peers: 3 });
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('concurrent getOrCreateRoom calls share one room; different ids get different rooms', async () => {
    const media = new FakeMedia();
    media.openDelayTurns = 2;
    const rooms = manager(media);
    const got = await Promise.all([
      rooms.getOrCreateRoom('x'),
      rooms.getOrCreateRoom('x'),
      rooms.getOrCreateRoom('y'),
      rooms.getOrCreateRoom('x'),
    ]);
    expect(new Set(got.filter((r) => r.id === 'x')).size).toBe(1);
    expect(got[2].id).toBe('y');
    expect(got[2]).not.toBe(got[0]);
    expect(media.openings).toBe(2);
    expect([...rooms.rooms.keys()].sort()).toEqual(['x', 'y']);
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('a room that closed is forgotten; the next join gets a new room and router', async () => {
    jest.useFakeTimers();
    const media = new FakeMedia();
    const rooms = manager(media, { emptyTimeoutMs: 500 });
    const first = await rooms.join('r', as('a'), new FakeChannel());
    first.room.leave(first.peer);
    jest.advanceTimersByTime(500);
    expect(first.room.closed).toBe(true);
    expect(rooms.rooms.size).toBe(0);
    const second = await rooms.join('r', as('b'), new FakeChannel());
    expect(second.room).not.toBe(first.room);
    expect(media.openings).toBe(2);
    expect(rooms.stats()).toEqual({ rooms: 1, peers: 1 });
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('media that fails for good: the room is dropped, its peers told MEDIA_FAILURE', async () => {
    const media = new FakeMedia();
    const rooms = manager(media);
    const channel = new FakeChannel();
    const { room } = await rooms.join('r', as('a'), channel);
    media.loseRoomMedia('r', 'fail');
    expect(channel.closes).toEqual(['MEDIA_FAILURE']);
    expect(rooms.rooms.has('r')).toBe(false);
    expect(rooms.stats()).toEqual({ rooms: 0, peers: 0 });
    const again = await rooms.join('r', as('b'), new FakeChannel());
    expect(again.room).not.toBe(room);
    expect(media.openings).toBe(2);
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('closeAll while a room is being created: the late room is closed and the join refused', async () => {
    const media = new FakeMedia();
    media.openDelayTurns = 2;
    const rooms = manager(media);
    const channel = new FakeChannel();
    const joining = rooms.join('r', as('late'), channel);
    rooms.closeAll('SERVER_SHUTDOWN');
    await expect(joining).rejects.toMatchObject({ code: 'ROOM_CLOSED' });
    expect(media.openings).toBe(1);
    expect(media.rooms.size).toBe(0); // its router was closed, not left behind
    expect(rooms.stats()).toEqual({ rooms: 0, peers: 0 });
    expect(channel.sent).toEqual([]);
  });

  test('closeAll tells every peer SERVER_SHUTDOWN and refuses new rooms', async () => {
    const media = new FakeMedia();
    const rooms = manager(media);
    const channels = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    await rooms.join('r1', as('a'), channels[0]!);
    await rooms.join('r1', as('b'), channels[1]!);
    await rooms.join('r2', as('c'), channels[2]!);
    rooms.closeAll('SERVER_SHUTDOWN');
    expect(channels.map((c) => c.closes)).toEqual([['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN'], ['SERVER_SHUTDOWN']]);
    expect(rooms.stats()).toEqual({ rooms: 0, peers: 0 });
    expect(media.rooms.size).toBe(0);
    await expect(rooms.getOrCreateRoom('r3')).rejects.toMatchObject({ code: 'ROOM_CLOSED' });
    await expect(rooms.join('r1', as('d'), new FakeChannel())).rejects.toMatchObject({ code: 'ROOM_CLOSED' });
  });
});

describe('operator actions (admin API)', () => {
  const profile = { displayName: 'x' };

  test('mute pauses the peer’s producers of that kind and tells everyone, the owner included, with the reason', async () => {
    const media = new FakeMedia();
    const setPaused = jest.spyOn(media, 'setProducerPaused');
    const room = await makeRoom(media);
    const [ownerChannel, otherChannel] = [new FakeChannel(), new FakeChannel()];
    const { peer } = room.join(profile, ownerChannel);
    room.join(profile, otherChannel);
    const { transportId } = await peer.createTransport({ direction: 'send', type: 'plain' });
    const codecs = (mimeType: string) => ({ codecs: [{ mimeType, payloadType: 100, clockRate: 48000 }], encodings: [{ ssrc: 1 }] });
    const audio = await peer.produce({ transportId, kind: 'audio', rtpParameters: codecs('audio/opus') } as never);
    await peer.produce({ transportId, kind: 'video', rtpParameters: codecs('video/VP8') } as never);
    ownerChannel.sent.length = 0;
    otherChannel.sent.length = 0;

    expect(await room.mute(peer, 'audio')).toEqual([audio]);
    expect(setPaused.mock.calls as unknown[]).toEqual([[audio, true]]);
    const told = { event: 'producerPaused', payload: { producerId: audio, peerId: peer.id, reason: 'MUTED_BY_ADMIN' } };
    expect(ownerChannel.sent).toEqual([told]);
    expect(otherChannel.sent).toEqual([told]);
    expect(peer.findProducer(audio)?.paused).toBe(true);
    // Already paused: nothing to do, nobody told again.
    expect(await room.mute(peer, 'audio')).toEqual([]);
    expect(ownerChannel.sent).toHaveLength(1);
  });

  test('createRoom: its own cap and empty timeout; ROOM_EXISTS while the room is open or still opening', async () => {
    const media = new FakeMedia();
    media.openDelayTurns = 2;
    const rooms = new RoomManager({ media, maxPeers: 50, emptyTimeoutMs: 0, reconnectGraceMs: 0, logger });
    const opening = rooms.getOrCreateRoom('busy');
    await expect(rooms.createRoom('busy', {})).rejects.toMatchObject({ code: 'ROOM_EXISTS' });
    await opening;
    await expect(rooms.createRoom('busy', {})).rejects.toMatchObject({ code: 'ROOM_EXISTS' });

    const room = await rooms.createRoom('planned', { maxPeers: 1, emptyTimeoutMs: 60_000 });
    expect([room.maxPeers, room.emptyTimeoutMs]).toEqual([1, 60_000]);
    await new Promise((r) => setTimeout(r, 20));
    expect(room.closed).toBe(false); // the server's own empty timeout (0) would have closed it
    await rooms.join('planned', profile, new FakeChannel());
    await expect(rooms.join('planned', profile, new FakeChannel())).rejects.toMatchObject({ code: 'ROOM_FULL' });
    rooms.closeAll('SERVER_SHUTDOWN');
  });
});

describe('trust in the domain', () => {
  const OPEN = { join: true, publish: true, subscribe: true, publishData: true, admin: false, plain: true };

  test('the same identity joining again replaces the older peer, even in a full room', async () => {
    const observer = new RoomObserver(logger);
    const left: string[] = [];
    observer.on('peerLeft', ({ reason }) => left.push(reason));
    const room = await makeRoom(new FakeMedia(), { maxPeers: 2, observer });
    const first = new FakeChannel();
    const witness = new FakeChannel();
    const older = room.join({ identity: 'ada', displayName: 'Ada' }, first).peer;
    room.join({ identity: 'bob' }, witness);
    const newerChannel = new FakeChannel();
    const newer = room.join({ identity: 'ada', displayName: 'Ada' }, newerChannel).peer;
    expect(first.closes).toEqual(['DUPLICATE_IDENTITY']);
    expect(left).toEqual(['DUPLICATE_IDENTITY']);
    expect([...room.peers.values()].map((p) => p.identity).sort()).toEqual(['ada', 'bob']);
    expect(room.peers.has(older.id)).toBe(false);
    expect(room.peerWithIdentity('ada')).toBe(newer);
    await nextTurn();
    // Bob joined after the older ada: told it left, then the newer one joined (in that order);
    // the newer ada is not told of the older (its join snapshot never had it).
    expect(witness.names()).toEqual(['peerLeft', 'peerJoined']);
    expect(newerChannel.names()).toEqual([]);
    // Without identities (open mode) nobody replaces anybody.
    expect(code(() => room.join({}, new FakeChannel()))).toBe('ROOM_FULL');
  });

  test('an older peer of the same identity in its grace period is replaced without a roomClosed', async () => {
    const room = await makeRoom(new FakeMedia(), { reconnectGraceMs: 10_000 });
    const first = new FakeChannel();
    const older = room.join({ identity: 'ada' }, first).peer;
    room.peerDisconnected(older, first);
    room.join({ identity: 'ada' }, new FakeChannel());
    expect(first.closes).toEqual([]);
    expect(room.peerCount).toBe(1);
    room.close('SERVER_SHUTDOWN');
  });

  test('without the join grant nobody enters, and the manager opens no room for them', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    expect(code(() => room.join({ grants: { ...OPEN, join: false } }, new FakeChannel()))).toBe('FORBIDDEN');
    const rooms = new RoomManager({ media, maxPeers: 3, emptyTimeoutMs: 0, reconnectGraceMs: 0, logger });
    await expect(rooms.join('other', { grants: { ...OPEN, join: false } }, new FakeChannel())).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(rooms.rooms.has('other')).toBe(false);
    expect(media.openings).toBe(1);
  });

  test('server limits: rooms and peers over all rooms; a replacement at the cap still enters', async () => {
    const rooms = new RoomManager({
      media: new FakeMedia(),
      maxPeers: 10,
      emptyTimeoutMs: 60_000,
      reconnectGraceMs: 0,
      limits: { server: { maxRooms: 2, maxPeers: 3 }, peer: DEFAULT_PEER_LIMITS },
      logger,
    });
    await rooms.join('a', { identity: 'ada' }, new FakeChannel());
    await rooms.join('a', { identity: 'bob' }, new FakeChannel());
    await rooms.join('b', { identity: 'cy' }, new FakeChannel());
    await expect(rooms.getOrCreateRoom('c')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(rooms.join('b', { identity: 'dee' }, new FakeChannel())).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await rooms.join('b', { identity: 'cy' }, new FakeChannel()); // replaces cy: still 3
    expect(rooms.stats()).toEqual({ rooms: 2, peers: 3 });
    rooms.closeAll('SERVER_SHUTDOWN');
  });

  test('data producers need publishData and stay under their quota', async () => {
    const room = await makeRoom(new FakeMedia());
    const allowed = room.join({ grants: OPEN }, new FakeChannel()).peer;
    expect(() => allowed.assertMayProduceData()).not.toThrow();
    const denied = room.join({ grants: { ...OPEN, publishData: false } }, new FakeChannel()).peer;
    expect(code(() => denied.assertMayProduceData())).toBe('FORBIDDEN');
    const limited = await Room.create({
      roomId: 'limited',
      media: new FakeMedia(),
      maxPeers: 3,
      emptyTimeoutMs: 1_000,
      reconnectGraceMs: 0,
      peerLimits: { ...DEFAULT_PEER_LIMITS, maxDataProducers: 0 },
      observer: new RoomObserver(logger),
      logger,
    });
    expect(code(() => limited.join({ grants: OPEN }, new FakeChannel()).peer.assertMayProduceData())).toBe('LIMIT_EXCEEDED');
    room.close('SERVER_SHUTDOWN');
    limited.close('SERVER_SHUTDOWN');
  });

  test('a plain transport connects only to the peer’s own address; without a known address, nowhere', async () => {
    const room = await makeRoom(new FakeMedia());
    const connectCode = async (remoteAddress: string | undefined, ip: string) => {
      const peer = room.join({ remoteAddress }, new FakeChannel()).peer;
      const { transportId } = await peer.createTransport({ direction: 'send', type: 'plain' });
      try {
        await peer.connectTransport({ transportId, ip, port: 5004 });
        return 'ok';
      } catch (error) {
        return (error as AppError).code;
      } finally {
        room.leave(peer);
      }
    };
    expect(await connectCode('127.0.0.1', '127.0.0.1')).toBe('ok');
    expect(await connectCode('::ffff:192.0.2.1', '192.0.2.1')).toBe('ok');
    expect(await connectCode('2001:db8::1', '2001:0db8:0:0:0:0:0:1')).toBe('ok');
    expect(await connectCode('192.0.2.1', '192.0.2.2')).toBe('FORBIDDEN');
    expect(await connectCode('192.0.2.1', '::ffff:192.0.2.2')).toBe('FORBIDDEN');
    expect(await connectCode(undefined, '127.0.0.1')).toBe('FORBIDDEN');
    room.close('SERVER_SHUTDOWN');
  });
});

describe('who is speaking and last-N (domain rules, fake media)', () => {
  const codecs = (mimeType: string) => ({ codecs: [{ mimeType, payloadType: 100, clockRate: 48000 }], encodings: [{ ssrc: 1 }] });
  const caps = { codecs: [], headerExtensions: [] };

  /** Peers that each publish a camera (and a screen share for the first), and a subscriber consuming all of them. */
  async function lastNRoom(lastN: number, publishers: number) {
    const media = new FakeMedia();
    const room = await makeRoom(media, { maxPeers: 10, lastN });
    const pubs = [];
    for (let i = 0; i < publishers; i++) {
      const channel = new FakeChannel();
      const { peer } = room.join(as(`p${i}`), channel);
      const { transportId } = await peer.createTransport({ direction: 'send', type: 'plain' });
      const camera = await peer.produce({
        transportId,
        kind: 'video',
        rtpParameters: codecs('video/VP8'),
        appData: { source: 'camera' },
      } as never);
      const mic = await peer.produce({ transportId, kind: 'audio', rtpParameters: codecs('audio/opus') } as never);
      pubs.push({ peer, channel, camera, mic });
    }
    const subChannel = new FakeChannel();
    const { peer: sub } = room.join(as('sub'), subChannel);
    const { transportId } = await sub.createTransport({ direction: 'recv', type: 'plain' });
    const consumers = new Map<string, { consumerId: string; serverPaused: boolean }>();
    for (const p of pubs) {
      for (const producerId of [p.camera, p.mic]) {
        const c = await sub.consume({ transportId, producerId, rtpCapabilities: caps });
        consumers.set(producerId, c);
        await sub.setConsumerPaused(c.consumerId, false);
      }
    }
    return { media, room, pubs, sub, subChannel, consumers };
  }

  test('activeSpeaker goes to everyone only on a change, for peers of the room only', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const [a, b] = [new FakeChannel(), new FakeChannel()];
    const { peer } = room.join(as('a'), a);
    room.join(as('b'), b);
    const events = media.rooms.get('r')!.events;
    events.onActiveSpeaker(peer.id);
    events.onActiveSpeaker(peer.id);
    events.onActiveSpeaker('someone-else');
    expect(a.sent.filter((s) => s.event === 'activeSpeaker')).toEqual([{ event: 'activeSpeaker', payload: { peerId: peer.id } }]);
    expect(b.sent.filter((s) => s.event === 'activeSpeaker')).toHaveLength(1);
    expect(room.activeSpeakerPeerId).toBe(peer.id);
    expect(room.join(as('c'), new FakeChannel()).activeSpeakerPeerId).toBe(peer.id);
  });

  test('audio levels run only while a peer wants them, and reach only those peers', async () => {
    const media = new FakeMedia();
    const room = await makeRoom(media);
    const [a, b] = [new FakeChannel(), new FakeChannel()];
    const { peer } = room.join(as('a'), a);
    const { peer: other } = room.join(as('b'), b);
    peer.setAudioLevels(true);
    expect(media.audioLevelsEnabled).toBe(true);
    media.rooms.get('r')!.events.onAudioLevels([
      { peerId: other.id, dBov: -20 },
      { peerId: 'gone', dBov: -30 },
    ]);
    expect(a.sent.filter((s) => s.event === 'audioLevels')).toEqual([
      { event: 'audioLevels', payload: { levels: [{ peerId: other.id, dBov: -20 }] } },
    ]);
    expect(b.sent.filter((s) => s.event === 'audioLevels')).toEqual([]);
    room.leave(peer);
    await nextTurn();
    expect(media.audioLevelsEnabled).toBe(false);
  });

  test('last-N pauses video beyond the N first of the order, never audio nor screens; pins add; speaking reorders', async () => {
    const { media, room, pubs, subChannel, consumers, sub } = await lastNRoom(1, 3);
    const paused = (producerId: string) => consumers.get(producerId)!.serverPaused;
    // Before anyone spoke: the first joiner.
    expect(pubs.map((p) => paused(p.camera))).toEqual([false, true, true]);
    expect(pubs.map((p) => paused(p.mic))).toEqual([false, false, false]);
    expect(pubs.map((p) => media.consumers.get(consumers.get(p.camera)!.consumerId))).toEqual([false, true, true]);

    subChannel.sent.length = 0;
    media.rooms.get('r')!.events.onActiveSpeaker(pubs[2]!.peer.id);
    await new Promise((r) => setImmediate(r));
    const cameraConsumer = (i: number) => consumers.get(pubs[i]!.camera)!.consumerId;
    expect(subChannel.sent.filter((s) => s.event.startsWith('consumer'))).toEqual([
      { event: 'consumerPaused', payload: { consumerId: cameraConsumer(0), reason: 'LAST_N' } },
      { event: 'consumerResumed', payload: { consumerId: cameraConsumer(2), reason: 'LAST_N' } },
    ]);
    expect([0, 1, 2].map((i) => media.consumers.get(cameraConsumer(i)))).toEqual([true, true, false]);

    // Pins (unknown ids and oneself ignored) add to last-N.
    sub.pinPeers([pubs[1]!.peer.id, 'nobody', sub.id]);
    await new Promise((r) => setImmediate(r));
    expect([0, 1, 2].map((i) => media.consumers.get(cameraConsumer(i)))).toEqual([true, false, false]);
    expect(sub.owned().serverPausedConsumerIds).toEqual([cameraConsumer(0)]);

    // A screen share is never held.
    const { transportId } = await pubs[0]!.peer.createTransport({ direction: 'send', type: 'plain' });
    const screen = await pubs[0]!.peer.produce({
      transportId,
      kind: 'video',
      rtpParameters: codecs('video/VP8'),
      appData: { source: 'screen' },
    } as never);
    const recv = (await sub.createTransport({ direction: 'recv', type: 'plain' })).transportId;
    expect((await sub.consume({ transportId: recv, producerId: screen, rtpCapabilities: caps })).serverPaused).toBe(false);

    // The client's own pause and last-N combine: paused if either says so.
    await sub.setConsumerPaused(cameraConsumer(2), true);
    expect(media.consumers.get(cameraConsumer(2))).toBe(true);
    await sub.setConsumerPaused(cameraConsumer(2), false);
    expect(media.consumers.get(cameraConsumer(2))).toBe(false);
    await sub.setConsumerPaused(cameraConsumer(0), false); // last-N holds it
    expect(media.consumers.get(cameraConsumer(0))).toBe(true);

    // The speaker leaves: the next of the order comes in.
    room.leave(pubs[2]!.peer);
    await new Promise((r) => setImmediate(r));
    expect(media.consumers.get(cameraConsumer(0))).toBe(false);
  });
});

describe('announcements through a fan-out', () => {
  test('one fan-out per announcement, to the connected peers but the one it is about', async () => {
    const calls: Array<{ event: NotificationName; to: PeerChannel[] }> = [];
    const room = await Room.create({
      roomId: 'fan',
      media: new FakeMedia(),
      maxPeers: 5,
      emptyTimeoutMs: 1_000,
      reconnectGraceMs: 10_000,
      fanout: (channels, event, payload) => {
        calls.push({ event, to: [...channels] });
        for (const channel of channels) channel.send(event, payload);
      },
      observer: new RoomObserver(logger),
      logger,
    });
    const [a, b, c] = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
    const peerA = room.join(as('a'), a).peer;
    room.join(as('b'), b);
    room.peerDisconnected(peerA, a); // a is away: no channel
    calls.length = 0;
    room.join(as('c'), c);
    expect(calls).toEqual([{ event: 'peerJoined', to: [b] }]);
    expect(a.names()).toEqual(['peerJoined']); // b's join only, before it went away
    room.close('CLOSED_BY_ADMIN');
  });
});

describe('many peers leaving at once', () => {
  /**
   * A room of `count` peers, each with a producer, whose fan-out records each call's size and turn
   * of the event loop; `pacer` paces its departures (TurnPacer(0): one paced task per turn).
   */
  async function crowdedRoom(count: number, pacer?: TurnPacer) {
    const fanouts: Array<{ size: number; turn: number }> = [];
    let turn = 0;
    let turnMarked = false;
    const room = await Room.create({
      roomId: 'crowd',
      media: new FakeMedia(),
      maxPeers: count,
      emptyTimeoutMs: 1_000,
      reconnectGraceMs: 0,
      pacer,
      fanout: (channels, event, payload) => {
        if (!turnMarked) {
          turnMarked = true;
          setImmediate(() => {
            turnMarked = false;
            turn++;
          });
        }
        fanouts.push({ size: channels.length, turn });
        for (const channel of channels) channel.send(event, payload);
      },
      observer: new RoomObserver(logger),
      logger,
    });
    const audio = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] };
    const members: Array<{ peer: Peer; channel: FakeChannel }> = [];
    for (let i = 0; i < count; i++) {
      const channel = new FakeChannel();
      const { peer } = room.join(as(`p${i}`), channel);
      const { transportId } = await peer.createTransport({ direction: 'send', type: 'plain' });
      await peer.produce({ transportId, kind: 'audio', rtpParameters: audio } as never);
      members.push({ peer, channel });
    }
    for (const { channel } of members) channel.sent.length = 0;
    fanouts.length = 0;
    return { room, members, fanouts };
  }

  async function turns(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await nextTurn();
  }

  test('everyone leaving in one turn costs no announcement at all (each used to go to all the others)', async () => {
    const { room, members, fanouts } = await crowdedRoom(300);
    for (const { peer } of members) room.leave(peer, 'DISCONNECTED');
    await turns(5);
    expect(fanouts.reduce((sum, f) => sum + f.size, 0)).toBe(0);
    expect(room.peerCount).toBe(0);
  });

  test('200 of 300 leaving: the 100 left hear each departure once, in order, in paced chunks', async () => {
    const { room, members, fanouts } = await crowdedRoom(300, new TurnPacer(0));
    const leaving = members.slice(0, 200);
    const staying = members.slice(200);
    for (const { peer } of leaving) room.leave(peer);
    expect(staying.every(({ channel }) => channel.sent.length === 0)).toBe(true); // nothing inside leave()

    // Meanwhile the room goes on: a join is announced after the departures, and the newcomer hears none of them.
    const late = new FakeChannel();
    const { peer: newcomer } = room.join(as('late'), late);
    await turns(500);

    const expected = leaving.flatMap(({ peer }) => ['producerClosed', 'peerLeft'].map((event) => `${event}:${peer.id}`));
    for (const { channel } of staying) {
      expect(channel.sent.map((s) => `${s.event}:${(s.payload as { peerId: string }).peerId}`)).toEqual([
        ...expected,
        `peerJoined:${newcomer.id}`,
      ]);
    }
    expect(late.sent).toEqual([]);
    for (const { channel } of leaving) expect(channel.sent).toEqual([]);
    // 400 announcements to 100 peers (and the join), in chunks of at most SENDS_PER_CHUNK, one chunk per turn here.
    expect(fanouts.reduce((sum, f) => sum + f.size, 0)).toBe(400 * 100 + 100);
    expect(Math.max(...fanouts.map((f) => f.size))).toBeLessThanOrEqual(SENDS_PER_CHUNK);
    const perTurn = new Map<number, number>();
    for (const { size, turn } of fanouts) perTurn.set(turn, (perTurn.get(turn) ?? 0) + size);
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(SENDS_PER_CHUNK);
    expect(perTurn.size).toBeGreaterThanOrEqual((400 * 100) / SENDS_PER_CHUNK);
    room.close('CLOSED_BY_ADMIN');
  });
});
