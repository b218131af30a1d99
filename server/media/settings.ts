/** mediasoup settings: router codecs and transport options derived from config. */
import type * as ms from 'mediasoup/types';
import type { Config } from '../config';

/** Codecs every room's router offers. */
export const ROUTER_MEDIA_CODECS: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

type MediaConfig = Config['media'];

function listenInfo(config: MediaConfig, protocol: 'udp' | 'tcp'): ms.TransportListenInfo {
  return {
    protocol,
    ip: config.listenIp,
    announcedAddress: config.announcedAddress,
    portRange: { min: config.rtcMinPort, max: config.rtcMaxPort },
  };
}

export function webRtcTransportOptions(config: MediaConfig, enableSctp: boolean): ms.WebRtcTransportOptions {
  return {
    listenInfos: [listenInfo(config, 'udp'), listenInfo(config, 'tcp')],
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: config.initialOutgoingBitrate,
    enableSctp,
  };
}

export function plainTransportOptions(
  config: MediaConfig,
  { comedia, rtcpMux }: { comedia: boolean; rtcpMux: boolean },
): ms.PlainTransportOptions {
  return { listenInfo: listenInfo(config, 'udp'), comedia, rtcpMux };
}
