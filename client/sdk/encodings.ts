/**
 * How local video is encoded (simulcast layers of a camera, one high layer for a screen), and the
 * receiving side's reading of it: how many spatial layers a consumer has and which one suits an
 * element of a given width.
 */
import type { types as ms } from 'mediasoup-client';
import type { ProducerAppData } from '../../shared/contract';
import type { TrackSource } from './types';

/** One simulcast layer: a fraction of the captured resolution, with its own bitrate cap. */
export interface VideoLayer {
  /** The layer's size is the capture's divided by this (4: a quarter of the width). */
  scaleResolutionDownBy: number;
  /** Bits per second this layer may use. */
  maxBitrate: number;
  maxFramerate?: number;
}

/**
 * A camera's default simulcast: 180p / 360p / 720p from a 1280×720 capture. The bitrates are the
 * usual ones for VP8 at those sizes (LiveKit and mediasoup-demo use similar ladders).
 */
export const DEFAULT_CAMERA_LAYERS: readonly VideoLayer[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** A screen share is one high layer: text must stay readable, and few people share at once. */
export const DEFAULT_SCREEN_LAYER: VideoLayer = { scaleResolutionDownBy: 1, maxBitrate: 2_500_000 };

/** Capture width assumed for a remote camera that did not say its own (the default constraints' ideal). */
const ASSUMED_CAPTURE_WIDTH = 1280;

/**
 * `true` (default): DEFAULT_CAMERA_LAYERS; `false`: one layer at full resolution; or the app's
 * own layers, lowest first.
 */
export type SimulcastOption = boolean | readonly VideoLayer[];

/** What `transport.produce` needs for a source: its encodings, codec and codec options. */
export interface EncodingChoice {
  encodings?: ms.RtpEncodingParameters[];
  codec?: ms.RtpCodecCapability;
  codecOptions?: ms.ProducerCodecOptions;
}

export function encodingsFor(
  source: TrackSource,
  kind: 'audio' | 'video',
  device: { rtpCapabilities: ms.RtpCapabilities },
  options: { simulcast?: SimulcastOption; screen?: VideoLayer },
): EncodingChoice {
  if (kind === 'audio') return {};
  // Faster start: without it libwebrtc begins at 300 kbit/s and climbs layer by layer.
  const codecOptions: ms.ProducerCodecOptions = { videoGoogleStartBitrate: 1000 };
  if (source === 'screen') return { encodings: [toEncoding(options.screen ?? DEFAULT_SCREEN_LAYER)], codecOptions };
  const layers =
    options.simulcast === false ? [] : options.simulcast === true || !options.simulcast ? DEFAULT_CAMERA_LAYERS : options.simulcast;
  if (layers.length < 2) return { encodings: layers.length === 1 ? [toEncoding(layers[0] as VideoLayer)] : undefined, codecOptions };
  // Simulcast is VP8's strength (every browser encodes it, the SFU switches layers cleanly); the
  // router may list another codec first.
  const vp8 = device.rtpCapabilities.codecs?.find((codec) => codec.mimeType.toLowerCase() === 'video/vp8');
  return { encodings: layers.map(toEncoding), codecOptions, ...(vp8 ? { codec: vp8 } : {}) };
}

function toEncoding({ scaleResolutionDownBy, maxBitrate, maxFramerate }: VideoLayer): ms.RtpEncodingParameters {
  return { scaleResolutionDownBy, maxBitrate, ...(maxFramerate ? { maxFramerate } : {}) };
}

/**
 * The capture size a publisher announces with its camera (`appData.width/height`), so receivers
 * know what each layer holds. Missing where the track cannot tell (tests' fake tracks).
 */
export function captureSizeOf(track: MediaStreamTrack): { width?: number; height?: number } {
  const settings = typeof track.getSettings === 'function' ? track.getSettings() : {};
  return {
    ...(settings.width ? { width: settings.width } : {}),
    ...(settings.height ? { height: settings.height } : {}),
  };
}

/** Spatial layers of a consumer: from its scalability mode ('L3T3' → 3), or its encodings (simulcast). */
export function spatialLayersOf(rtpParameters: ms.RtpParameters): number {
  const [first] = rtpParameters.encodings ?? [];
  const match = /^[LS](\d+)T\d+/.exec(first?.scalabilityMode ?? '');
  if (match) return Number(match[1]);
  return Math.max(1, rtpParameters.encodings?.length ?? 1);
}

/**
 * The lowest spatial layer at least as wide as the element shows it (in device pixels): a 320 px
 * tile of a 1280-wide camera with three layers gets layer 0 (320 wide), a full-width one layer 2.
 * Layers are assumed to halve the width each step down (the SDK's own ladder).
 */
export function layerForWidth(renderedWidth: number, spatialLayers: number, appData: ProducerAppData | undefined): number {
  const top = spatialLayers - 1;
  const captureWidth = typeof appData?.width === 'number' && appData.width > 0 ? appData.width : ASSUMED_CAPTURE_WIDTH;
  for (let layer = 0; layer < top; layer++) {
    if (captureWidth / 2 ** (top - layer) >= renderedWidth) return layer;
  }
  return top;
}
