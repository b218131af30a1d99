/**
 * Drives many RTP sources from one timer: every tick pulls each source's due packets and hands
 * them to that source's send function. One timer for all peers keeps a load run's own CPU cost
 * low and its rate steady (sources catch up on late ticks).
 */
import type { RtpSource } from '../rtp/sources';

const TICK_MS = 5;

export type SendPackets = (packets: Buffer[]) => void;

export class Pacer {
  readonly #sources = new Map<RtpSource, SendPackets>();
  #timer: NodeJS.Timeout | undefined;

  /** Starts pulling `source`; returns a function that stops it. */
  add(source: RtpSource, send: SendPackets): () => void {
    this.#sources.set(source, send);
    this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
    return () => this.#remove(source);
  }

  get size(): number {
    return this.#sources.size;
  }

  stop(): void {
    this.#sources.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #remove(source: RtpSource): void {
    this.#sources.delete(source);
    if (this.#sources.size === 0) this.stop();
  }

  #tick(): void {
    const now = performance.now();
    for (const [source, send] of this.#sources) {
      const packets = source.pull(now);
      if (packets.length > 0) send(packets);
    }
  }
}
