/**
 * Access tokens: JWTs signed HS256 with AUTH_SECRET (jose), LiveKit-style. A token names one
 * identity (`sub`) in one room (`room`), may set the display name (`name`), must expire (`exp`),
 * and carries the peer's grants. Grants missing from a token are false.
 *
 *   { "sub": "ada", "room": "standup", "name": "Ada", "exp": 1767225600,
 *     "grants": { "join": true, "publish": ["camera", "microphone"], "subscribe": true } }
 *
 * The `admin` grant alone administers the token's own room. A token is a server-wide admin only
 * when it also carries `akid`, the id of the ADMIN_API_KEY it was minted under (adminKeyId):
 * rotating ADMIN_API_KEY changes the id, and every such token stops being an admin one.
 */
import { createHmac } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { DisplayNameSchema, TrackSources, type Grants } from '../../shared/contract';
import { ROOM_ID_PATTERN } from '../../shared/ids';

/** Shortest secret accepted: 32 bytes, the size of HS256's output. */
export const AUTH_SECRET_MIN_BYTES = 32;
/** Longest identity accepted. */
export const IDENTITY_MAX = 128;
/** An admin key id: 16 hex digits (64 bits of an HMAC). */
export const ADMIN_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;
/**
 * Who a client is (`sub`): letters, digits and `_ . @ : + -`, 1–128 of them. The identity goes
 * into TURN usernames (and so coturn's log), log lines and the admin API: no spaces, no quotes,
 * no control or look-alike characters. A token with another `sub` is refused, and none is minted.
 */
export const IDENTITY_PATTERN = /^[A-Za-z0-9_.@:+-]{1,128}$/;
export const IdentitySchema = z.string().regex(IDENTITY_PATTERN, 'must be 1-128 of A-Z a-z 0-9 _ . @ : + -');

export const GrantsClaimSchema = z
  .object({
    join: z.boolean().optional(),
    publish: z.union([z.boolean(), z.array(z.enum(TrackSources)).max(TrackSources.length)]).optional(),
    subscribe: z.boolean().optional(),
    publishData: z.boolean().optional(),
    admin: z.boolean().optional(),
    plain: z.boolean().optional(),
  })
  .strict();

const ClaimsSchema = z.object({
  sub: IdentitySchema,
  room: z.string().regex(ROOM_ID_PATTERN),
  name: DisplayNameSchema.optional(),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  akid: z.string().regex(ADMIN_KEY_ID_PATTERN).optional(),
  grants: GrantsClaimSchema.default({}),
});

export type GrantsClaim = z.input<typeof GrantsClaimSchema>;

/** What a verified token says. */
export interface AccessToken {
  identity: string;
  roomId: string;
  displayName?: string;
  grants: Grants;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** `iat`, seconds since the epoch, when the token has one. */
  issuedAt?: number;
  /** `akid`: the id of the ADMIN_API_KEY a server-wide admin token was minted under. */
  adminKeyId?: string;
}

/** Why a token was refused; the message names it, the connection's code is UNAUTHORIZED either way. */
export type TokenProblem = 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'other-room' | 'bad-claims';

export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
  constructor(
    readonly problem: TokenProblem,
    message: string,
  ) {
    super(message);
  }
}

export function secretKey(secret: string): Uint8Array {
  const key = new TextEncoder().encode(secret);
  if (key.length < AUTH_SECRET_MIN_BYTES) throw new Error(`the token secret must be at least ${AUTH_SECRET_MIN_BYTES} bytes`);
  return key;
}

export function toGrants(claim: GrantsClaim | undefined): Grants {
  return {
    join: claim?.join ?? false,
    publish: claim?.publish ?? false,
    subscribe: claim?.subscribe ?? false,
    publishData: claim?.publishData ?? false,
    admin: claim?.admin ?? false,
    plain: claim?.plain ?? false,
  };
}

/**
 * Verifies signature, expiry and claims; with `roomId`, the token must be for that room.
 * Throws AccessTokenError naming the problem.
 */
export async function verifyAccessToken(token: unknown, key: Uint8Array, roomId?: string): Promise<AccessToken> {
  if (typeof token !== 'string' || token.length === 0) throw new AccessTokenError('missing', 'no access token: pass { auth: { token } }');
  if (token.length > 4096) throw new AccessTokenError('malformed', 'access token too long');
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new AccessTokenError('expired', 'access token expired');
    if (error instanceof joseErrors.JWSSignatureVerificationFailed)
      throw new AccessTokenError('bad-signature', 'access token signature is invalid');
    if (error instanceof joseErrors.JWTClaimValidationFailed)
      throw new AccessTokenError('bad-claims', `access token claims: ${error.message}`);
    throw new AccessTokenError('malformed', 'access token is not a valid HS256 JWT');
  }
  const claims = ClaimsSchema.safeParse(payload);
  if (!claims.success) {
    const issue = claims.error.issues[0];
    throw new AccessTokenError('bad-claims', `access token claims: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
  }
  if (roomId !== undefined && claims.data.room !== roomId) {
    throw new AccessTokenError('other-room', `access token is for another room, not '${roomId}'`);
  }
  return {
    identity: claims.data.sub,
    roomId: claims.data.room,
    displayName: claims.data.name,
    grants: toGrants(claims.data.grants),
    expiresAt: claims.data.exp,
    issuedAt: claims.data.iat,
    adminKeyId: claims.data.akid,
  };
}

/**
 * The id of an ADMIN_API_KEY, as a server-wide admin token names it: keyed with the token secret,
 * so a token's holder cannot test guesses of the API key against it; a new key (or secret) is a
 * new id.
 */
export function adminKeyId(apiKey: string, key: Uint8Array): string {
  return createHmac('sha256', key).update(`confsfu admin key id\0${apiKey}`).digest('hex').slice(0, 16);
}

export interface MintOptions {
  identity: string;
  roomId: string;
  displayName?: string;
  grants: GrantsClaim;
  /** Lifetime in seconds. */
  ttlSeconds: number;
  /** Makes an admin token server-wide: the id of the ADMIN_API_KEY it is minted under (adminKeyId). */
  adminKeyId?: string;
}

/** Signs a token (the `npm run token` CLI, the admin API, tests). */
export async function mintAccessToken(options: MintOptions, key: Uint8Array): Promise<string> {
  IdentitySchema.parse(options.identity);
  const claims = {
    room: options.roomId,
    grants: GrantsClaimSchema.parse(options.grants),
    ...(options.displayName ? { name: DisplayNameSchema.parse(options.displayName) } : {}),
    ...(options.adminKeyId ? { akid: options.adminKeyId } : {}),
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.identity)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds)
    .sign(key);
}
