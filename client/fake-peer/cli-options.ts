/** Command-line options of `npm run fake-peers`: parsing, validation and help text. */
import { parseArgs } from 'node:util';
import type { MediaKind } from '../../shared/media';
import { ENGINE_NAMES, type EngineName } from './engine';
import type { RunOptions } from './run';

export const USAGE = `Usage: npm run fake-peers -- [options]

Fake conference participants: each joins a room over Socket.IO, produces audio/video RTP and
consumes every other peer's streams, counting packets, loss (RTP sequence numbers) and jitter.

  --url URL          server base URL                               (default https://127.0.0.1:4443)
  --room ID          room id; with --rooms N the prefix of <ID>-1..<ID>-N  (default fake-peers)
  --rooms N          spread the peers over N rooms, round-robin    (default 1)
  --peers N          number of peers                               (default 4)
  --audio            send audio (Opus-like, 50 pkt/s, ~100 B)
  --video            send video (VP8-like, ~90 pkt/s, ~1,000 B, key-frame bursts)
                     neither flag: both
  --duration S       seconds of media after the ramp               (default 10)
  --ramp S           seconds over which peers join, evenly spaced  (default 2)
  --engine E         plain (PlainTransport RTP over UDP) or webrtc (werift: ICE+DTLS+SRTP)
                                                                   (default plain)
  --insecure         accept self-signed TLS certificates
  --token T          access token for every peer (a server with AUTH_SECRET; one room)
  --simulcast        send each camera as simulcast: 3 VP8 encodings (~180p/360p/720p; plain engine)
  --layer L          spatial layer every peer asks for on received video (0 lowest; default: highest)
  --speakers N       microphones on per room (the first N peers; the rest join muted)  (default: all)
  --speaker-switch S the loud speaker changes every S seconds (0: never)       (default 0)
  --json [FILE]      write the summary as JSON to FILE, or to stdout (the table then goes to stderr)
  --max-loss PCT     fail when downlink loss exceeds PCT percent   (default 1)
  --max-errors N     fail when more than N errors occur            (default 0)
  --quiet            no progress lines
  --help             this text

Progress goes to stderr (about one line per second), the summary table to stdout.
Exit code: 0 when within thresholds, 1 when loss or errors exceed them, 2 on bad options.
Only loopback media addresses are used (127.0.0.1).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CliCommand =
  | { command: 'help' }
  | {
      command: 'run';
      options: RunOptions;
      /** undefined: no JSON; '-': JSON on stdout; else a file path. */
      json: string | undefined;
      quiet: boolean;
    };

export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: withOptionalJsonValue(argv),
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string', default: 'https://127.0.0.1:4443' },
        room: { type: 'string', default: 'fake-peers' },
        rooms: { type: 'string', default: '1' },
        peers: { type: 'string', default: '4' },
        audio: { type: 'boolean', default: false },
        video: { type: 'boolean', default: false },
        duration: { type: 'string', default: '10' },
        ramp: { type: 'string', default: '2' },
        engine: { type: 'string', default: 'plain' },
        insecure: { type: 'boolean', default: false },
        token: { type: 'string' },
        simulcast: { type: 'boolean', default: false },
        layer: { type: 'string' },
        speakers: { type: 'string' },
        'speaker-switch': { type: 'string', default: '0' },
        json: { type: 'string' },
        'max-loss': { type: 'string', default: '1' },
        'max-errors': { type: 'string', default: '0' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  if (v.help) return { command: 'help' };

  let url: URL;
  try {
    url = new URL(v.url);
  } catch {
    throw new UsageError(`--url: not a URL: ${v.url}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('--url: must be http(s)://');
  if (!/^[A-Za-z0-9_-]{1,60}$/.test(v.room)) throw new UsageError('--room: letters, digits, _ and - only (1–60)');
  const engine = v.engine as EngineName;
  if (!ENGINE_NAMES.includes(engine)) throw new UsageError(`--engine: one of ${ENGINE_NAMES.join(', ')}`);
  const kinds: MediaKind[] =
    v.audio || v.video ? [...(v.audio ? (['audio'] as const) : []), ...(v.video ? (['video'] as const) : [])] : ['audio', 'video'];

  return {
    command: 'run',
    json: v.json,
    quiet: v.quiet,
    options: {
      url: url.origin,
      room: v.room,
      rooms: integer('--rooms', v.rooms, 1, 1_000),
      peers: integer('--peers', v.peers, 1, 10_000),
      kinds,
      engine,
      durationS: number('--duration', v.duration, 0, 86_400),
      rampS: number('--ramp', v.ramp, 0, 3_600),
      insecure: v.insecure,
      ...(v.token !== undefined ? { token: v.token } : {}),
      simulcast: v.simulcast,
      ...(v.layer !== undefined ? { preferredSpatialLayer: integer('--layer', v.layer, 0, 2) } : {}),
      ...(v.speakers !== undefined ? { speakers: integer('--speakers', v.speakers, 0, 10_000) } : {}),
      speakerSwitchS: number('--speaker-switch', v['speaker-switch'], 0, 3_600),
      thresholds: { maxLossPct: number('--max-loss', v['max-loss'], 0, 100), maxErrors: integer('--max-errors', v['max-errors'], 0, 1e9) },
    },
  };
}

/** `--json` may stand alone (stdout): parseArgs wants a value, so give it '-'. */
function withOptionalJsonValue(argv: readonly string[]): string[] {
  const args = [...argv];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--json' && (i + 1 === args.length || args[i + 1]!.startsWith('--'))) args.splice(i + 1, 0, '-');
  }
  return args;
}

function number(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max)
    throw new UsageError(`${name}: a number from ${min} to ${max}, got '${text}'`);
  return value;
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = number(name, text, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`${name}: a whole number, got '${text}'`);
  return value;
}
