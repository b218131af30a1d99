/**
 * VP8 RTP payload descriptor (RFC 7741 §4.2) as Chrome writes it: extended, 15-bit picture id,
 * TL0PICIDX and TID. mediasoup parses it to spot key frames (start of partition 0 with the
 * VP8 header's inverse key-frame bit clear) and rewrites picture ids per consumer, so the fake
 * video must carry a well-formed one.
 */
export const VP8_DESCRIPTOR_SIZE = 6;

export interface Vp8FramePosition {
  pictureId: number;
  tl0PicIdx: number;
  /** First packet of the frame (S bit, partition 0). */
  startOfFrame: boolean;
  keyFrame: boolean;
}

/** Writes descriptor + the first byte(s) of the VP8 payload header into `out` (≥ 16 bytes). */
export function writeVp8Descriptor(out: Buffer, frame: Vp8FramePosition): number {
  out[0] = 0x80 | (frame.startOfFrame ? 0x10 : 0); // X=1, S, PID=0
  out[1] = 0xe0; // I=1 (picture id), L=1 (TL0PICIDX), T=1 (TID)
  out.writeUInt16BE(0x8000 | (frame.pictureId & 0x7fff), 2); // M=1: 15-bit picture id
  out[4] = frame.tl0PicIdx & 0xff;
  out[5] = 0x20; // TID=0, Y=1
  let offset = VP8_DESCRIPTOR_SIZE;
  if (frame.startOfFrame) {
    // VP8 frame tag: bit 0 is the inverse key-frame flag; bit 4 is show_frame.
    out[offset++] = frame.keyFrame ? 0x10 : 0x11;
    out[offset++] = 0x02;
    out[offset++] = 0x00;
    if (frame.keyFrame) {
      // Key frame start code and 640x360.
      out[offset++] = 0x9d;
      out[offset++] = 0x01;
      out[offset++] = 0x2a;
      out.writeUInt16LE(640, offset);
      out.writeUInt16LE(360, offset + 2);
      offset += 4;
    }
  }
  return offset;
}
