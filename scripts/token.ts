/**
 * `npm run token -- --room standup --identity ada --name Ada --grants join,publish,subscribe --ttl 1h`
 * prints an access token signed with AUTH_SECRET (from the environment) on stdout.
 * `--sources camera,microphone` narrows `publish` to those sources. A token with the admin grant
 * administers its room only and lasts at most ADMIN_TOKEN_MAX_TTL_SECONDS (1 h by default);
 * `--server-admin` makes it server-wide, tied to ADMIN_API_KEY (rotating the key revokes it).
 * Exit 2 on bad options.
 */
import { parseArgs } from 'node:util';
import { DisplayNameSchema, TrackSources, type TrackSource } from '../shared/contract';
import { ROOM_ID_PATTERN } from '../shared/ids';
import { adminKeyId, IDENTITY_PATTERN, mintAccessToken, secretKey, type GrantsClaim } from '../server/auth/access-token';
import { DEFAULT_ADMIN_TOKEN_MAX_TTL_SECONDS } from '../server/config';

export const TOKEN_USAGE = `Usage: npm run token -- --room <roomId> --identity <id> [options]

  --room <roomId>        room the token is for (${ROOM_ID_PATTERN.source})
  --identity <id>        who the holder is (unique in a room: a second join replaces the first)
  --name <text>          display name the others see (wins over the client's own)
  --grants <list>        comma-separated: join, publish, subscribe, publishData, admin, plain
                         (default: join,publish,subscribe); admin: the admin API for this room only
  --sources <list>       publish only these sources: ${TrackSources.join(', ')}
  --server-admin         the admin API for every room (implies the admin grant); needs ADMIN_API_KEY
                         in the environment, and stops working when that key changes
  --ttl <duration>       lifetime: 90s, 15m, 1h, 7d, or seconds (default 1h); a token with the admin
                         grant lasts at most ADMIN_TOKEN_MAX_TTL_SECONDS (default ${DEFAULT_ADMIN_TOKEN_MAX_TTL_SECONDS} s)

AUTH_SECRET (at least 32 bytes) must be set in the environment, as for the server.`;

const GRANT_NAMES = ['join', 'publish', 'subscribe', 'publishData', 'admin', 'plain'] as const;
type GrantName = (typeof GRANT_NAMES)[number];

export class UsageError extends Error {}

/** `90s`, `15m`, `1h`, `7d` or plain seconds → seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!match) throw new UsageError(`--ttl "${text}": use e.g. 90s, 15m, 1h, 7d`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  if (seconds <= 0 || seconds > 366 * 86_400) throw new UsageError(`--ttl "${text}": between 1 second and 366 days`);
  return seconds;
}

export interface TokenRequest {
  roomId: string;
  identity: string;
  displayName?: string;
  grants: GrantsClaim;
  ttlSeconds: number;
  /** --server-admin: tied to ADMIN_API_KEY. */
  serverAdmin: boolean;
}

/** ADMIN_TOKEN_MAX_TTL_SECONDS as the server reads it (its default when unset). */
export function adminTokenMaxTtl(env: NodeJS.ProcessEnv): number {
  const text = env.ADMIN_TOKEN_MAX_TTL_SECONDS;
  if (text === undefined || text === '') return DEFAULT_ADMIN_TOKEN_MAX_TTL_SECONDS;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > 86_400) {
    throw new UsageError('ADMIN_TOKEN_MAX_TTL_SECONDS must be an integer from 60 to 86400');
  }
  return seconds;
}

export function parseTokenArgs(argv: string[], adminMaxTtlSeconds = DEFAULT_ADMIN_TOKEN_MAX_TTL_SECONDS): TokenRequest {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        room: { type: 'string' },
        identity: { type: 'string' },
        name: { type: 'string' },
        grants: { type: 'string', default: 'join,publish,subscribe' },
        sources: { type: 'string' },
        'server-admin': { type: 'boolean', default: false },
        ttl: { type: 'string', default: '1h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (!values.room || !ROOM_ID_PATTERN.test(values.room)) throw new UsageError(`--room must match ${ROOM_ID_PATTERN.source}`);
  if (!values.identity || !IDENTITY_PATTERN.test(values.identity))
    throw new UsageError('--identity is required: 1-128 of A-Z a-z 0-9 _ . @ : + -');
  const grants: GrantsClaim = {};
  for (const name of values.grants
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean)) {
    if (!GRANT_NAMES.includes(name as GrantName)) throw new UsageError(`unknown grant "${name}": ${GRANT_NAMES.join(', ')}`);
    grants[name as GrantName] = true;
  }
  if (values.sources !== undefined) {
    const sources = values.sources.split(',').map((s) => s.trim());
    const unknown = sources.find((s) => !TrackSources.includes(s as TrackSource));
    if (unknown !== undefined) throw new UsageError(`unknown source "${unknown}": ${TrackSources.join(', ')}`);
    if (!grants.publish) throw new UsageError('--sources needs the publish grant');
    grants.publish = sources as TrackSource[];
  }
  const serverAdmin = values['server-admin'] === true;
  if (serverAdmin) grants.admin = true;
  const ttlSeconds = parseTtl(values.ttl);
  if (grants.admin && ttlSeconds > adminMaxTtlSeconds) {
    throw new UsageError(`--ttl: a token with the admin grant lasts at most ${adminMaxTtlSeconds} s (ADMIN_TOKEN_MAX_TTL_SECONDS)`);
  }
  let displayName: string | undefined;
  if (values.name !== undefined) {
    const name = DisplayNameSchema.safeParse(values.name);
    if (!name.success) throw new UsageError(`--name: ${name.error.issues[0]?.message ?? 'invalid'}`);
    displayName = name.data;
  }
  return { roomId: values.room, identity: values.identity, displayName, grants, ttlSeconds, serverAdmin };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${TOKEN_USAGE}\n`);
    return 0;
  }
  let request: TokenRequest;
  let key: Uint8Array;
  let keyId: string | undefined;
  try {
    request = parseTokenArgs(argv, adminTokenMaxTtl(process.env));
    const secret = process.env.AUTH_SECRET;
    if (!secret) throw new UsageError('AUTH_SECRET is not set: the token must be signed with the server’s secret');
    try {
      key = secretKey(secret);
    } catch (error) {
      throw new UsageError(`AUTH_SECRET: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (request.serverAdmin) {
      const apiKey = process.env.ADMIN_API_KEY;
      if (!apiKey) throw new UsageError('--server-admin needs ADMIN_API_KEY (the server’s) in the environment');
      keyId = adminKeyId(apiKey, key);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`token: ${error.message}\n\n${TOKEN_USAGE}\n`);
    return 2;
  }
  process.stdout.write(`${await mintAccessToken({ ...request, adminKeyId: keyId }, key)}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`token: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
