/**
 * The RTP capabilities a room's clients load (getRouterRtpCapabilities): read once per router,
 * because mediasoup's `router.rtpCapabilities` deep-copies on every read.
 */
import type * as ms from 'mediasoup/types';
import type { RtpCapabilities } from '../../shared/contract';

/**
 * `value`'s objects, frozen at every level (the shared capabilities must not be changed by a
 * caller). Arrays are left as they are: V8 serialises a frozen array on a slower path, ~10 % more
 * per `getRouterRtpCapabilities` ack.
 */
function freezeObjects<T>(value: T): T {
  if (value && typeof value === 'object') {
    if (!Array.isArray(value)) Object.freeze(value);
    for (const child of Object.values(value)) freezeObjects(child);
  }
  return value;
}

/**
 * Header extensions the router supports but clients are not offered. abs-capture-time: mediasoup
 * 3.27 lets a simulcast consumer switch to another spatial layer only once that layer's capture
 * instant is known, and with abs-capture-time negotiated it takes the instant from that extension
 * alone; with Chromium 156 sending, a consumer measured here never left the layer it started on
 * (25 s). Without it the instant comes from each layer's Sender Reports, and a layer change took
 * about 2 s. Left out here, no client (SDK or plain mediasoup-client) negotiates it.
 */
const HEADER_EXTENSIONS_NOT_OFFERED = new Set(['http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time']);

/**
 * The capabilities a client's Device loads, read (copied) once from a new router, as the plain
 * JSON data a client receives: objects made by JSON.parse serialise faster than mediasoup's own.
 */
export function capabilitiesOf(router: ms.Router): RtpCapabilities {
  const capabilities = JSON.parse(JSON.stringify(router.rtpCapabilities)) as RtpCapabilities;
  capabilities.headerExtensions = capabilities.headerExtensions?.filter((extension) => !HEADER_EXTENSIONS_NOT_OFFERED.has(extension.uri));
  return freezeObjects(capabilities);
}
