/**
 * Receive-side statistics of one RTP stream (one SSRC), after RFC 3550 §6.4.1 / appendix A:
 * packets and bytes, loss from the extended highest sequence number, interarrival jitter.
 * Duplicates and reordering are tolerated (a late packet counts as received, not as lost).
 */
export interface StreamReceiveSnapshot {
  packets: number;
  bytes: number;
  /** Packets the sequence numbers say should have arrived (highest - first + 1). */
  expected: number;
  /** max(0, expected - packets). */
  lost: number;
  /** Interarrival jitter in milliseconds. */
  jitterMs: number;
  /** Arrival time (ms, caller's clock) of the first packet; undefined before any. */
  firstPacketAtMs: number | undefined;
}

/** Sequence numbers jumping further than this restart the count (RFC 3550 MAX_DROPOUT). */
const MAX_DROPOUT = 3000;

export class StreamReceiveStats {
  #packets = 0;
  #bytes = 0;
  #baseSeq = 0;
  /** Extended (cycle-counting) highest sequence number; -1 before the first packet. */
  #highestSeq = -1;
  /** Packets expected in earlier runs of sequence numbers (before a sender restart). */
  #expectedBeforeRestart = 0;
  #jitter = 0;
  #lastTransit: number | undefined;
  #firstPacketAtMs: number | undefined;

  /** @param clockRate RTP clock rate of the stream, for jitter. */
  constructor(readonly clockRate: number) {}

  /** Records one packet of `size` bytes with its header fields, arrived at `arrivalMs`. */
  record(sequenceNumber: number, timestamp: number, size: number, arrivalMs: number): void {
    this.#packets++;
    this.#bytes += size;
    if (this.#highestSeq < 0) {
      this.#firstPacketAtMs = arrivalMs;
      this.#baseSeq = sequenceNumber;
      this.#highestSeq = sequenceNumber;
    } else {
      const highest16 = this.#highestSeq & 0xffff;
      const delta = (sequenceNumber - highest16) & 0xffff;
      if (delta > 0 && delta < MAX_DROPOUT) {
        this.#highestSeq += delta; // in order, possibly with a gap (and wrapping)
      } else if (delta >= MAX_DROPOUT && delta < 0x10000 - MAX_DROPOUT) {
        // A big jump: the sender restarted. Count a new run from here.
        this.#expectedBeforeRestart += this.#highestSeq - this.#baseSeq + 1;
        this.#baseSeq = sequenceNumber;
        this.#highestSeq = sequenceNumber;
      }
      // else: duplicate or reordered, already covered by `expected`.
    }
    // Jitter: D = (Rj - Ri) - (Sj - Si) in RTP units; J += (|D| - J) / 16.
    const transit = (arrivalMs * this.clockRate) / 1000 - timestamp;
    if (this.#lastTransit !== undefined) {
      let d = Math.abs(transit - this.#lastTransit);
      // A timestamp that wrapped around 2^32 would look like a huge jump.
      if (d > 0x80000000) d = Math.abs(d - 0x100000000);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }

  snapshot(): StreamReceiveSnapshot {
    const expected = this.#highestSeq < 0 ? 0 : this.#expectedBeforeRestart + this.#highestSeq - this.#baseSeq + 1;
    return {
      packets: this.#packets,
      bytes: this.#bytes,
      expected,
      lost: Math.max(0, expected - this.#packets),
      jitterMs: (this.#jitter / this.clockRate) * 1000,
      firstPacketAtMs: this.#firstPacketAtMs,
    };
  }
}

/** Loss over an interval between two snapshots of the same stream (for ramps). */
export function intervalLoss(before: StreamReceiveSnapshot, after: StreamReceiveSnapshot): { expected: number; lost: number } {
  const expected = after.expected - before.expected;
  const received = after.packets - before.packets;
  return { expected, lost: Math.max(0, expected - received) };
}
