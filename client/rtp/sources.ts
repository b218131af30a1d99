/**
 * Synthetic media sources producing RTP at realistic rates and sizes:
 *  - audio: Opus-like, one ~100-byte packet every 20 ms (50 pkt/s), optionally with the
 *    ssrc-audio-level header extension at a loudness that can change at run time;
 *  - video: VP8-like, 30 frames/s of 3 ~1,000-byte packets (~90 pkt/s, ~750 kbit/s), with a
 *    key-frame burst of 15 larger packets every few seconds and whenever one is requested; the
 *    picture size in its key frames and its bitrate are options (simulcast layers: SIMULCAST_LAYERS).
 * A muted source keeps its clock but sends nothing (a paused microphone).
 * Sources are pulled, not timer-driven: `pull(now)` returns the packets due since the last pull,
 * so one pacer can drive many sources and a late timer does not lower the long-run rate.
 */
import { randomInt } from 'node:crypto';
import type { MediaKind } from '../../shared/media';
import { audioLevelExtension, RTP_HEADER_SIZE, writeRtpPacket, type RtpHeaderExtension } from './packet';
import { writeVp8Descriptor } from './vp8';

export interface SourceCounters {
  packets: number;
  /** Whole RTP packets (header + payload). */
  bytes: number;
  keyFrames: number;
}

export interface RtpSource {
  readonly kind: MediaKind;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly clockRate: number;
  readonly counters: SourceCounters;
  /** RTP packets due at `nowMs` (ms, any monotonic clock), oldest first. */
  pull(nowMs: number): Buffer[];
  /** Next frame is a key frame (video; ignored by audio). */
  requestKeyFrame(): void;
  /** While muted the source sends nothing (its clock goes on). */
  muted: boolean;
  /** The RTP timestamp the stream's clock reads at `nowMs` (same clock as pull); undefined before the first pull. */
  rtpTimestampAt(nowMs: number): number | undefined;
}

export interface SourceOptions {
  ssrc: number;
  payloadType: number;
}

/** Frames further behind than this are skipped (timestamps jump, sequence numbers do not). */
const MAX_CATCH_UP_FRAMES = 5;
/** Shared random filler: payload bytes carry no meaning, only size. */
const FILLER = Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 131 + 7) & 0xff));

/** Counts frames due at a fixed rate from the first pull on. */
class FrameClock {
  #startMs: number | undefined;
  #emitted = 0;
  constructor(readonly frameIntervalMs: number) {}

  /** When frame 0 was due; undefined before the first pull. */
  get startMs(): number | undefined {
    return this.#startMs;
  }

