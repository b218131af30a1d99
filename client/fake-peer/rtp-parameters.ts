/**
 * RTP parameters a fake peer produces with, matching the router's codecs (Opus, VP8).
 * Video asks for NACK and PLI/FIR so mediasoup can request key frames from it; a simulcast camera
 * lists one encoding per SSRC, lowest first. Audio may declare the ssrc-audio-level header
 * extension, which mediasoup's speaker observers read.
 */
import type { MediaKind, RtpParameters } from '../../shared/media';
import { AUDIO_LEVEL_EXTENSION_URI } from '../rtp/packet';

export interface ProduceCodec {
  payloadType: number;
  ssrc: number;
  cname: string;
  mid?: string;
  /** Video: one SSRC per simulcast encoding, lowest first (then `ssrc` is ignored). */
  simulcastSsrcs?: readonly number[];
  /** Audio: the id the packets carry ssrc-audio-level under. */
  audioLevelExtensionId?: number;
}

export function produceRtpParameters(
  kind: MediaKind,
  { payloadType, ssrc, cname, mid, simulcastSsrcs, audioLevelExtensionId }: ProduceCodec,
): RtpParameters {
  const codec =
    kind === 'audio'
      ? { mimeType: 'audio/opus', payloadType, clockRate: 48_000, channels: 2, parameters: { useinbandfec: 1 } }
      : {
          mimeType: 'video/VP8',
          payloadType,
          clockRate: 90_000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
        };
  const encodings = kind === 'video' && simulcastSsrcs ? simulcastSsrcs.map((s) => ({ ssrc: s })) : [{ ssrc }];
  return {
    ...(mid !== undefined ? { mid } : {}),
    codecs: [codec],
    ...(kind === 'audio' && audioLevelExtensionId !== undefined
      ? { headerExtensions: [{ uri: AUDIO_LEVEL_EXTENSION_URI, id: audioLevelExtensionId }] }
      : {}),
    encodings,
    rtcp: { cname, reducedSize: true },
  };
}
