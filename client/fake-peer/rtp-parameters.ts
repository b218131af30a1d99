/**
 * RTP parameters a fake peer produces with, matching the router's codecs (Opus, VP8).
 * Video asks for NACK and PLI/FIR so mediasoup can request key frames from it.
 */
import type { MediaKind, RtpParameters } from '../../shared/media';

export interface ProduceCodec {
  payloadType: number;
  ssrc: number;
  cname: string;
  mid?: string;
}

export function produceRtpParameters(kind: MediaKind, { payloadType, ssrc, cname, mid }: ProduceCodec): RtpParameters {
  const codec =
    kind === 'audio'
      ? { mimeType: 'audio/opus', payloadType, clockRate: 48_000, channels: 2, parameters: { useinbandfec: 1 } }
      : {
          mimeType: 'video/VP8',
          payloadType,
          clockRate: 90_000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
        };
  return {
    ...(mid !== undefined ? { mid } : {}),
    codecs: [codec],
    encodings: [{ ssrc }],
    rtcp: { cname, reducedSize: true },
  };
}
