/**
 * Who may call the admin API, and with what reach:
 *  - `Authorization: Bearer <ADMIN_API_KEY>`: a server-wide admin;
 *  - an access token (AUTH_SECRET) with the `admin` grant that names the current API key's id
 *    (`akid`, minted with the key): a server-wide admin — until ADMIN_API_KEY is rotated, which
 *    revokes it (401);
 *  - any other access token with the `admin` grant: an admin of its own room only.
 * An admin token must carry `iat` and last at most ADMIN_TOKEN_MAX_TTL_SECONDS. Anything else is
 * 401 (no or a wrong credential) or 403 (a valid token without the admin grant, or too long-lived).
 * The caller goes to the router in `res.locals.adminCaller`. Credentials are never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AccessTokenError, adminKeyId, verifyAccessToken } from '../auth/access-token';
import type { Logger } from '../logger';
import { sendError } from '../http/http-errors';
import type { AdminCaller } from './admin-api';

export interface AdminCredentials {
  apiKey?: string;
  /** Key of access tokens (AUTH_SECRET), when tokens are on. */
  tokenKey?: Uint8Array;
  /** Longest lifetime (exp − iat) of a token accepted as an admin one (ADMIN_TOKEN_MAX_TTL_SECONDS). */
  adminTokenMaxTtlSeconds: number;
}

/** Equal in constant time, whatever the lengths (both sides hashed first). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The caller the router and handlers act for. */
export function adminCallerOf(locals: Record<string, unknown>): AdminCaller {
  const caller = locals.adminCaller as AdminCaller | undefined;
  if (!caller) throw new Error('admin route reached without adminAuth');
  return caller;
}

export function adminAuth(credentials: AdminCredentials, logger: Logger): RequestHandler {
  const log = logger.child({ component: 'admin' });
  const accepted = [
    credentials.apiKey ? 'ADMIN_API_KEY' : undefined,
    credentials.tokenKey ? 'an access token with the admin grant' : undefined,
  ]
    .filter(Boolean)
    .join(' or ');
  // The id server-wide admin tokens must name; none without an API key (then every admin token is a room admin's).
  const serverKeyId = credentials.apiKey && credentials.tokenKey ? adminKeyId(credentials.apiKey, credentials.tokenKey) : undefined;
  const maxTtl = credentials.adminTokenMaxTtlSeconds;
  return async (req, res, next) => {
    const refuse = (status: 401 | 403, message: string): void => {
      log.info('admin request refused', { status, reason: message });
      if (status === 401) res.setHeader('www-authenticate', 'Bearer realm="confsfu-admin"');
      sendError(res, { code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message }, status);
    };
    const admit = (caller: AdminCaller): void => {
      res.locals.adminCaller = caller;
      next();
    };
    const match = /^Bearer +(\S{1,8192})$/i.exec(req.get('authorization') ?? '');
    const credential = match?.[1];
    if (!credential) return refuse(401, `send Authorization: Bearer <${accepted}>`);
    if (credentials.apiKey && sameSecret(credential, credentials.apiKey)) return admit({ scope: 'server' });
    if (credentials.tokenKey && credential.split('.').length === 3) {
      let token;
      try {
        token = await verifyAccessToken(credential, credentials.tokenKey);
      } catch (error) {
        if (error instanceof AccessTokenError) return refuse(401, error.message);
        throw error;
      }
      if (!token.grants.admin) return refuse(403, 'this access token has no admin grant');
      // A long-lived admin token is a standing key: the cap holds whoever signed it.
      if (token.issuedAt === undefined || token.expiresAt - token.issuedAt > maxTtl) {
        return refuse(403, `an admin token must carry iat and last at most ${maxTtl} s (ADMIN_TOKEN_MAX_TTL_SECONDS)`);
      }
      if (token.adminKeyId === undefined) {
        return admit({ scope: 'room', roomId: token.roomId, identity: token.identity, expiresAt: token.expiresAt });
      }
      if (serverKeyId === undefined || !sameSecret(token.adminKeyId, serverKeyId)) {
        return refuse(401, 'this admin token was minted under an ADMIN_API_KEY the server no longer has: it is revoked');
      }
      return admit({ scope: 'server', identity: token.identity });
    }
    refuse(401, credentials.apiKey ? 'wrong API key' : 'not an access token');
  };
}
