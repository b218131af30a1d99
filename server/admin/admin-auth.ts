/**
 * Who may call the admin API: `Authorization: Bearer <ADMIN_API_KEY>`, or a valid access token
 * (AUTH_SECRET) whose grants include `admin`. Anything else is 401 (no or a wrong credential)
 * or 403 (a valid token without the admin grant). Credentials are never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AccessTokenError, verifyAccessToken } from '../auth/access-token';
import type { Logger } from '../logger';
import { sendError } from '../http/http-errors';

export interface AdminCredentials {
  apiKey?: string;
  /** Key of access tokens (AUTH_SECRET), when tokens are on. */
  tokenKey?: Uint8Array;
}

/** Equal in constant time, whatever the lengths (both sides hashed first). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function adminAuth(credentials: AdminCredentials, logger: Logger): RequestHandler {
  const log = logger.child({ component: 'admin' });
  const accepted = [
    credentials.apiKey ? 'ADMIN_API_KEY' : undefined,
    credentials.tokenKey ? 'an access token with the admin grant' : undefined,
  ]
    .filter(Boolean)
    .join(' or ');
  return async (req, res, next) => {
    const refuse = (status: 401 | 403, message: string): void => {
      log.info('admin request refused', { status, reason: message });
      if (status === 401) res.setHeader('www-authenticate', 'Bearer realm="confsfu-admin"');
      sendError(res, { code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message }, status);
    };
    const match = /^Bearer +(\S{1,8192})$/i.exec(req.get('authorization') ?? '');
    const credential = match?.[1];
    if (!credential) return refuse(401, `send Authorization: Bearer <${accepted}>`);
    if (credentials.apiKey && sameSecret(credential, credentials.apiKey)) return next();
    if (credentials.tokenKey && credential.split('.').length === 3) {
      try {
        const token = await verifyAccessToken(credential, credentials.tokenKey);
        if (!token.grants.admin) return refuse(403, 'this access token has no admin grant');
        return next();
      } catch (error) {
        if (error instanceof AccessTokenError) return refuse(401, error.message);
        throw error;
      }
    }
    refuse(401, credentials.apiKey ? 'wrong API key' : 'not an access token');
  };
}
