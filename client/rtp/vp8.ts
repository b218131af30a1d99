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
  /** Picture size written into a key frame's header. Default 640×360. */
  width?: number;
  height?: number;
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
      // Key frame start code and the picture size (14 bits each, no scaling).
      out[offset++] = 0x9d;
      out[offset++] = 0x01;
      out[offset++] = 0x2a;
      out.writeUInt16LE(frame.width ?? 640, offset);
      out.writeUInt16LE(frame.height ?? 360, offset + 2);
      offset += 4;
    }
  }
  return offset;
}

/**
 * The picture size of a VP8 key frame, from an RTP payload that starts one (as written above, or
 * by a browser): the receiving end's "frame width". undefined for anything else.
 */
export function readVp8KeyFrameSize(payload: Buffer): { width: number; height: number } | undefined {
  if (payload.length < 1) return undefined;
  const x = (payload[0]! & 0x80) !== 0;
  const start = (payload[0]! & 0x10) !== 0;
  const partition = payload[0]! & 0x0f;
  if (!start || partition !== 0) return undefined;
  let offset = 1;
  if (x) {
    if (payload.length < 2) return undefined;
    const ext = payload[1]!;
    offset = 2;
    if (ext & 0x80) offset += payload.length > offset && payload[offset]! & 0x80 ? 2 : 1; // I: picture id, 7 or 15 bits
    if (ext & 0x40) offset += 1; // L: TL0PICIDX
    if (ext & 0x30) offset += 1; // T or K: TID/KEYIDX
  }
  // Frame tag (3 bytes, bit 0 clear on a key frame), start code 9d 01 2a, then width and height.
  if (payload.length < offset + 10 || (payload[offset]! & 0x01) !== 0) return undefined;
  if (payload[offset + 3] !== 0x9d || payload[offset + 4] !== 0x01 || payload[offset + 5] !== 0x2a) return undefined;
  return { width: payload.readUInt16LE(offset + 6) & 0x3fff, height: payload.readUInt16LE(offset + 8) & 0x3fff };
}
