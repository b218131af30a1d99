/** Maps anything a handler throws to the ack body a client receives. */
import { z } from 'zod';
import type { Ack } from '../../shared/contract';
import type { ErrorBody } from '../../shared/errors';
import { AppError } from '../errors';

/** One readable line from a zod error: `rtpParameters.codecs.0.payloadType: Too big: …`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'payload'}: ${issue.message}`)
    .join('; ');
}

/** Known errors keep their code and message; anything else is INTERNAL with a generic message. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  if (error instanceof z.ZodError) return { code: 'BAD_REQUEST', message: describeZodError(error) };
  return { code: 'INTERNAL', message: 'internal server error' };
}

export function failure(error: unknown): Ack<never> {
  return { ok: false, error: errorBody(error) };
}
