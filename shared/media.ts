/**
 * Schemas of the media descriptions that travel inside requests (RTP parameters and
 * capabilities, DTLS parameters, SCTP stream parameters). They bound every array, string and
 * record, and check shapes; mediasoup checks the semantics (a bad codec comes back as
 * BAD_REQUEST with mediasoup's message).
 *
 * Unknown keys are STRIPPED, at every level, before anything is stored or forwarded: only the
 * fields listed here (those mediasoup reads) reach mediasoup, the room and other peers. A newer
 * mediasoup-client's extra field (e.g. an encoding's `maxFramerate`, `rtcp.mux`) is dropped
 * rather than refused, and a client cannot park data in a producer: a 200 KB extra field costs
 * the server nothing beyond reading the message.
 */
import { z } from 'zod';

/** Upper bounds of the media descriptions (the message size bounds the rest). */
export const MEDIA_LIMITS = {
  /** Codecs in rtpParameters (mediasoup-client sends the chosen codec and its RTX). */
  rtpCodecs: 16,
  /** Codecs in rtpCapabilities (a device's receive capabilities). */
  capabilityCodecs: 64,
  headerExtensions: 32,
  encodings: 16,
  rtcpFeedback: 16,
  /** Keys of one codec's or header extension's `parameters` (fmtp). */
  codecParameters: 16,
  fingerprints: 8,
  /** Longest string value anywhere in a media description. */
  string: 256,
} as const;

const shortString = z.string().max(MEDIA_LIMITS.string);
const uint32 = z.number().int().min(0).max(0xffffffff);
const paramValue = z.union([shortString, z.number(), z.boolean()]);

/**
 * A record of at most `maxKeys` keys, counted before any value is parsed (zod parses every
 * value of a record first, and 30,000 bad values take a quarter of a second). Arrays need no
 * such care: zod checks an array's length before its items.
 */
export function boundedRecord<V extends z.ZodType>(value: V, maxKeys: number, keyMax = 64) {
  const counted = z
    .unknown()
    .check(
      z.refine((v) => typeof v !== 'object' || v === null || Object.keys(v).length <= maxKeys, {
        message: `at most ${maxKeys} keys`,
        abort: true,
      }),
    )
    .pipe(z.record(z.string().max(keyMax), value));
  // The count runs on `unknown`; what the schema takes and gives is the record's (typed clients).
  return counted as unknown as z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>>;
}

const codecParameters = boundedRecord(paramValue, MEDIA_LIMITS.codecParameters);
const mimeType = z.string().regex(/^(audio|video)\/[A-Za-z0-9._+-]{1,48}$/, 'mimeType must look like "video/VP8"');

export const MediaKindSchema = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof MediaKindSchema>;

const RtcpFeedbackSchema = z.object({
  type: z.string().max(64),
  parameter: z.string().max(64).optional(),
});

const RtpCodecParametersSchema = z.object({
  mimeType,
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(RtcpFeedbackSchema).max(MEDIA_LIMITS.rtcpFeedback).optional(),
});

const RtpHeaderExtensionParametersSchema = z.object({
  uri: shortString,
  id: z.number().int().min(1).max(255),
  encrypt: z.boolean().optional(),
  parameters: codecParameters.optional(),
});

const RtpEncodingParametersSchema = z.object({
  ssrc: uint32.optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().min(0).max(127).optional(),
  rtx: z.object({ ssrc: uint32 }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(32).optional(),
  maxBitrate: z.number().nonnegative().optional(),
});

export const RtpParametersSchema = z.object({
  mid: z.string().max(32).optional(),
  codecs: z.array(RtpCodecParametersSchema).max(MEDIA_LIMITS.rtpCodecs).min(1, 'at least one codec'),
  headerExtensions: z.array(RtpHeaderExtensionParametersSchema).max(MEDIA_LIMITS.headerExtensions).optional(),
  encodings: z.array(RtpEncodingParametersSchema).max(MEDIA_LIMITS.encodings).optional(),
  rtcp: z.object({ cname: shortString.optional(), reducedSize: z.boolean().optional() }).optional(),
  msid: shortString.optional(),
});
export type RtpParameters = z.infer<typeof RtpParametersSchema>;

const RtpCodecCapabilitySchema = z.object({
  kind: MediaKindSchema,
  mimeType,
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  clockRate: z.number().int().positive(),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(RtcpFeedbackSchema).max(MEDIA_LIMITS.rtcpFeedback).optional(),
});

const RtpHeaderExtensionSchema = z.object({
  kind: MediaKindSchema,
  uri: shortString,
  preferredId: z.number().int().min(1).max(255),
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const RtpCapabilitiesSchema = z.object({
  codecs: z.array(RtpCodecCapabilitySchema).max(MEDIA_LIMITS.capabilityCodecs).optional(),
  headerExtensions: z.array(RtpHeaderExtensionSchema).max(MEDIA_LIMITS.headerExtensions).optional(),
});
export type RtpCapabilities = z.infer<typeof RtpCapabilitiesSchema>;

export const DtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){19,63}$/, 'fingerprint must be colon-separated hex'),
      }),
    )
    .max(MEDIA_LIMITS.fingerprints)
    .min(1, 'at least one fingerprint'),
});
export type DtlsParameters = z.infer<typeof DtlsParametersSchema>;

/**
 * The SCTP stream of a data producer's DataChannel (`produceData`), and what a data consumer's
 * client opens (`consumeData` answers it). Same policy: bounded, unknown keys stripped. At most
 * one of maxPacketLifeTime / maxRetransmits (mediasoup refuses both: BAD_REQUEST); neither means
 * reliable. `ordered` defaults to true when reliable.
 */
export const SctpStreamParametersSchema = z.object({
  streamId: z.number().int().min(0).max(65534),
  ordered: z.boolean().optional(),
  maxPacketLifeTime: z.number().int().min(0).max(65535).optional(),
  maxRetransmits: z.number().int().min(0).max(65535).optional(),
});
export type SctpStreamParameters = z.infer<typeof SctpStreamParametersSchema>;

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
