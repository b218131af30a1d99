/**
 * Reduces an RTCStatsReport to the few counters an app (or a test) wants per track.
 * Reports are iterated, not indexed: their keys are opaque ids.
 */
import type { InboundCounters } from './types';

type InboundSummary = InboundCounters;

interface OutboundSummary {
  packetsSent: number;
  bytesSent: number;
  framesEncoded?: number;
}

export function summariseInbound(report: RTCStatsReport): InboundSummary {
  const summary: InboundSummary = { packetsReceived: 0, packetsLost: 0, bytesReceived: 0 };
  report.forEach((entry: RTCInboundRtpStreamStats) => {
    if (entry.type !== 'inbound-rtp') return;
    summary.packetsReceived += entry.packetsReceived ?? 0;
    summary.packetsLost += entry.packetsLost ?? 0;
    summary.bytesReceived += entry.bytesReceived ?? 0;
    if (entry.framesDecoded !== undefined) summary.framesDecoded = (summary.framesDecoded ?? 0) + entry.framesDecoded;
    if (entry.frameWidth !== undefined) summary.frameWidth = entry.frameWidth;
    if (entry.frameHeight !== undefined) summary.frameHeight = entry.frameHeight;
  });
  return summary;
}

export function summariseOutbound(report: RTCStatsReport): OutboundSummary {
  const summary: OutboundSummary = { packetsSent: 0, bytesSent: 0 };
  report.forEach((entry: RTCOutboundRtpStreamStats) => {
    if (entry.type !== 'outbound-rtp') return;
    summary.packetsSent += entry.packetsSent ?? 0;
    summary.bytesSent += entry.bytesSent ?? 0;
    if (entry.framesEncoded !== undefined) summary.framesEncoded = (summary.framesEncoded ?? 0) + entry.framesEncoded;
  });
  return summary;
}
