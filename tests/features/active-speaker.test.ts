/**
 * Who is speaking, end to end: three plain-RTP fake peers send Opus-like audio carrying the
 * ssrc-audio-level header extension; mediasoup's ActiveSpeakerObserver on the room's router picks
 * the loudest and every peer hears `activeSpeaker` for it, only on a change; making another peer
 * the loudest moves it. `audioLevels` reaches only the peer that asked, at most 4 times a second,
 * and `levels: []` once every microphone is muted.
 */
import { request } from '../../client/request';
import { FakePeer, Pacer } from '../../client/fake-peer';
import type { AudioLevel } from '../../shared/contract';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';
import { barrier, Recorder } from '../signalling/support/harness';

const ROOM = 'speakers';
const LOUD = -15;
/** Not talking: below the sources' noise floor. */
const QUIET = -127;

let server: TestServer;
const pacer = new Pacer();
const peers: FakePeer[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  pacer.stop();
  await Promise.all(peers.map((p) => p.stop()));
  await server?.close();
});

async function speaker(name: string, dBov: number, roomId = ROOM): Promise<FakePeer> {
  const peer = new FakePeer(
    {
      url: server.url,
      roomId,
      displayName: name,
      kinds: ['audio'],
      engine: 'plain',
      insecure: true,
      consume: false,
      audioLevelDbov: dBov,
    },
    pacer,
  );
  peers.push(peer);
  await peer.start();
  expect(peer.errors).toEqual([]);
  return peer;
}

test('the loudest peer becomes the active speaker for everyone; switching loudness switches it', async () => {
  const [a, b, c] = [await speaker('a', LOUD), await speaker('b', QUIET), await speaker('c', QUIET)];
  await waitFor(() => [a, b, c].every((p) => p.activeSpeakerPeerId === a.peerId), 'everyone to hear a as active speaker', 10_000);

  a.setAudioLevel(QUIET);
  b.setAudioLevel(LOUD);
  await waitFor(() => [a, b, c].every((p) => p.activeSpeakerPeerId === b.peerId), 'everyone to hear b as active speaker', 10_000);
  await Promise.all([a, b, c].map((p) => barrier(p.socket!)));

  // Each peer's view (join ack, then pushes): a, then b, never the same twice in a row (pushed only on a change).
  for (const { activeSpeakerHistory: seen } of [a, b, c]) {
    expect(seen.at(-1)).toBe(b.peerId);
    expect(seen).toContain(a.peerId);
    expect(seen.every((id, i) => i === 0 || id !== seen[i - 1])).toBe(true);
  }
  // A newcomer learns it from its join ack.
  const late = await speaker('late', QUIET);
  expect(late.activeSpeakerPeerId).toBe(b.peerId);
});

test('audioLevels go only to the peer that enabled them, at most 4 per second; [] once everyone is muted', async () => {
  const [listener, other, loud] = peers; // b (loud so far) is `other`: it goes quiet, c talks
  const listening = new Recorder(listener!.socket!);
  const notListening = new Recorder(other!.socket!);
  other!.setAudioLevel(-50);
  loud!.setAudioLevel(LOUD);
  await request(listener!.socket!, 'setAudioLevels', { enabled: true });

  await waitFor(() => listening.of('audioLevels').some((e) => e.levels.length > 0), 'a first audioLevels', 5_000);
  listening.clear();
  const windowMs = 2_000;
  await new Promise((r) => setTimeout(r, windowMs));
  const reports = listening.of('audioLevels');
  // The observer's 250 ms interval: 8 in 2 s, one more if the window straddles a tick.
  expect(reports.length).toBeGreaterThanOrEqual(4);
  expect(reports.length).toBeLessThanOrEqual(9);
  // Loudest first: c (about LOUD, pauses averaged in), then b; the silent ones are below the threshold.
  const last = reports.at(-1)!;
  expect(last.levels.map((l: AudioLevel) => l.peerId)).toEqual([loud!.peerId, other!.peerId]);
  expect(last.levels[0]!.dBov).toBeGreaterThan(-40);
  expect(last.levels[0]!.dBov).toBeGreaterThan(last.levels[1]!.dBov + 10);
  expect(notListening.of('audioLevels')).toEqual([]);

  // Every microphone paused: mediasoup reports silence once, as an empty list.
  await Promise.all(peers.map((p) => p.setMicrophoneMuted(true)));
  await waitFor(() => listening.of('audioLevels').at(-1)?.levels.length === 0, 'an empty audioLevels', 5_000);
  expect(notListening.of('audioLevels')).toEqual([]);

  // Turned off: nothing more, even when someone speaks again.
  await request(listener!.socket!, 'setAudioLevels', { enabled: false });
  await loud!.setMicrophoneMuted(false);
  listening.clear();
  await new Promise((r) => setTimeout(r, 800));
  expect(listening.of('audioLevels')).toEqual([]);
});

test('muting the active speaker hands its place at once to the one unmuted peer, however little it says', async () => {
  const room = 'speakers-mute';
  const [a, b, c] = [await speaker('a', LOUD, room), await speaker('b', QUIET, room), await speaker('c', QUIET, room)];
  await c.setMicrophoneMuted(true);
  await waitFor(() => [a, b, c].every((p) => p.activeSpeakerPeerId === a.peerId), 'everyone to hear a as active speaker', 10_000);
  // b says something now and then (a 200 ms burst a second, like Chromium's fake microphone).
  const bursts = setInterval(() => {
    b.setAudioLevel(LOUD);
    setTimeout(() => b.setAudioLevel(QUIET), 200);
  }, 1_000);
  try {
    await new Promise((r) => setTimeout(r, 1_500));
    expect([a, b, c].map((p) => p.activeSpeakerPeerId)).toEqual([a.peerId, a.peerId, a.peerId]);

    // A muted peer is nobody's candidate: the place goes to b within the observer's next rounds,
    // not once b's bursts have out-talked a's past (which can take longer than anyone waits).
    const mutedAt = Date.now();
    await a.setMicrophoneMuted(true);
    await waitFor(() => [a, b, c].every((p) => p.activeSpeakerPeerId === b.peerId), 'everyone to hear b as active speaker', 10_000);
    expect(Date.now() - mutedAt).toBeLessThan(1_500);
  } finally {
    clearInterval(bursts);
  }

  // Unmuted, a is a candidate again (a new speaker: its past does not count) and takes the place
  // back while b is quiet.
  b.setAudioLevel(QUIET);
  await a.setMicrophoneMuted(false);
  await waitFor(() => [a, b, c].every((p) => p.activeSpeakerPeerId === a.peerId), 'everyone to hear a again', 10_000);
});
