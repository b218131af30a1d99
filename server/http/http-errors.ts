/**
 * HTTP errors in one shape, `{ error: { code, message } }`, with the contract's codes (the same
 * bodies a socket gets in a failed ack) and the status the error registry gives each code. A
 * retryable code (RATE_LIMITED, UNAVAILABLE) says when to try again (`Retry-After`).
 */
import type { Response } from 'express';
import { z } from 'zod';
import { errorRegistry, ErrorCodes, type ErrorBody, type ErrorCode } from '../../shared/errors';

/** The HTTP status of an error code (the error registry's). */
export function httpStatusOf(code: ErrorCode): number {
  return errorRegistry[code].status;
}

/** The error body of every HTTP error response (and the OpenAPI `ErrorResponse`). */
export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.enum(ErrorCodes).describe('Stable error code (shared/errors.ts).'),
    message: z.string().describe('What went wrong, for people.'),
  }),
});

/** Seconds a client waits before repeating a request refused with a retryable code. */
const RETRY_AFTER_S = 1;

export function sendError(res: Response, body: ErrorBody, status: number = httpStatusOf(body.code)): void {
  // A limiter that knows how long to wait has said so already.
  if (errorRegistry[body.code].retryable && !res.hasHeader('retry-after')) res.setHeader('retry-after', String(RETRY_AFTER_S));
  res.status(status).json({ error: body });
}