  /** Indices of the frames due now (the first pull yields frame 0). */
  due(nowMs: number): number[] {
    this.#startMs ??= nowMs;
    const target = Math.floor((nowMs - this.#startMs) / this.frameIntervalMs) + 1;
    if (target - this.#emitted > MAX_CATCH_UP_FRAMES) this.#emitted = target - MAX_CATCH_UP_FRAMES;
    const frames: number[] = [];
    while (this.#emitted < target) frames.push(this.#emitted++);
    return frames;
  }
}

abstract class BaseSource implements RtpSource {
  abstract readonly kind: MediaKind;
  abstract readonly clockRate: number;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly counters: SourceCounters = { packets: 0, bytes: 0, keyFrames: 0 };
  muted = false;
  #sequenceNumber = randomInt(0, 0x8000);
  readonly #timestampBase = randomInt(0, 0x7fffffff);

  constructor(options: SourceOptions) {
    this.ssrc = options.ssrc;
    this.payloadType = options.payloadType;
  }

  abstract pull(nowMs: number): Buffer[];
  requestKeyFrame(): void {}
  protected abstract readonly frameClock: FrameClock;

  rtpTimestampAt(nowMs: number): number | undefined {
    const start = this.frameClock.startMs;
    return start === undefined ? undefined : (this.#timestampBase + Math.round(((nowMs - start) / 1000) * this.clockRate)) >>> 0;
  }

  protected packet(frameIndex: number, ticksPerFrame: number, payload: Buffer, marker: boolean, extensions?: RtpHeaderExtension[]): Buffer {
    const packet = writeRtpPacket(
      {
        payloadType: this.payloadType,
        sequenceNumber: this.#sequenceNumber++ & 0xffff,
        timestamp: (this.#timestampBase + frameIndex * ticksPerFrame) >>> 0,
        ssrc: this.ssrc,
        marker,
      },
      payload,
      extensions,
    );
    this.counters.packets++;
    this.counters.bytes += packet.length;
    return packet;
  }
}

/** Below this a source is silent (-127 in every packet); above it, it talks. */
export const NOISE_FLOOR_DBOV = -90;
/**
 * Speech rhythm, in 20 ms frames: this many voiced frames, then NOISE_FLOOR frames for the rest of
 * the cycle. The pauses keep mediasoup's per-speaker floor low (without them a talker's own level
 * becomes its floor); the voiced runs must be long enough that its "long" window sees whole runs of
 * 5 voiced frames whatever the alignment: it counts groups of 5 consecutive frames that are all
 * voiced, and a challenger with none is never named dominant. With 8 voiced frames in 10, two of the
 * ten alignments had no such group, and the 300 ms observer tick (15 frames) can stay on them.
 */
const SPEECH_CYCLE_FRAMES = 25;
const VOICED_FRAMES = 22;

/**
 * The level one packet carries when talking at `dBov`: speech-like, voiced frames near `dBov` with
 * a little wobble and short pauses at the noise floor. A constant level would look like background
 * noise to mediasoup's dominant speaker detection (it measures activity above each speaker's own
 * floor), so a fake talker must vary; silence (≤ NOISE_FLOOR_DBOV) is a flat -127.
 */
export function speechLevel(dBov: number, frameIndex: number): number {
  if (dBov <= NOISE_FLOOR_DBOV) return -127;
  const phase = frameIndex % SPEECH_CYCLE_FRAMES;
  return phase < VOICED_FRAMES ? dBov - (phase % 3) * 2 : NOISE_FLOOR_DBOV;
}

export interface AudioSourceOptions extends SourceOptions {
  /**
   * Loudness of the talking carried in the ssrc-audio-level header extension, dBov from -127 to 0
   * (≤ NOISE_FLOOR_DBOV: silent); undefined: no extension. Changeable at run time (`audioLevelDbov`).
   * Packets follow a speech rhythm around it (speechLevel).
   */
  audioLevelDbov?: number;
  /** Header extension id of ssrc-audio-level (as declared in the producer's rtpParameters). Default 1. */
  audioLevelExtensionId?: number;
}

export class OpusLikeSource extends BaseSource {
  readonly kind = 'audio';
  readonly clockRate = 48_000;
  /** dBov written into every packet's ssrc-audio-level extension; undefined: none. */
  audioLevelDbov: number | undefined;
  readonly #extensionId: number | undefined;
  protected readonly frameClock = new FrameClock(20);

  constructor(options: AudioSourceOptions) {
    super(options);
    this.audioLevelDbov = options.audioLevelDbov;
    this.#extensionId = options.audioLevelExtensionId;
  }

  pull(nowMs: number): Buffer[] {
    const frames = this.frameClock.due(nowMs);
    if (this.muted) return [];
    const level = this.audioLevelDbov;
    return frames.map((frame) => {
      const payload = Buffer.from(FILLER.subarray(0, randomInt(80, 121)));
      payload[0] = 0xfc; // Opus TOC: CELT fullband 20 ms, stereo, one frame
      const extensions = level === undefined ? undefined : [audioLevelExtension(speechLevel(level, frame), this.#extensionId)];
      return this.packet(frame, 960, payload, false, extensions);
    });
  }
}

/** How big and how heavy a video stream is. */
export interface VideoProfile {
  width: number;
  height: number;
  packetsPerDeltaFrame: number;
  packetsPerKeyFrame: number;
  /** Size of a delta frame's packets, bytes (header included), uniformly from min to max. */
  packetBytes: { min: number; max: number };
}

/** The single-stream camera: 640×360, ~750 kbit/s. */
export const DEFAULT_VIDEO_PROFILE: VideoProfile = {
  width: 640,
  height: 360,
  packetsPerDeltaFrame: 3,
  packetsPerKeyFrame: 15,
  packetBytes: { min: 900, max: 1_100 },
};

/**
 * A simulcast camera's three encodings, lowest first (180p / 360p / 720p-like): about 140, 430
 * and 1,000 kbit/s at 30 frames/s. Each key frame names its size, so a receiver can tell which
 * layer it gets.
 */
export const SIMULCAST_LAYERS: readonly VideoProfile[] = [
  { width: 320, height: 180, packetsPerDeltaFrame: 1, packetsPerKeyFrame: 4, packetBytes: { min: 500, max: 700 } },
  { width: 640, height: 360, packetsPerDeltaFrame: 2, packetsPerKeyFrame: 8, packetBytes: { min: 800, max: 1_000 } },
  { width: 1280, height: 720, packetsPerDeltaFrame: 4, packetsPerKeyFrame: 15, packetBytes: { min: 1_000, max: 1_100 } },
];

export interface VideoSourceOptions extends SourceOptions {
  /** Milliseconds between periodic key frames. Default 4,000. */
  keyFrameIntervalMs?: number;
  /** Default DEFAULT_VIDEO_PROFILE. */
  profile?: VideoProfile;
}

export class Vp8LikeSource extends BaseSource {
  readonly kind = 'video';
  readonly clockRate = 90_000;
  static readonly FRAME_RATE = 30;
  readonly profile: VideoProfile;
  protected readonly frameClock = new FrameClock(1000 / Vp8LikeSource.FRAME_RATE);
  readonly #keyFrameEveryFrames: number;
  #keyFrameRequested = true; // the stream starts with one
  #framesSinceKeyFrame = 0;
  #pictureId = randomInt(0, 0x8000);
  #tl0PicIdx = randomInt(0, 0x100);

  constructor(options: VideoSourceOptions) {
    super(options);
    this.profile = options.profile ?? DEFAULT_VIDEO_PROFILE;
    this.#keyFrameEveryFrames = Math.round(((options.keyFrameIntervalMs ?? 4_000) / 1000) * Vp8LikeSource.FRAME_RATE);
  }

  override requestKeyFrame(): void {
    this.#keyFrameRequested = true;
  }

  pull(nowMs: number): Buffer[] {
    const frames = this.frameClock.due(nowMs);
    if (this.muted) return [];
    const packets: Buffer[] = [];
    for (const frame of frames) packets.push(...this.#frame(frame));
    return packets;
  }

  #frame(frameIndex: number): Buffer[] {
    const keyFrame = this.#keyFrameRequested || this.#framesSinceKeyFrame >= this.#keyFrameEveryFrames;
    this.#keyFrameRequested = false;
    this.#framesSinceKeyFrame = keyFrame ? 0 : this.#framesSinceKeyFrame + 1;
    if (keyFrame) this.counters.keyFrames++;
    const { packetsPerKeyFrame, packetsPerDeltaFrame, packetBytes, width, height } = this.profile;
    const count = keyFrame ? packetsPerKeyFrame : packetsPerDeltaFrame;
    const pictureId = this.#pictureId++ & 0x7fff;
    const tl0PicIdx = this.#tl0PicIdx++ & 0xff;
    const packets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const size = (keyFrame ? packetBytes.max : randomInt(packetBytes.min, packetBytes.max + 1)) - RTP_HEADER_SIZE;
      const payload = Buffer.allocUnsafe(size);
      const headerEnd = writeVp8Descriptor(payload, { pictureId, tl0PicIdx, startOfFrame: i === 0, keyFrame, width, height });
      FILLER.copy(payload, headerEnd, 0, size - headerEnd);
      packets.push(this.packet(frameIndex, 90_000 / Vp8LikeSource.FRAME_RATE, payload, i === count - 1));
    }
    return packets;
  }
}

/**
 * A simulcast camera: one VP8-like source per encoding (SIMULCAST_LAYERS), each with its own SSRC,
 * pulled together. A key frame request names one SSRC: the engine routes it to that layer
 * (`layers`); `requestKeyFrame()` here asks every layer.
 */
export class SimulcastSource implements RtpSource {
  readonly kind = 'video';
  readonly clockRate = 90_000;
  readonly payloadType: number;
  readonly layers: Vp8LikeSource[];

  constructor(ssrcs: readonly number[], payloadType: number, profiles: readonly VideoProfile[] = SIMULCAST_LAYERS) {
    this.payloadType = payloadType;
    this.layers = profiles.map((profile, i) => new Vp8LikeSource({ ssrc: ssrcs[i] ?? randomSsrc(), payloadType, profile }));
  }

  /** The lowest layer's SSRC (each layer has its own). */
  get ssrc(): number {
    return this.layers[0]!.ssrc;
  }

  get counters(): SourceCounters {
    const total = { packets: 0, bytes: 0, keyFrames: 0 };
    for (const { counters } of this.layers) {
      total.packets += counters.packets;
      total.bytes += counters.bytes;
      total.keyFrames += counters.keyFrames;
    }
    return total;
  }

  get muted(): boolean {
    return this.layers[0]!.muted;
  }
  set muted(muted: boolean) {
    for (const layer of this.layers) layer.muted = muted;
  }

  pull(nowMs: number): Buffer[] {
    return this.layers.flatMap((layer) => layer.pull(nowMs));
  }

  requestKeyFrame(): void {
    for (const layer of this.layers) layer.requestKeyFrame();
  }

  rtpTimestampAt(nowMs: number): number | undefined {
    return this.layers[0]!.rtpTimestampAt(nowMs);
  }
}

/** Payload types the fake peers use when producing over a plain transport. */
export const PLAIN_PAYLOAD_TYPES = { audio: 100, video: 101 } as const;

export function createSource(kind: MediaKind, options: AudioSourceOptions): RtpSource {
  return kind === 'audio' ? new OpusLikeSource(options) : new Vp8LikeSource(options);
}

/** A random non-zero SSRC. */
export function randomSsrc(): number {
  return randomInt(1, 0xffffffff);
}
