/**
 * One info line per HTTP request when it ends — method, path (no query string: it may carry
 * secrets), status, ms — and a `requestId` for the request (also in the `x-request-id`
 * response header) that every log line written while handling it carries.
 */
import type { RequestHandler } from 'express';
import type { Logger } from '../logger';
import { newRequestId, runInRequest } from '../logger/request-context';

/** Longest path written to the log (the path is the client's text). */
const PATH_LOG_MAX = 200;

export function accessLog(logger: Logger): RequestHandler {
  const log = logger.child({ component: 'http' });
  return (req, res, next) => {
    const startedAt = performance.now();
    const requestId = newRequestId();
    res.setHeader('x-request-id', requestId);
    res.once('close', () => {
      const path = req.originalUrl.split('?')[0] ?? '';
      log.info('http request', {
        requestId,
        method: req.method,
        path: path.length > PATH_LOG_MAX ? `${path.slice(0, PATH_LOG_MAX)}…` : path,
        status: res.statusCode,
        ms: Math.round((performance.now() - startedAt) * 10) / 10,
        ...(res.writableFinished ? {} : { aborted: true }),
      });
    });
    runInRequest({ requestId }, next);
  };
}
