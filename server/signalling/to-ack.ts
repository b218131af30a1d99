/** Maps anything a handler throws to the ack body a client receives. */
import { z } from 'zod';
import type { Ack } from '../../shared/contract';
import type { ErrorBody } from '../../shared/errors';
import { AppError } from '../errors';

/** Longest client-influenced text in an ack message or a log line (messages, event names, zod paths). */
export const ECHO_MAX = 200;

/** `text` cut to `max` characters (with an ellipsis when cut). */
export function clip(text: string, max = ECHO_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One readable line from a zod error: `rtpParameters.codecs.0.payloadType: Too big: …`, at most ECHO_MAX characters. */
export function describeZodError(error: z.ZodError): string {
  return clip(
    error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.length ? clip(issue.path.map(String).join('.'), 80) : 'payload'}: ${clip(issue.message, 80)}`)
      .join('; '),
  );
}

/** Known errors keep their code and (clipped) message; anything else is INTERNAL with a generic message. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof AppError) return { code: error.code, message: clip(error.message) };
  if (error instanceof z.ZodError) return { code: 'BAD_REQUEST', message: describeZodError(error) };
  return { code: 'INTERNAL', message: 'internal server error' };
}

export function failure(error: unknown): Ack<never> {
  return { ok: false, error: errorBody(error) };
}
