/**
 * The server's error classes. Each carries a contract ErrorCode, so the signalling layer maps
 * any thrown error to an ack with one function (signalling/to-ack.ts) and tests assert on codes.
 */
import type { ErrorCode } from '../shared/errors';

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class BadRequestError extends AppError {
  override name = 'BadRequestError';
  constructor(message: string) {
    super('BAD_REQUEST', message);
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} not found [id:${id}]`);
  }
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class InvalidStateError extends AppError {
  override name = 'InvalidStateError';
}
