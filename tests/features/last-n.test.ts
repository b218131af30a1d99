/**
 * Last-N with real RTP: six plain-RTP fake peers, each with a camera and a microphone, in a room
 * with ROOM_LAST_N=2. Who receives whose video is measured from the packets that arrive, not from
 * flags: each peer gets video from exactly the 2 most recent speakers other than itself (before
 * anyone spoke: the first joiners); when a third peer speaks, the oldest speaker's video consumer
 * is paused (consumerPaused LAST_N) and the new one's resumed, a client's own pause still holds,
 * audio from everyone keeps flowing, and pinning a silent peer brings its video to the pinner only.
 */
import { request } from '../../client/request';
import { FakePeer, Pacer } from '../../client/fake-peer';
import type { ReceivedStream } from '../../client/fake-peer/engine';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';
import { Recorder } from '../signalling/support/harness';

const LAST_N = 2;
const TALKING = -15;
const SILENT = -127;

let server: TestServer;
const pacer = new Pacer();
let peers: FakePeer[] = [];

beforeAll(async () => {
  server = await startTestServer({ ROOM_LAST_N: String(LAST_N) });
  // Joined one after the other: the join order is the last-N order until someone speaks.
  for (let i = 1; i <= 6; i++) {
    const peer = new FakePeer(
      {
        url: server.url,
        roomId: 'last-n',
        displayName: `p${i}`,
        kinds: ['audio', 'video'],
        engine: 'plain',
        insecure: true,
        audioLevelDbov: SILENT,
      },
      pacer,
    );
    await peer.start();
    peers.push(peer);
  }
  for (const peer of peers) expect(peer.errors).toEqual([]);
  // Everyone consumes everyone's audio and video (5 + 5).
  await waitFor(() => peers.every((p) => p.received.length === 10), 'every peer to consume the 10 streams of the others');
});

afterAll(async () => {
  pacer.stop();
  await Promise.all(peers.map((p) => p.stop()));
  await server?.close();
});

const name = (peerId: string): string => peers.find((p) => p.peerId === peerId)?.options.displayName ?? peerId;

/** Over `ms`, per subscriber: the names of the peers whose `kind` packets arrived. */
async function flowing(kind: 'audio' | 'video', ms = 1_000): Promise<Record<string, string[]>> {
  const count = (s: ReceivedStream) => s.stats.snapshot().packets;
  const before = peers.map((p) => p.received.map(count));
  await new Promise((r) => setTimeout(r, ms));
  return Object.fromEntries(
    peers.map((p, i) => [
      p.options.displayName,
      p.received
        .filter((s, j) => s.producer.kind === kind && count(s) > before[i]![j]!)
        .map((s) => name(s.producer.peerId))
        .sort(),
    ]),
  );
}

/**
 * The room's last-N order as the server keeps it: join order, each announced speaker moved to the
 * front (p1 was there from the start and heard every announcement). mediasoup names a dominant
 * speaker as soon as one microphone exists, so the order moves before anyone talks.
 */
function order(): string[] {
  const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].filter((n) => peers.some((p) => p.options.displayName === n));
  for (const id of byName('p1').activeSpeakerHistory) {
    const n = name(id);
    if (!names.includes(n)) continue; // left since
    names.splice(names.indexOf(n), 1);
    names.unshift(n);
  }
  return names;
}

/** What last-N should deliver: the first LAST_N others of `order`, plus pins. */
function expected(order: string[], pins: Record<string, string[]> = {}): Record<string, string[]> {
  return Object.fromEntries(
    peers.map(({ options: { displayName: me } }) => [
      me,
      [...new Set([...order.filter((n) => n !== me).slice(0, LAST_N), ...(pins[me] ?? [])])].sort(),
    ]),
  );
}

function byName(n: string): FakePeer {
  return peers.find((p) => p.options.displayName === n)!;
}

async function speak(n: string): Promise<void> {
  for (const p of peers) p.setAudioLevel(p.options.displayName === n ? TALKING : SILENT);
  const id = byName(n).peerId;
  await waitFor(() => peers.every((p) => p.activeSpeakerPeerId === id), `everyone to hear ${n} as the active speaker`, 15_000);
}

/** The consumer `subscriber` has of `publisher`'s video. */
function videoOf(subscriber: string, publisher: string): ReceivedStream {
  return byName(subscriber).received.find((s) => s.producer.kind === 'video' && s.producer.peerId === byName(publisher).peerId)!;
}

