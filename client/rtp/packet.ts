/**
 * Minimal RTP (RFC 3550) packet writer/reader for fake peers and tests: fixed 12-byte header, no
 * CSRCs, one-byte header extensions (RFC 8285) on write when asked; reading skips CSRCs and
 * extensions.
 */
export interface RtpHeader {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
}

/** One one-byte-form header extension element (RFC 8285 §4.2): id 1–14, 1–16 bytes of data. */
export interface RtpHeaderExtension {
  id: number;
  data: Buffer;
}

export const RTP_HEADER_SIZE = 12;
const ONE_BYTE_PROFILE = 0xbede;

/** Header extension id the fake peers give `urn:ietf:params:rtp-hdrext:ssrc-audio-level` in their rtpParameters. */
export const AUDIO_LEVEL_EXTENSION_ID = 1;
export const AUDIO_LEVEL_EXTENSION_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/**
 * The ssrc-audio-level element (RFC 6464): `dBov` from -127 (silence) to 0 (loudest), voice
 * activity flag set when louder than -127.
 */
export function audioLevelExtension(dBov: number, id = AUDIO_LEVEL_EXTENSION_ID): RtpHeaderExtension {
  const level = Math.min(127, Math.max(0, Math.round(-dBov)));
  return { id, data: Buffer.from([(level < 127 ? 0x80 : 0) | level]) };
}

export function writeRtpPacket(header: RtpHeader, payload: Buffer, extensions: readonly RtpHeaderExtension[] = []): Buffer {
  // Extension block: 4-byte profile/length header, then id/len bytes and data, padded to 32 bits.
  const elements = extensions.reduce((n, e) => n + 1 + e.data.length, 0);
  const extensionSize = extensions.length > 0 ? 4 + Math.ceil(elements / 4) * 4 : 0;
  const packet = Buffer.allocUnsafe(RTP_HEADER_SIZE + extensionSize + payload.length);
  packet[0] = 0x80 | (extensionSize > 0 ? 0x10 : 0); // version 2, no padding, X, no CSRC
  packet[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
  packet.writeUInt16BE(header.sequenceNumber & 0xffff, 2);
  packet.writeUInt32BE(header.timestamp >>> 0, 4);
  packet.writeUInt32BE(header.ssrc >>> 0, 8);
  if (extensionSize > 0) {
    packet.writeUInt16BE(ONE_BYTE_PROFILE, RTP_HEADER_SIZE);
    packet.writeUInt16BE((extensionSize - 4) / 4, RTP_HEADER_SIZE + 2);
    let offset = RTP_HEADER_SIZE + 4;
    for (const { id, data } of extensions) {
      packet[offset++] = ((id & 0x0f) << 4) | ((data.length - 1) & 0x0f);
      data.copy(packet, offset);
      offset += data.length;
    }
    packet.fill(0, offset, RTP_HEADER_SIZE + extensionSize);
  }
  payload.copy(packet, RTP_HEADER_SIZE + extensionSize);
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
