/**
 * The little RTCP a fake sender needs: whether a (compound) RTCP packet asks for a key frame (PLI
 * or FIR, RFC 4585 / RFC 5104) — mediasoup sends one when a video consumer resumes, and drops that
 * consumer's packets until a key frame arrives — and Sender Reports (RFC 3550 §6.4.1), which map
 * each stream's RTP clock to wall-clock time: mediasoup switches a consumer between simulcast
 * streams only once it has that mapping for both.
 */
const RTCP_PSFB = 206; // payload-specific feedback
const PSFB_PLI = 1;
const PSFB_FIR = 4;

/** Media SSRCs for which a (compound) RTCP packet requests a key frame; empty when none. */
export function keyFrameRequests(packet: Buffer): number[] {
  const ssrcs: number[] = [];
  let offset = 0;
  // A compound packet is a sequence of RTCP packets, each with a 4-byte header whose length
  // field counts 32-bit words minus one.
  while (offset + 4 <= packet.length) {
    const first = packet[offset]!;
    if (first >> 6 !== 2) break;
    const format = first & 0x1f;
    const packetType = packet[offset + 1]!;
    const end = offset + (packet.readUInt16BE(offset + 2) + 1) * 4;
    if (packetType === RTCP_PSFB && end <= packet.length) {
      // PLI names the media SSRC in the common header; FIR lists it in each 8-byte FCI entry.
      if (format === PSFB_PLI && end >= offset + 12) ssrcs.push(packet.readUInt32BE(offset + 8));
      if (format === PSFB_FIR) for (let fci = offset + 12; fci + 8 <= end; fci += 8) ssrcs.push(packet.readUInt32BE(fci));
    }
    offset = end;
  }
  return ssrcs;
}

/** A Picture Loss Indication (for tests: what mediasoup sends to a producer). */
export function writePli(senderSsrc: number, mediaSsrc: number): Buffer {
  const packet = Buffer.alloc(12);
  packet[0] = 0x80 | PSFB_PLI;
  packet[1] = RTCP_PSFB;
  packet.writeUInt16BE(2, 2);
  packet.writeUInt32BE(senderSsrc >>> 0, 4);
  packet.writeUInt32BE(mediaSsrc >>> 0, 8);
  return packet;
}

const RTCP_SR = 200;
/** Seconds from 1900 (NTP epoch) to 1970 (Unix epoch). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** A Sender Report without report blocks: `wallClockMs` (Unix ms) is when the stream's RTP clock read `rtpTimestamp`. */
export function writeSenderReport(
  ssrc: number,
  { wallClockMs, rtpTimestamp, packets, bytes }: { wallClockMs: number; rtpTimestamp: number; packets: number; bytes: number },
): Buffer {
  const packet = Buffer.alloc(28);
  packet[0] = 0x80;
  packet[1] = RTCP_SR;
  packet.writeUInt16BE(6, 2);
  packet.writeUInt32BE(ssrc >>> 0, 4);
  const seconds = Math.floor(wallClockMs / 1000);
  packet.writeUInt32BE((seconds + NTP_UNIX_OFFSET_S) >>> 0, 8);
  packet.writeUInt32BE(Math.floor(((wallClockMs % 1000) / 1000) * 0x1_0000_0000) >>> 0, 12);
  packet.writeUInt32BE(rtpTimestamp >>> 0, 16);
  packet.writeUInt32BE(packets >>> 0, 20);
  packet.writeUInt32BE(bytes >>> 0, 24);
  return packet;
}
