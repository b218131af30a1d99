/**
 * SDP glue between a werift RTCPeerConnection and a mediasoup WebRtcTransport (ORTC on the
 * server side): writes the remote description that stands for the transport (ICE-lite, one
 * BUNDLE, UDP candidates only) and reads the few fields mediasoup needs from werift's local
 * description (DTLS fingerprint, per-mid SSRC and CNAME).
 */
import type { WebRtcTransportCreated } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';

export interface SdpCodec {
  payloadType: number;
  /** e.g. 'audio/opus'. */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** fmtp parameters. */
  parameters?: Record<string, string | number | boolean>;
  rtcpFeedback?: Array<{ type: string; parameter?: string }>;
}

/** One m-section as the server side sees it. */
export interface RemoteMediaSection {
  mid: string;
  kind: MediaKind;
  /** mediasoup's direction: 'recvonly' for a producer, 'sendonly' for a consumer. */
  direction: 'sendonly' | 'recvonly';
  codec: SdpCodec;
  /** Consumer's SSRC and CNAME (sendonly sections). */
  ssrc?: number;
  cname?: string;
}

export interface RemoteSdpOptions {
  /** 'offer' (we offer consumers: DTLS actpass) or 'answer' (to werift's offer: DTLS passive). */
  type: 'offer' | 'answer';
  /** Session version; increase on each renegotiation. */
  version: number;
}

export function remoteSdp(transport: WebRtcTransportCreated, sections: readonly RemoteMediaSection[], options: RemoteSdpOptions): string {
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
  if (!fingerprint) throw new Error('transport has no sha-256 DTLS fingerprint');
  const candidates = transport.iceCandidates.filter((c) => c.protocol === 'udp');
  const first = candidates[0];
  if (!first) throw new Error('transport has no UDP ICE candidate');
  const lines = [
    'v=0',
    `o=mediasoup 1000 ${options.version} IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${sections.map((s) => s.mid).join(' ')}`,
    'a=msid-semantic: WMS *',
  ];
  for (const section of sections) {
    const { codec } = section;
    const [, codecName] = codec.mimeType.split('/');
    lines.push(
      `m=${section.kind} ${first.port} UDP/TLS/RTP/SAVPF ${codec.payloadType}`,
      `c=IN IP4 ${first.address}`,
      `a=mid:${section.mid}`,
      `a=${section.direction}`,
      'a=rtcp-mux',
      'a=rtcp-rsize',
      `a=ice-ufrag:${transport.iceParameters.usernameFragment}`,
      `a=ice-pwd:${transport.iceParameters.password}`,
      `a=fingerprint:sha-256 ${fingerprint.value}`,
      `a=setup:${options.type === 'offer' ? 'actpass' : 'passive'}`,
      ...candidates.map((c) => `a=candidate:${c.foundation} 1 udp ${c.priority} ${c.address} ${c.port} typ host`),
      'a=end-of-candidates',
      `a=rtpmap:${codec.payloadType} ${codecName}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`,
    );
    const fmtp = Object.entries(codec.parameters ?? {}).map(([key, value]) => `${key}=${String(value)}`);
    if (fmtp.length > 0) lines.push(`a=fmtp:${codec.payloadType} ${fmtp.join(';')}`);
    for (const fb of codec.rtcpFeedback ?? []) {
      lines.push(`a=rtcp-fb:${codec.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    }
    if (section.ssrc !== undefined) {
      const cname = section.cname ?? 'mediasoup';
      lines.push(
        `a=msid:stream-${section.mid} track-${section.mid}`,
        `a=ssrc:${section.ssrc} cname:${cname}`,
        `a=ssrc:${section.ssrc} msid:stream-${section.mid} track-${section.mid}`,
      );
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

export interface LocalSdpInfo {
  /** sha-256 DTLS fingerprint of werift's certificate. */
  fingerprint: string;
  /** mid → first SSRC and CNAME of that m-section (send sections). */
  sections: Map<string, { ssrc?: number; cname?: string }>;
}

export function readLocalSdp(sdp: string): LocalSdpInfo {
  const fingerprint = /a=fingerprint:sha-256 (\S+)/.exec(sdp)?.[1];
  if (!fingerprint) throw new Error('local SDP has no sha-256 fingerprint');
  const sections = new Map<string, { ssrc?: number; cname?: string }>();
  for (const media of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /a=mid:(\S+)/.exec(media)?.[1];
    if (mid === undefined) continue;
    const ssrcLine = /a=ssrc:(\d+) cname:(\S+)/.exec(media);
    sections.set(mid, ssrcLine ? { ssrc: Number(ssrcLine[1]), cname: ssrcLine[2] } : {});
  }
  return { fingerprint, sections };
}

/**
 * The remote description of a transport carrying only SCTP (DataChannels), answering werift's
 * offer: one `m=application` section, DTLS passive. The SCTP port is the transport's (5000).
 */
export function remoteDataSdp(transport: WebRtcTransportCreated, mid: string): string {
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
  if (!fingerprint) throw new Error('transport has no sha-256 DTLS fingerprint');
  if (!transport.sctpParameters) throw new Error('transport has no SCTP: create it with { sctp: true }');
  const candidates = transport.iceCandidates.filter((c) => c.protocol === 'udp');
  const first = candidates[0];
  if (!first) throw new Error('transport has no UDP ICE candidate');
  const lines = [
    'v=0',
    'o=mediasoup 1000 1 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mid}`,
    'a=msid-semantic: WMS *',
    `m=application ${first.port} UDP/DTLS/SCTP webrtc-datachannel`,
    `c=IN IP4 ${first.address}`,
    `a=mid:${mid}`,
    `a=ice-ufrag:${transport.iceParameters.usernameFragment}`,
    `a=ice-pwd:${transport.iceParameters.password}`,
    `a=fingerprint:sha-256 ${fingerprint.value}`,
    'a=setup:passive',
    ...candidates.map((c) => `a=candidate:${c.foundation} 1 udp ${c.priority} ${c.address} ${c.port} typ host`),
    'a=end-of-candidates',
    `a=sctp-port:${transport.sctpParameters.port}`,
    `a=max-message-size:${transport.sctpParameters.maxMessageSize}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/** The mid of werift's `m=application` section. */
export function readApplicationMid(sdp: string): string | undefined {
  for (const media of sdp.split(/\r?\nm=/).slice(1)) {
    if (media.startsWith('application')) return /a=mid:(\S+)/.exec(media)?.[1];
  }
  return undefined;
}
