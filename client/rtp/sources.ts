/**
 * Synthetic media sources producing RTP at realistic rates and sizes:
 *  - audio: Opus-like, one ~100-byte packet every 20 ms (50 pkt/s);
 *  - video: VP8-like, 30 frames/s of 3 ~1,000-byte packets (~90 pkt/s, ~750 kbit/s), with a
 *    key-frame burst of 15 larger packets every few seconds and whenever one is requested.
 * Sources are pulled, not timer-driven: `pull(now)` returns the packets due since the last pull,
 * so one pacer can drive many sources and a late timer does not lower the long-run rate.
 */
import { randomInt } from 'node:crypto';
import type { MediaKind } from '../../shared/media';
import { RTP_HEADER_SIZE, writeRtpPacket } from './packet';
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
  #sequenceNumber = randomInt(0, 0x8000);
  readonly #timestampBase = randomInt(0, 0x7fffffff);

  constructor(options: SourceOptions) {
    this.ssrc = options.ssrc;
    this.payloadType = options.payloadType;
  }

  abstract pull(nowMs: number): Buffer[];
  requestKeyFrame(): void {}

  protected packet(frameIndex: number, ticksPerFrame: number, payload: Buffer, marker: boolean): Buffer {
    const packet = writeRtpPacket(
      {
        payloadType: this.payloadType,
        sequenceNumber: this.#sequenceNumber++ & 0xffff,
        timestamp: (this.#timestampBase + frameIndex * ticksPerFrame) >>> 0,
        ssrc: this.ssrc,
        marker,
      },
      payload,
    );
    this.counters.packets++;
    this.counters.bytes += packet.length;
    return packet;
  }
}

export class OpusLikeSource extends BaseSource {
  readonly kind = 'audio';
  readonly clockRate = 48_000;
  readonly #clock = new FrameClock(20);

  pull(nowMs: number): Buffer[] {
    return this.#clock.due(nowMs).map((frame) => {
      const payload = Buffer.from(FILLER.subarray(0, randomInt(80, 121)));
      payload[0] = 0xfc; // Opus TOC: CELT fullband 20 ms, stereo, one frame
      return this.packet(frame, 960, payload, false);
    });
  }
}

export interface VideoSourceOptions extends SourceOptions {
  /** Milliseconds between periodic key frames. Default 4,000. */
  keyFrameIntervalMs?: number;
}

export class Vp8LikeSource extends BaseSource {
  readonly kind = 'video';
  readonly clockRate = 90_000;
  static readonly FRAME_RATE = 30;
  static readonly PACKETS_PER_DELTA_FRAME = 3;
  static readonly PACKETS_PER_KEY_FRAME = 15;
  readonly #clock = new FrameClock(1000 / Vp8LikeSource.FRAME_RATE);
  readonly #keyFrameEveryFrames: number;
  #keyFrameRequested = true; // the stream starts with one
  #framesSinceKeyFrame = 0;
  #pictureId = randomInt(0, 0x8000);
  #tl0PicIdx = randomInt(0, 0x100);

  constructor(options: VideoSourceOptions) {
    super(options);
    this.#keyFrameEveryFrames = Math.round(((options.keyFrameIntervalMs ?? 4_000) / 1000) * Vp8LikeSource.FRAME_RATE);
  }

  override requestKeyFrame(): void {
    this.#keyFrameRequested = true;
  }

  pull(nowMs: number): Buffer[] {
    const packets: Buffer[] = [];
    for (const frame of this.#clock.due(nowMs)) packets.push(...this.#frame(frame));
    return packets;
  }

  #frame(frameIndex: number): Buffer[] {
    const keyFrame = this.#keyFrameRequested || this.#framesSinceKeyFrame >= this.#keyFrameEveryFrames;
    this.#keyFrameRequested = false;
    this.#framesSinceKeyFrame = keyFrame ? 0 : this.#framesSinceKeyFrame + 1;
    if (keyFrame) this.counters.keyFrames++;
    const count = keyFrame ? Vp8LikeSource.PACKETS_PER_KEY_FRAME : Vp8LikeSource.PACKETS_PER_DELTA_FRAME;
    const pictureId = this.#pictureId++ & 0x7fff;
    const tl0PicIdx = this.#tl0PicIdx++ & 0xff;
    const packets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const size = (keyFrame ? 1_100 : randomInt(900, 1_101)) - RTP_HEADER_SIZE;
      const payload = Buffer.allocUnsafe(size);
      const headerEnd = writeVp8Descriptor(payload, { pictureId, tl0PicIdx, startOfFrame: i === 0, keyFrame });
      FILLER.copy(payload, headerEnd, 0, size - headerEnd);
      packets.push(this.packet(frameIndex, 90_000 / Vp8LikeSource.FRAME_RATE, payload, i === count - 1));
    }
    return packets;
  }
}

/** Payload types the fake peers use when producing over a plain transport. */
export const PLAIN_PAYLOAD_TYPES = { audio: 100, video: 101 } as const;

export function createSource(kind: MediaKind, options: SourceOptions): RtpSource {
  return kind === 'audio' ? new OpusLikeSource(options) : new Vp8LikeSource(options);
}

/** A random non-zero SSRC. */
export function randomSsrc(): number {
  return randomInt(1, 0xffffffff);
}
