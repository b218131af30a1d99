/**
 * Per-address limits of the admin API (/api), counted by rate-limiter-flexible, keyed by the
 * client's address (TRUST_PROXY decides whose; an IPv6 client by its /64):
 *  - a request rate (API_RATE_LIMIT per second);
 *  - a lockout after failed authentications: API_AUTH_MAX_FAILURES answers 401 within 15 minutes
 *    lock the address out of /api for API_AUTH_LOCKOUT_MS, each further lockout within a day for
 *    twice as long (at most an hour). A guesser gets a handful of tries per lockout, not hundreds
 *    per second.
 * Refusals are 429 RATE_LIMITED with Retry-After (seconds). A locked-out address is refused even
 * with the right key: a lockout must not tell a guesser which of its guesses was right.
 */
import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { addressKey } from '../rooms/addresses';
import type { TrustedProxies } from './client-address';
import { sendError } from './http-errors';

/** Failed authentications are counted over this window. */
const FAILURE_WINDOW_SECONDS = 15 * 60;
/** Lockouts of one address are counted over a day: each doubles the next. */
const LOCKOUT_COUNT_WINDOW_SECONDS = 24 * 60 * 60;
const LOCKOUT_MAX_SECONDS = 60 * 60;

export function apiLimiter(settings: Config['api'], proxies: TrustedProxies, logger: Logger): RequestHandler {
  const log = logger.child({ component: 'api-limiter' });
  const requests = new RateLimiterMemory({ keyPrefix: 'api-requests', points: settings.requestsPerSecond, duration: 1 });
  const failures = new RateLimiterMemory({ keyPrefix: 'api-failures', points: settings.maxAuthFailures, duration: FAILURE_WINDOW_SECONDS });
  const lockoutCount = new RateLimiterMemory({ keyPrefix: 'api-lockouts', points: 1_000_000, duration: LOCKOUT_COUNT_WINDOW_SECONDS });
  /** A blocked key is locked out (block(): consumed points above the limit until it expires). */
  const lockouts = new RateLimiterMemory({ keyPrefix: 'api-locked', points: 1, duration: 1 });

  const refuse = (res: Parameters<RequestHandler>[1], waitMs: number, message: string): void => {
    res.setHeader('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
    sendError(res, { code: 'RATE_LIMITED', message });
  };

  /** One more 401 for this address; the one that reaches the limit starts a lockout. */
  const failed = async (key: string): Promise<void> => {
    const counted = await failures.consume(key).catch((refusal: unknown) => {
      if (refusal instanceof RateLimiterRes) return refusal; // failures of requests already under way when it locked
      throw refusal;
    });
    if (counted.consumedPoints < settings.maxAuthFailures) return;
    await failures.delete(key);
    const previous = (await lockoutCount.consume(key)).consumedPoints - 1;
    const seconds = Math.min((settings.lockoutMs / 1000) * 2 ** previous, LOCKOUT_MAX_SECONDS);
    await lockouts.block(key, seconds);
    log.warn('address locked out of the admin API after failed authentications', {
      address: key,
      failures: settings.maxAuthFailures,
      lockoutMs: Math.round(seconds * 1000),
      lockouts: previous + 1,
    });
  };

  return (req, res, next) => {
    const key = addressKey(proxies.clientAddress(req).address);
    void (async () => {
      const locked = await lockouts.get(key);
      if (locked && locked.consumedPoints > 1 && locked.msBeforeNext > 0) {
        return refuse(res, locked.msBeforeNext, 'too many failed authentications from this address: locked out for a while');
      }
      try {
        await requests.consume(key);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        return refuse(res, refusal.msBeforeNext, `at most ${settings.requestsPerSecond} requests per second from one address`);
      }
      res.once('finish', () => {
        if (res.statusCode !== 401) return;
        failed(key).catch((error: unknown) => log.error('could not count a failed authentication', { error }));
      });
      next();
    })().catch(next);
  };
}