test('before anyone talks, everyone sees the first of the order; audio flows from all', async () => {
  // mediasoup names a dominant speaker once microphones exist, even silent ones (an arbitrary one if
  // several were there at its first tick): wait for that naming to reach everyone, and for the
  // consumers it resumed to start (at their next key frame), before measuring.
  const room = server.rooms.rooms.get('last-n')!;
  await waitFor(
    () => room.activeSpeakerPeerId !== undefined && peers.every((p) => p.activeSpeakerPeerId === room.activeSpeakerPeerId),
    'the first naming of a dominant speaker to reach everyone',
  );
  await new Promise((r) => setTimeout(r, 500));
  expect(await flowing('video')).toEqual(expected(order()));
  const everyoneElse = (me: string) => peers.map((p) => p.options.displayName).filter((n) => n !== me);
  expect(await flowing('audio')).toEqual(
    Object.fromEntries(peers.map((p) => [p.options.displayName, everyoneElse(p.options.displayName)])),
  );
});

test('each peer receives video from exactly the 2 latest speakers; a third speaker replaces the oldest', async () => {
  await speak('p4');
  await speak('p5');
  await new Promise((r) => setTimeout(r, 300)); // resumed consumers start at their next key frame
  expect(order().slice(0, 2)).toEqual(['p5', 'p4']);
  expect(await flowing('video')).toEqual(expected(order()));

  // p1 pauses p6's video itself; p6 is not among p1's last-N yet.
  await request(byName('p1').socket!, 'pauseConsumer', { consumerId: videoOf('p1', 'p6').consumerId });
  const recorders = Object.fromEntries(peers.map((p) => [p.options.displayName, new Recorder(p.socket!)]));

  await speak('p6');
  await new Promise((r) => setTimeout(r, 300));
  // Order now p6, p5, p4: p4 drops out for everyone but p5 and p6 (who do not count themselves).
  const now = await flowing('video');
  expect(order().slice(0, 3)).toEqual(['p6', 'p5', 'p4']);
  const want = expected(order());
  expect(now).toEqual({ ...want, p1: want.p1!.filter((n) => n !== 'p6') }); // p1's own pause holds
  // p2 was told: p4's video consumer paused, p6's resumed, both for LAST_N.
  expect(recorders.p2!.of('consumerPaused')).toEqual([{ consumerId: videoOf('p2', 'p4').consumerId, reason: 'LAST_N' }]);
  expect(recorders.p2!.of('consumerResumed')).toEqual([{ consumerId: videoOf('p2', 'p6').consumerId, reason: 'LAST_N' }]);
  // p1 heard the resume too, but its own pause wins until it resumes.
  expect(recorders.p1!.of('consumerResumed').map((e) => e.consumerId)).toContain(videoOf('p1', 'p6').consumerId);
  await request(byName('p1').socket!, 'resumeConsumer', { consumerId: videoOf('p1', 'p6').consumerId });
  await new Promise((r) => setTimeout(r, 300));
  expect((await flowing('video')).p1).toEqual(want.p1);

  // Audio is never cut.
  const audio = await flowing('audio');
  for (const p of peers) expect(audio[p.options.displayName]).toHaveLength(5);
});

test('pinning a silent peer brings its video to the pinner only; unpinning takes it away', async () => {
  // A peer outside everyone's last-N (p6, p5 and p4 lead the order).
  const silent = order().at(-1)!;
  expect(['p6', 'p5', 'p4']).not.toContain(silent);
  const pinner = byName('p1');
  await request(pinner.socket!, 'pinPeers', { peerIds: [byName(silent).peerId!, 'not-a-peer-of-this-room'] });
  await new Promise((r) => setTimeout(r, 300));
  expect(await flowing('video')).toEqual(expected(order(), { p1: [silent] }));
  expect(videoOf('p1', silent).serverPaused).toBe(false);
  // Anyone else still has it held (it is last in the order: outside everyone's two).
  const witness = ['p2', 'p3', 'p4', 'p5', 'p6'].find((n) => n !== silent)!;
  expect(videoOf(witness, silent).serverPaused).toBe(true);

  await request(pinner.socket!, 'pinPeers', { peerIds: [] });
  await new Promise((r) => setTimeout(r, 300));
  expect(await flowing('video')).toEqual(expected(order()));
});

test('a newcomer’s consume ack says which video last-N holds paused; a leaving speaker makes room', async () => {
  const late = new FakePeer({ url: server.url, roomId: 'last-n', displayName: 'p7', kinds: [], engine: 'plain', insecure: true }, pacer);
  await late.start();
  peers.push(late);
  await waitFor(() => late.received.length === 12, 'p7 to consume the 12 streams');
  const held = late.received
    .filter((s) => s.serverPaused)
    .map((s) => name(s.producer.peerId))
    .sort();
  // Videos outside the first two of the order (audio never).
  expect(held).toEqual(
    order()
      .filter((n) => n !== 'p7')
      .slice(2)
      .sort(),
  );

  // The latest speaker leaves: the next in the order comes in for the others.
  const leaver = byName(order()[0]!);
  await leaver.stop();
  peers = peers.filter((p) => p !== leaver);
  await new Promise((r) => setTimeout(r, 300));
  expect(await flowing('video')).toEqual(expected(order()));
});
