/**
 * Fake peers against an in-process server: plain-RTP peers all hear each other with < 1 % loss,
 * two WebRTC (werift: ICE + DTLS + SRTP) peers exchange media both ways, and the CLI exits
 * non-zero when a threshold is violated.
 */
import { startTestServer, type TestServer } from './helpers/server';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCliArgs, runFakePeers, UsageError, type RunOptions } from '../client/fake-peer';
import { readRtpPacket } from '../client/rtp/packet';
import { StreamReceiveStats } from '../client/rtp/receive-stats';
import { keyFrameRequests, writePli } from '../client/rtp/rtcp';
import { DEFAULT_VIDEO_PROFILE, Vp8LikeSource } from '../client/rtp/sources';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..');

describe('building blocks (no server)', () => {
  test('receive stats: sequence numbers wrap at 16 bits; a duplicate masks a loss (RFC 3550 cumulative count)', () => {
    const stats = new StreamReceiveStats(48_000);
    const seqs = [65533, 65534, 65535, 0, /* 1 lost */ 2, 2, 3];
    seqs.forEach((seq, i) => stats.record(seq, i * 960, 100, i * 20));
    const s = stats.snapshot();
    expect(s.expected).toBe(7); // 65533 … 3
    expect(s.packets).toBe(7); // the duplicate counts as received…
    expect(s.lost).toBe(0); // …so RFC 3550's cumulative loss can hide a loss behind a duplicate
    expect(s.jitterMs).toBeCloseTo(0, 5); // perfectly paced
  });

  test('receive stats: a gap is lost packets; late arrival skew shows as jitter', () => {
    const stats = new StreamReceiveStats(90_000);
    [10, 11, 14, 15].forEach((seq, i) => stats.record(seq, seq * 3000, 1000, seq * 33.333 + (i % 2) * 5));
    expect(stats.snapshot()).toMatchObject({ expected: 6, packets: 4, lost: 2 });
    expect(stats.snapshot().jitterMs).toBeGreaterThan(0);
  });

  test('VP8-like source starts with a key frame mediasoup recognises and answers a PLI with another', () => {
    const source = new Vp8LikeSource({ ssrc: 1234, payloadType: 101 });
    const isKeyFrameStart = (packet: Buffer): boolean => {
      const payload = readRtpPacket(packet)!.payload;
      // descriptor: X|S … (6 bytes), then the VP8 frame tag: bit 0 clear = key frame
      return (payload[0]! & 0x10) !== 0 && (payload[6]! & 0x01) === 0;
    };
    const first = source.pull(0);
    expect(first).toHaveLength(DEFAULT_VIDEO_PROFILE.packetsPerKeyFrame);
    expect(isKeyFrameStart(first[0]!)).toBe(true);
    expect(readRtpPacket(first[first.length - 1]!)!.marker).toBe(true);
    const delta = source.pull(34);
    expect(delta).toHaveLength(DEFAULT_VIDEO_PROFILE.packetsPerDeltaFrame);
    expect(isKeyFrameStart(delta[0]!)).toBe(false);

    const [ssrc] = keyFrameRequests(writePli(1, source.ssrc));
    expect(ssrc).toBe(1234);
    source.requestKeyFrame();
    expect(isKeyFrameStart(source.pull(67)[0]!)).toBe(true);
  });

  test('CLI options: defaults, --json without a file, and refusals', () => {
    const parsed = parseCliArgs(['--peers', '3', '--video', '--json']);
    expect(parsed).toMatchObject({
      command: 'run',
      json: '-',
      options: { peers: 3, kinds: ['video'], engine: 'plain', url: 'https://127.0.0.1:4443' },
    });
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(() => parseCliArgs(['--engine', 'carrier-pigeon'])).toThrow(UsageError);
    expect(() => parseCliArgs(['--max-loss', '-1'])).toThrow(UsageError);
    expect(() => parseCliArgs(['--unknown'])).toThrow(UsageError);
  });
});

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ ROOM_EMPTY_TIMEOUT_MS: '5000' });
});

afterAll(async () => {
  await server?.close();
});

function options(overrides: Partial<RunOptions>): RunOptions {
  return {
    url: server.url,
    room: 'fake-peers-test',
    peers: 2,
    kinds: ['audio', 'video'],
    engine: 'plain',
    durationS: 3,
    rampS: 0.3,
    insecure: true,
    thresholds: { maxLossPct: 1, maxErrors: 0 },
    ...overrides,
  };
}

test('plain peers: every peer receives every other peer’s audio and video with < 1 % loss', async () => {
  const peers = 4;
  const summary = await runFakePeers(options({ room: 'plain-mesh', peers, durationS: 4 }));

  expect(summary.errors.byCode).toEqual({});
  expect(summary.peers).toEqual({ total: peers, joined: peers, failed: 0 });
  for (const peer of summary.perPeer) {
    expect(peer.sentStreams).toBe(2);
    expect(peer.receivedStreams).toBe((peers - 1) * 2);
    expect(peer.streamsWithMedia).toBe((peers - 1) * 2);
    expect(peer.peersHeard).toBe(peers - 1);
  }
  for (const kind of ['audio', 'video'] as const) {
    // ~4 s at 50 (audio) / ~90 (video) packets per second on each of 12 streams.
    expect(summary.received[kind].packets).toBeGreaterThan(12 * 100);
    expect(summary.received[kind].lossPct).toBeLessThan(1);
  }
  expect(summary.verdict.ok).toBe(true);
}, 30_000);

test('webrtc peers (werift): media flows both ways over ICE + DTLS + SRTP', async () => {
  const summary = await runFakePeers(options({ room: 'webrtc-pair', engine: 'webrtc', durationS: 3 }));

  expect(summary.errors.byCode).toEqual({});
  expect(summary.perPeer).toHaveLength(2);
  for (const peer of summary.perPeer) {
    expect(peer.streamsWithMedia).toBe(2); // the other peer's audio and video
    expect(peer.peersHeard).toBe(1);
  }
  expect(summary.received.audio.packets).toBeGreaterThan(2 * 50);
  expect(summary.received.video.packets).toBeGreaterThan(2 * 90);
  expect(summary.received.total.lossPct).toBeLessThan(1);
}, 40_000);

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/fake-peers.ts', ...args], {
      cwd: ROOT,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

test('CLI exits non-zero when the error threshold is violated (nothing listens at the URL)', async () => {
  // Port 1 on loopback: connection refused at once.
  const result = await runCli([
    '--url',
    'https://127.0.0.1:1',
    '--insecure',
    '--peers',
    '2',
    '--duration',
    '0',
    '--ramp',
    '0',
    '--quiet',
    '--json',
  ]);

  expect(result.code).toBe(1);
  const summary = JSON.parse(result.stdout) as { errors: { byCode: Record<string, number> }; verdict: { ok: boolean } };
  expect(summary.errors.byCode.CONNECT_ERROR).toBe(2);
  expect(summary.verdict.ok).toBe(false);
  expect(result.stderr).toContain('Verdict: FAIL');
}, 40_000);

test('CLI exits 2 on a bad option and 0 within thresholds', async () => {
  const bad = await runCli(['--peers', 'many']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--peers');

  const ok = await runCli([
    '--url',
    server.url,
    '--insecure',
    '--room',
    'cli-ok',
    '--peers',
    '2',
    '--audio',
    '--duration',
    '1',
    '--ramp',
    '0',
    '--quiet',
  ]);
  expect(ok.stdout).toContain('Verdict: OK');
  expect(ok.code).toBe(0);
}, 40_000);
