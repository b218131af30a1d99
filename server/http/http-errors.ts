/**
 * HTTP errors in one shape, `{ error: { code, message } }`, with the contract's codes (the same
 * bodies a socket gets in a failed ack) and one status per code.
 */
import type { Response } from 'express';
import { z } from 'zod';
import { ErrorCodes, type ErrorBody, type ErrorCode } from '../../shared/errors';

export const HTTP_STATUS_OF: { readonly [C in ErrorCode]: number } = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_JOINED: 409,
  ALREADY_JOINED: 409,
  ROOM_FULL: 409,
  NOT_FOUND: 404,
  CANNOT_CONSUME: 400,
  FORBIDDEN: 403,
  LIMIT_EXCEEDED: 429,
  RATE_LIMITED: 429,
  ROOM_EXISTS: 409,
  ROOM_CLOSED: 409,
  RESUME_FAILED: 409,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  DISCONNECTED: 503,
  INTERNAL: 500,
};

/** The error body of every HTTP error response (and the OpenAPI `ErrorResponse`). */
export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.enum(ErrorCodes).describe('Stable error code (shared/errors.ts).'),
    message: z.string().describe('What went wrong, for people.'),
  }),
});

export function sendError(res: Response, body: ErrorBody, status: number = HTTP_STATUS_OF[body.code]): void {
  res.status(status).json({ error: body });
}
