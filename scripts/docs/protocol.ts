/**
 * docs/protocol.md: the wire protocol's reference, from the contract registry (shared/contract.ts)
 * and the error registry (shared/errors.ts). The prose that is not about one message (the order
 * of a socket's requests, media descriptions, the resume flow) is written here.
 */
import type { z } from 'zod';
import { notificationNames, notifications, requestNames, requests, type RequestName } from '../../shared/contract';
import { errorRegistry, ErrorCodes } from '../../shared/errors';
import { MEDIA_LIMITS } from '../../shared/media';
import type { DocGenerator } from './generated-file';
import { documentedValues, typeText } from './schema-text';

/** Inline code in a table cell (a `|` would end the cell, even inside backticks). */
const cell = (text: string): string => text.replace(/\|/g, '\\|');
const code = (text: string): string => `\`${text}\``;
/** JSON laid out for reading: what fits on a line stays on one line. */
function compactJson(value: unknown, indent = ''): string {
  const flat = JSON.stringify(value, null, 1)
    .replace(/\n\s*/g, ' ')
    .replace(/([[{]) /g, '$1')
    .replace(/ ([\]}])/g, '$1');
  if (indent.length + flat.length <= 100 || typeof value !== 'object' || value === null) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((item) => inner + compactJson(item, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value).map(([key, item]) => `${inner}${JSON.stringify(key)}: ${compactJson(item, inner)}`);
  return `{\n${entries.join(',\n')}\n${indent}}`;
}
const json = (value: unknown): string => ['```json', compactJson(value), '```'].join('\n');

/** `{ a, b? }` of each example's response (several shapes: `… or …`). */
function responseKeys(event: RequestName): string {
  const shapes = new Set(
    requests[event].examples.map(({ response }) => {
      const optional: Readonly<Record<string, true>> = requests[event].optional ?? {};
      const keys = Object.keys(response as object).map((key) => (optional[key] ? `${key}?` : key));
      return keys.length ? `{ ${keys.join(', ')} }` : '{}';
    }),
  );
  return [...shapes].map(code).join(' or ');
}

/** Who else a request may overlap (its overlap group's other members, and itself). */
function overlapText(event: RequestName): string | undefined {
  const rule = requests[event].overlap;
  if (!rule) return undefined;
  const group = requestNames.filter((name) => requests[name].overlap?.group === rule.group);
  const fields = rule.fields.map(code).join(' + ');
  return `may overlap ${group.map(code).join(', ')} requests about another ${fields}; with the same ${fields} they run in order (see [the order of a socket's requests](#the-order-of-a-sockets-requests)).`;
}

function valuesText(schema: z.ZodType): string[] {
  return documentedValues(schema).flatMap(([field, values]) => [
    '',
    `${code(field)}:`,
    '',
    ...Object.entries(values).map(([value, doc]) => `- ${code(value)}: ${doc}`),
  ]);
}

function requestSection(event: RequestName): string[] {
  const spec = requests[event];
  const order = overlapText(event);
  const lines = [
    `### ${code(event)}`,
    '',
    spec.doc,
    '',
    `- Payload: ${code(typeText(spec.payload))}`,
    `- Ack \`data\`: ${responseKeys(event)}${spec.responseDoc ? `. ${spec.responseDoc}` : ''}`,
    `- Before \`join\`: ${spec.beforeJoin ? 'allowed' : '`NOT_JOINED`'}.`,
    ...(order ? [`- Order: ${order}`] : []),
    ...valuesText(spec.payload),
  ];
  for (const example of spec.examples) {
    const title = example.title ? ` (${example.title})` : '';
    if (Object.keys(example.payload).length) lines.push('', `Payload${title}:`, '', json(example.payload));
    if (Object.keys(example.response).length) lines.push('', `Ack \`data\`${title}:`, '', json(example.response));
  }
  return [...lines, ''];
}

function notificationSection(name: (typeof notificationNames)[number]): string[] {
  const spec = notifications[name];
  return [
    `### ${code(name)}`,
    '',
    spec.doc,
    '',
    `- Payload: ${code(typeText(spec.payload))}`,
    ...(spec.status ? ['- Ongoing state (who speaks, scores, layers), not a change of the room.'] : []),
    ...(spec.relayed ? [] : ['- Not relayed: a client connected through another node of a cluster does not get it.']),
    ...valuesText(spec.payload),
    '',
    json(spec.example),
    '',
  ];
}

function generate(): string {
  const overlapGroups = [...new Set(requestNames.flatMap((name) => requests[name].overlap?.group ?? []))].map((group) =>
    requestNames.filter((name) => requests[name].overlap?.group === group),
  );
  const limits = MEDIA_LIMITS;
  return [
    '# The wire protocol',
    '',
    'Everything a client and the server say to each other on a room namespace: [requests](#requests),',
    '[notifications](#notifications) and [error codes](#error-codes), with examples; then',
    "[the order of a socket's requests](#the-order-of-a-sockets-requests), [media descriptions](#media-descriptions)",
    'and [the resume flow](#resume-flow). How to connect: README, [The wire contract](../README.md#the-wire-contract).',
    '',
    'Generated by `npm run docs` from the contract registry, [`shared/contract.ts`](../shared/contract.ts), and the',
    'error registry, [`shared/errors.ts`](../shared/errors.ts): change those, not this file. The TypeScript types',
    'and zod schemas are there and in [`shared/messages.ts`](../shared/messages.ts); the media descriptions',
    '(`RtpParameters`, `RtpCapabilities`, `DtlsParameters`, `SctpStreamParameters`) in',
    '[`shared/media.ts`](../shared/media.ts). In the payloads below, a field shown without a type is a string;',
    '`AppData` is a flat object of at most 16 keys whose values are strings (≤ 256 characters), numbers, booleans',
    'or null.',
    '',
    'Every request is `socket.emit(name, payload, ack)`; the ack receives `{ ok: true, data }` or',
    '`{ ok: false, error: { code, message } }`. An omitted payload counts as `{}`. Notifications come without an',
    'ack: `socket.on(name, payload => …)`. A client connected through another node of a cluster is served the same:',
    "its requests go to the room's node and the notifications come back.",
    '',
    '## Requests',
    '',
    '| request | payload | `data` of the ack | before `join` |',
    '|---|---|---|---|',
    ...requestNames.map((event) => {
      const spec = requests[event];
      return `| [${code(event)}](#${event.toLowerCase()}) | ${cell(code(typeText(spec.payload)))} | ${cell(responseKeys(event))} | ${spec.beforeJoin ? 'yes' : ''} |`;
    }),
    '',
    ...requestNames.flatMap(requestSection),
    '## Notifications',
    '',
    'From the server, without an ack.',
    '',
    '| notification | payload | sent when, to whom |',
    '|---|---|---|',
    ...notificationNames.map(
      (name) =>
        `| [${code(name)}](#${name.toLowerCase()}) | ${cell(code(typeText(notifications[name].payload)))} | ${cell(notifications[name].doc)} |`,
    ),
    '',
    ...notificationNames.flatMap(notificationSection),
    '## Error codes',
    '',
    'Every failed ack carries one of these codes, and so does a refused connection (`connect_error` whose `data` is',
    '`{ code, message }`) and every error of the admin API (`{ "error": { code, message } }` with the HTTP status',
    'below). Every event socket.io can deliver (numbers as names, any number of arguments, binary, deep payloads) is',
    'answered with one of them when it has an ack; an event without an ack function is dropped (it still counts',
    'against the rate limit). A peer may only touch its own transports, producers and consumers, and only consume',
    'producers of its own room. "Retry": the same request, sent again after a short delay, may succeed.',
    '',
    '| code | HTTP | retry | meaning |',
    '|---|---|---|---|',
    ...ErrorCodes.map((errorCode) => {
      const info = errorRegistry[errorCode];
      const by = info.by === 'client' ? 'Made by the client (the request helper and the SDK), never sent by the server. ' : '';
      return `| ${code(errorCode)} | ${info.status} | ${info.retryable ? 'yes' : ''} | ${cell(by + info.doc)} |`;
    }),
    '',
    "## The order of a socket's requests",
    '',
    "A socket's requests are handled one at a time, in order, with one exception: requests of an overlap group about",
    'different objects may overlap one another. The groups:',
    '',
    ...overlapGroups.map((group) => {
      const rule = requests[group[0]!].overlap!;
      return `- ${group.map(code).join(', ')}: about different ${rule.fields.map(code).join(' + ')}`;
    }),
    '',
    "So a joiner's N consumes and N resumes take about one worker round trip each instead of N. Requests on the same",
    'object (or pair) still run in order, and every other request — `closeConsumer` and `closeTransport` included —',
    'waits for all requests sent before it, and all later requests wait for it; the acks of overlapping requests may',
    'arrive in any order. Consumes in flight see each other as if they had run in order (a second consume of one pair',
    'is `FORBIDDEN`), except at the consumer quota: one in flight counts, so if it then fails it may have made a later',
    'one `LIMIT_EXCEEDED`. A `RATE_LIMITED` answer is immediate, so it may arrive before the answers of earlier',
    'requests.',
    '',
    '## Media descriptions',
    '',
    'Media descriptions are strict. Inside `rtpParameters`, `rtpCapabilities`, `dtlsParameters` and',
    '`sctpStreamParameters` unknown keys are **stripped**, at every level, before anything is stored or forwarded:',
    "only the fields mediasoup reads reach mediasoup and the other peers (a newer mediasoup-client's extra field is",
    'dropped, not refused). Arrays, records and strings have upper bounds (`MEDIA_LIMITS` in',
    `[\`shared/media.ts\`](../shared/media.ts): ${limits.rtpCodecs} codecs in \`rtpParameters\`, ${limits.capabilityCodecs} in \`rtpCapabilities\`,`,
    `${limits.headerExtensions} header extensions, ${limits.encodings} encodings, ${limits.rtcpFeedback} RTCP feedback entries, ${limits.codecParameters} codec parameters, ${limits.fingerprints} fingerprints,`,
    `${limits.string}-character strings); beyond them the request is \`BAD_REQUEST\`. Unknown keys at the top level of any payload`,
    'are stripped too. Display names are trimmed, 1–64 characters, without control characters.',
    '',
    '## Resume flow',
    '',
    'A dropped socket is not a leave: the server keeps the peer (its transports, producers and consumers, and media',
    'that still flows) for `reconnectGraceMs` (`RECONNECT_GRACE_MS`) and the others see nothing. The client opens a',
    '**new** socket on the same namespace and sends `resume { resumeToken }` with the latest token (from `join`, then',
    'from each `resume`); the ack is the same `peerId` and the room as it is now. Notifications sent while it was away',
    'are dropped, so the client reconciles from the ack: peers and producers that came or went, its own',
    '`transportIds` / `producerIds` / `consumerIds` that survived (re-create the rest), then `restartIce` on its',
    'transports (the network may have changed). A server that still holds the old socket closes it silently. Past the',
    'grace the peer leaves as usual (`producerClosed`, `peerLeft`) and `resume` answers `RESUME_FAILED`: join again.',
    'The SDK does all of this by itself (README, [Staying in the call](../README.md#staying-in-the-call)).',
    '',
  ].join('\n');
}

export const protocolDoc: DocGenerator = { path: 'docs/protocol.md', generate };
