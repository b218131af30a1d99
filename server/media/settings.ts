/** mediasoup settings: router codecs, WebRtcServer and transport options derived from config. */
import type * as ms from 'mediasoup/types';
import { ALL_INTERFACES, type Config } from '../config';

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

/** Where a socket listens: on `port`, or by default on a free port of the configured range. */
function listenInfo(config: MediaConfig, protocol: 'udp' | 'tcp', port?: number): ms.TransportListenInfo {
  return {
    protocol,
    ip: config.listenIp,
    announcedAddress: config.announcedAddress,
    ...(port ? { port } : { portRange: { min: config.rtcMinPort, max: config.rtcMaxPort } }),
  };
}

/**
 * The WebRtcServer of the worker at `index`: UDP and TCP on `rtcPort + index`, or with rtcPort 0
 * any free port of the range (UDP and TCP may then differ).
 */
export function webRtcServerListenInfos(config: MediaConfig, index: number): ms.TransportListenInfo[] {
  const port = config.rtcPort === 0 ? undefined : config.rtcPort + index;
  return [listenInfo(config, 'udp', port), listenInfo(config, 'tcp', port)];
}

/** Options of a WebRTC transport: on the worker's WebRtcServer when it has one, else on its own ports of the range. */
export function webRtcTransportOptions(
  config: MediaConfig,
  enableSctp: boolean,
  webRtcServer?: ms.WebRtcServer,
): ms.WebRtcTransportOptions {
  const common = {
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: config.initialOutgoingBitrate,
    enableSctp,
  };
  return webRtcServer ? { ...common, webRtcServer } : { ...common, listenInfos: [listenInfo(config, 'udp'), listenInfo(config, 'tcp')] };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/i;

/**
 * What an operator should hear about the media addresses at start: announcing a loopback
 * address while listening on every interface means remote clients get candidates they cannot
 * reach. (Listening on every interface with nothing announced is refused by the config.)
 */
export function listenAddressWarnings(config: MediaConfig): string[] {
  if (!ALL_INTERFACES.has(config.listenIp)) return [];
  if (!config.announcedAddress) return [`media listens on all interfaces (${config.listenIp}) but announces no address to clients`];
  if (LOOPBACK.test(config.announcedAddress)) {
    return [
      `media listens on all interfaces (${config.listenIp}) but announces the loopback address ${config.announcedAddress}: only this machine can reach it`,
    ];
  }
  return [];
}

export function plainTransportOptions(
  config: MediaConfig,
  { comedia, rtcpMux }: { comedia: boolean; rtcpMux: boolean },
): ms.PlainTransportOptions {
  return { listenInfo: listenInfo(config, 'udp'), comedia, rtcpMux };
}

/**
 * Where the pipe transports between two routers of a room (on two workers of this machine)
 * listen: loopback, on a port of the RTC range — never a WebRtcServer's RTC_PORT + i, which a
 * pipe could otherwise hold while a dead worker's replacement tries to bind it.
 */
export function pipeListenInfo(config: MediaConfig): ms.TransportListenInfo {
  return { protocol: 'udp', ip: '127.0.0.1', portRange: { min: config.rtcMinPort, max: config.rtcMaxPort } };
}
