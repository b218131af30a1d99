/**
 * The request a log line was written for. The signalling session runs each request's handler,
 * and the HTTP app each HTTP request, inside `runInRequest()`; every log line written meanwhile,
 * by any component and through any await, then carries `requestId` (and `event` for a
 * signalling request) without the id being passed down by hand.
 *
 *   … | grep '"requestId":"9f3c2a61d0b4e857"'   # everything one request did
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import winston from 'winston';

export interface RequestContext {
  /** 16 hex digits, unique enough to grep for. */
  readonly requestId: string;
  /** The signalling request's event name (a contract name, bounded); absent for HTTP. */
  readonly event?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Random bytes for request ids, refilled 512 ids at a time (one `randomBytes(8)` per request, an OpenSSL call and a Buffer each, was ~4 % of a cheap request). */
const idPool = Buffer.alloc(8 * 512);
let idOffset = idPool.length;

export function newRequestId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + 8);
  idOffset += 8;
  return id;
}

/** Runs `fn` (and everything it awaits or schedules) as part of the request `context`. */
export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs `fn` outside any request: for work that outlives the request that started it (a
 * delivery queue's loop), so its log lines do not carry that request's id forever.
 */
export function outsideRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}

export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** Winston format: adds the current request's `requestId` and `event` to a log line (a line's own fields win). */
export const requestContextFields = winston.format((info) => {
  const context = storage.getStore();
  if (context) {
    info.requestId ??= context.requestId;
    if (context.event !== undefined) info.event ??= context.event;
  }
  return info;
});
