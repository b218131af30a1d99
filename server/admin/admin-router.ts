/**
 * The admin REST API under /api: `GET /api/openapi.json` (public: it describes, it does not
 * act), then authentication, JSON bodies up to ADMIN_MAX_BODY_BYTES, and one route per
 * operation of admin-api.ts — path and body parsed with the operation's schemas, the caller's
 * scope checked against the operation's `access` (a room admin: its own room only), the
 * handler's result checked against its success schema. Every error is `{ error: { code, message } }`.
 */
import express, { type ErrorRequestHandler, type Router } from 'express';
import { z } from 'zod';
import { AppError } from '../errors';
import { sendError } from '../http/http-errors';
import { adminOperations, assertInScope, targetRoom, type Operation, type TokenLimits } from './admin-api';
import { adminAuth, adminCallerOf, type AdminCredentials } from './admin-auth';
import { adminHandlers, type AdminDeps, type AdminHandlers } from './admin-handlers';
import { buildOpenApiDocument } from './openapi';

export interface AdminRouterOptions extends AdminDeps, TokenLimits {
  credentials: AdminCredentials;
  maxBodyBytes: number;
  /** The server's version, for the OpenAPI document. */
  version: string;
  /** In place of adminHandlers(options): the cluster's, which reach the node hosting each room. */
  handlers?: AdminHandlers;
}

/** `/rooms/{roomId}` → `/rooms/:roomId`. */
const expressPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${[where, ...issue.path].join('.')}: ${issue.message}`)
    .join('; ');
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'path' | 'body'): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('BAD_REQUEST', describeIssues(where, parsed.error));
  return parsed.data;
}

type AnyHandler = (input: { params: unknown; body: unknown; caller: unknown }) => unknown;

export function createAdminRouter(options: AdminRouterOptions): Router {
  const log = options.logger.child({ component: 'admin' });
  const operations: Record<string, Operation> = adminOperations(options);
  const handlers = (options.handlers ?? adminHandlers(options)) as unknown as Record<string, AnyHandler>;
  const openApi = buildOpenApiDocument(operations, { version: options.version });

  const router = express.Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  router.use(adminAuth(options.credentials, options.logger));
  router.use(express.json({ limit: options.maxBodyBytes }));

  for (const [operationId, op] of Object.entries(operations)) {
    const handle = handlers[operationId];
    if (!handle) throw new Error(`no handler for admin operation ${operationId}`);
    router[op.method](expressPath(op.path), async (req, res) => {
      const caller = adminCallerOf(res.locals);
      const params = op.params ? parse(op.params, req.params, 'path') : {};
      const body: unknown = op.body ? parse(op.body, req.body, 'body') : undefined;
      assertInScope(op, caller, targetRoom(params, body));
      const result = await handle({ params, body, caller });
      if (!op.success.schema) {
        res.status(op.success.status).end();
        return;
      }
      // The document promises this shape: a mismatch is our bug (500), never a silent drift.
      res.status(op.success.status).json(op.success.schema.parse(result));
    });
  }

  router.use((_req, res) => sendError(res, { code: 'NOT_FOUND', message: 'no such admin route (see /api/openapi.json)' }));

  // Express recognises an error handler by its four parameters, so `next` stays although unused.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    if (error instanceof AppError) return sendError(res, { code: error.code, message: error.message });
    // body-parser: malformed JSON, too large.
    const type = (error as { type?: unknown }).type;
    if (type === 'entity.too.large')
      return sendError(res, { code: 'BAD_REQUEST', message: `body larger than ${options.maxBodyBytes} bytes` }, 413);
    if (type === 'entity.parse.failed') return sendError(res, { code: 'BAD_REQUEST', message: 'body is not valid JSON' });
    log.error('admin request failed', { method: req.method, error });
    sendError(res, { code: 'INTERNAL', message: 'internal error' });
  };
  router.use(onError);
  return router;
}
