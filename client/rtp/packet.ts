/**
 * Minimal RTP (RFC 3550) packet writer/reader for fake peers and tests: fixed 12-byte header,
 * no CSRCs, no header extensions on write; reading skips CSRCs and extensions.
 */
export interface RtpHeader {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
}

export const RTP_HEADER_SIZE = 12;

export function writeRtpPacket(header: RtpHeader, payload: Buffer): Buffer {
  const packet = Buffer.allocUnsafe(RTP_HEADER_SIZE + payload.length);
  packet[0] = 0x80; // version 2, no padding, no extension, no CSRC
  packet[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
  packet.writeUInt16BE(header.sequenceNumber & 0xffff, 2);
  packet.writeUInt32BE(header.timestamp >>> 0, 4);
  packet.writeUInt32BE(header.ssrc >>> 0, 8);
  payload.copy(packet, RTP_HEADER_SIZE);
  return packet;
}

/** True for RTCP sharing the RTP port (rtcpMux): second byte 192–223 (RFC 5761). */
export function isRtcp(packet: Buffer): boolean {
  return packet.length >= 2 && packet[1]! >= 192 && packet[1]! <= 223;
}

export function readRtpPacket(packet: Buffer): (RtpHeader & { payload: Buffer }) | undefined {
  if (packet.length < RTP_HEADER_SIZE || packet[0]! >> 6 !== 2 || isRtcp(packet)) return undefined;
  const csrcCount = packet[0]! & 0x0f;
  let offset = RTP_HEADER_SIZE + csrcCount * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!; // padding
  if (offset > end) return undefined;
  return {
    payloadType: packet[1]! & 0x7f,
    marker: (packet[1]! & 0x80) !== 0,
    sequenceNumber: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payload: packet.subarray(offset, end),
  };
}
