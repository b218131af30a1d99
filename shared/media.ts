/**
 * Schemas of the media descriptions that travel inside requests (RTP parameters and
 * capabilities, DTLS parameters). They bound sizes and check shapes; mediasoup checks the
 * semantics (a bad codec comes back as BAD_REQUEST with mediasoup's message).
 * Objects are "loose": fields not listed here are kept and passed to mediasoup, so a newer
 * mediasoup-client field is not silently dropped.
 */
import { z } from 'zod';

const shortString = z.string().max(256);
const uint32 = z.number().int().min(0).max(0xffffffff);
const paramValue = z.union([z.string().max(1024), z.number(), z.boolean()]);
const codecParameters = z.record(z.string().max(64), paramValue).refine((o) => Object.keys(o).length <= 32, 'at most 32 codec parameters');

export const MediaKindSchema = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof MediaKindSchema>;

const RtcpFeedbackSchema = z.looseObject({
  type: z.string().max(64),
  parameter: z.string().max(64).optional(),
});

const RtpCodecParametersSchema = z.looseObject({
  mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9._+-]{1,48}$/, 'mimeType must look like "video/VP8"'),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(RtcpFeedbackSchema).max(32).optional(),
});

const RtpHeaderExtensionParametersSchema = z.looseObject({
  uri: shortString,
  id: z.number().int().min(1).max(255),
  encrypt: z.boolean().optional(),
  parameters: codecParameters.optional(),
});

const RtpEncodingParametersSchema = z.looseObject({
  ssrc: uint32.optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().min(0).max(127).optional(),
  rtx: z.looseObject({ ssrc: uint32 }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(32).optional(),
  scaleResolutionDownBy: z.number().positive().optional(),
  maxBitrate: z.number().nonnegative().optional(),
});

export const RtpParametersSchema = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z.array(RtpCodecParametersSchema).min(1).max(32),
  headerExtensions: z.array(RtpHeaderExtensionParametersSchema).max(32).optional(),
  encodings: z.array(RtpEncodingParametersSchema).max(16).optional(),
  rtcp: z.looseObject({ cname: shortString.optional(), reducedSize: z.boolean().optional() }).optional(),
  msid: shortString.optional(),
});
export type RtpParameters = z.infer<typeof RtpParametersSchema>;

const RtpCodecCapabilitySchema = z.looseObject({
  kind: MediaKindSchema,
  mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9._+-]{1,48}$/),
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  clockRate: z.number().int().positive(),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(RtcpFeedbackSchema).max(32).optional(),
});

const RtpHeaderExtensionSchema = z.looseObject({
  kind: MediaKindSchema,
  uri: shortString,
  preferredId: z.number().int().min(1).max(255),
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const RtpCapabilitiesSchema = z.looseObject({
  codecs: z.array(RtpCodecCapabilitySchema).max(64).optional(),
  headerExtensions: z.array(RtpHeaderExtensionSchema).max(64).optional(),
});
export type RtpCapabilities = z.infer<typeof RtpCapabilitiesSchema>;

export const DtlsParametersSchema = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.looseObject({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){19,63}$/, 'fingerprint must be colon-separated hex'),
      }),
    )
    .min(1)
    .max(8),
});
export type DtlsParameters = z.infer<typeof DtlsParametersSchema>;

/** ICE parameters and candidates as the server sends them (not validated: server output). */
export interface IceParameters {
  usernameFragment: string;
  password: string;
  iceLite?: boolean;
}
export interface IceCandidate {
  foundation: string;
  priority: number;
  address: string;
  ip: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: 'host' | 'srflx' | 'prflx' | 'relay';
  tcpType?: 'passive';
}
export interface SctpParameters {
  port: number;
  OS: number;
  MIS: number;
  maxMessageSize: number;
}
