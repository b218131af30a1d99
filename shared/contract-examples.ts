/**
 * Values the contract's examples share (contract.ts). docs/protocol.md shows them, and the
 * signalling tests send them as the well-formed payload of each request: every id below is
 * well-formed and nobody's.
 */
import type { Grants } from './messages';
import type { DtlsParameters, IceCandidate, IceParameters, RtpCapabilities, RtpParameters } from './media';

export const EXAMPLE_IDS = {
  roomId: 'standup',
  peerId: '5d7b8f0e-3c0a-4f4e-9a51-8d6e2b1c7a90',
  otherPeerId: 'a3c94e2d-7f16-4b8a-b0d5-1e9f6c2a8b47',
  transportId: 'e8b2d1f4-6a3c-4e7b-9d0a-5c1f8e2b4a63',
  producerId: '0f6a9c3e-2b8d-4a1f-8e5c-7d3b9a1e6c24',
  consumerId: '9b4e7a2c-5d1f-4c8b-a6e3-2f8d0b5c1a79',
  dataProducerId: '3e1c8b5a-9f2d-4e6a-b7c4-0d5a8e3f2b16',
  dataConsumerId: '7a2f5d9c-1e4b-4d8a-9c3e-6b0f2a7d5e81',
} as const;

/** A resume token as `join` hands it out (base64url, 32 bytes). */
export const EXAMPLE_RESUME_TOKEN = 'q3J6cE1zV0x4b2ZkR3pQa1N0bVlIeU5hQ2p3RXVMdkI';

export const EXAMPLE_OPUS_RTP_PARAMETERS = {
  mid: '0',
  codecs: [
    {
      mimeType: 'audio/opus',
      payloadType: 111,
      clockRate: 48_000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
      rtcpFeedback: [{ type: 'transport-cc' }],
    },
  ],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1 }],
  encodings: [{ ssrc: 2_797_271_830, dtx: false }],
  rtcp: { cname: 'd4f1a2b3', reducedSize: true },
} satisfies RtpParameters;

export const EXAMPLE_RTP_CAPABILITIES = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48_000, channels: 2 },
    { kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90_000, rtcpFeedback: [{ type: 'nack' }] },
  ],
  headerExtensions: [{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', preferredId: 1 }],
} satisfies RtpCapabilities;

const FINGERPRINT = 'E5:F5:CA:A7:2D:93:E6:16:AC:21:09:9F:23:51:62:8C:D0:66:E9:0C:22:54:2B:82:0C:DF:E0:C5:2C:7E:CD:53';

export const EXAMPLE_DTLS_PARAMETERS = {
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }],
} satisfies DtlsParameters;

export const EXAMPLE_ICE_PARAMETERS: IceParameters = {
  usernameFragment: 'x8k2mfo1wqz7l4bd',
  password: 'v0s3t9ya5c1krj8n2pwe6gq4',
  iceLite: true,
};

export const EXAMPLE_ICE_CANDIDATES: IceCandidate[] = [
  {
    foundation: 'udpcandidate',
    priority: 1_076_302_079,
    address: '203.0.113.10',
    ip: '203.0.113.10',
    protocol: 'udp',
    port: 40_000,
    type: 'host',
  },
  {
    foundation: 'tcpcandidate',
    priority: 1_076_276_479,
    address: '203.0.113.10',
    ip: '203.0.113.10',
    protocol: 'tcp',
    port: 40_000,
    type: 'host',
    tcpType: 'passive',
  },
];

export const EXAMPLE_GRANTS: Grants = { join: true, publish: true, subscribe: true, publishData: true, admin: false, plain: false };

/** An access token as `npm run token` mints it (shortened). */
export const EXAMPLE_ACCESS_TOKEN =
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJyb29tIjoic3RhbmR1cCJ9.x2bS5nZ6c0qT8wY1rV4uK7jL9mH3fD6aE0pN2oQ5iXc';
