/** Real RTP over UDP for tests: a sender and a counting receiver on loopback sockets. */
import dgram from 'node:dgram';
import { readRtpPacket, writeRtpPacket } from '../../client/rtp/packet';

export async function bindUdp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return socket;
}

export function udpPort(socket: dgram.Socket): number {
  return socket.address().port;
}

export const OPUS_PT = 100;
export const VP8_PT = 101;

/** rtpParameters a plain-RTP opus sender declares. */
export function opusRtpParameters(ssrc: number) {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2 }],
    encodings: [{ ssrc }],
  };
}

/** rtpParameters a plain-RTP VP8 sender declares. */
export function vp8RtpParameters(ssrc: number) {
  return {
    codecs: [{ mimeType: 'video/VP8', payloadType: VP8_PT, clockRate: 90000 }],
    encodings: [{ ssrc }],
  };
}

/** Sends `count` RTP packets, one every `intervalMs`, to ip:port; resolves when all are sent. */
export async function sendRtp(
  socket: dgram.Socket,
  to: { ip: string; port: number },
  {
    ssrc,
    payloadType,
    count,
    intervalMs = 5,
    payloadSize = 160,
  }: { ssrc: number; payloadType: number; count: number; intervalMs?: number; payloadSize?: number },
): Promise<void> {
  const payload = Buffer.alloc(payloadSize, 0xab);
  for (let i = 0; i < count; i++) {
    const packet = writeRtpPacket({ payloadType, sequenceNumber: 1000 + i, timestamp: i * 960, ssrc, marker: false }, payload);
    await new Promise<void>((resolve, reject) => socket.send(packet, to.port, to.ip, (e) => (e ? reject(e) : resolve())));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Counts RTP packets arriving on a socket, by payload type (probation packets, PT 127, apart). */
export class RtpCounter {
  readonly byPayloadType = new Map<number, number>();
  readonly sequenceNumbers = new Set<number>();
  constructor(
    socket: dgram.Socket,
    private readonly mediaPayloadType?: number,
  ) {
    socket.on('message', (message) => {
      const rtp = readRtpPacket(message);
      if (!rtp) return; // RTCP
      this.byPayloadType.set(rtp.payloadType, (this.byPayloadType.get(rtp.payloadType) ?? 0) + 1);
      if (rtp.payloadType === this.mediaPayloadType) this.sequenceNumbers.add(rtp.sequenceNumber);
    });
  }
  /** Media packets received (distinct sequence numbers of the media payload type). */
  get media(): number {
    return this.sequenceNumbers.size;
  }
}
