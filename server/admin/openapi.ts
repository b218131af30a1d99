/**
 * The OpenAPI 3.1 document of the admin API, generated from the operations' zod schemas
 * (zod's own JSON Schema output, draft 2020-12, which OpenAPI 3.1 uses as is): request bodies
 * as zod reads them (input: defaults optional), responses as the server writes them (output).
 */
import { z } from 'zod';
import { ErrorResponseSchema } from '../http/http-errors';
import type { ErrorStatus, Operation } from './admin-api';

type JsonSchema = Record<string, unknown>;

const ERROR_DESCRIPTIONS: Record<ErrorStatus | 401 | 403 | 503, string> = {
  400: 'The path or body fails its schema (BAD_REQUEST)',
  401: 'No credential, a wrong API key, an invalid token, or a server-wide admin token whose ADMIN_API_KEY was rotated (UNAUTHORIZED)',
  403: "An access token without the admin grant, lasting longer than ADMIN_TOKEN_MAX_TTL_SECONDS, or a room admin's token outside its own room (FORBIDDEN)",
  404: 'No such room or peer (NOT_FOUND)',
  409: 'The room is already open (ROOM_EXISTS)',
  413: 'The body is larger than ADMIN_MAX_BODY_BYTES (BAD_REQUEST)',
  503: "With REDIS_URL: Redis or the room's node did not answer in time (UNAVAILABLE); retry after Retry-After seconds",
};

/** PascalCase of an operation id: `createRoom` → `CreateRoom`. */
const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** A standalone JSON Schema for a path parameter (no `$schema`). */
function inlineSchema(schema: z.ZodType): JsonSchema {
  return withoutKeys(z.toJSONSchema(schema, { io: 'input' }), ['$schema']);
}

/** `$schema` and `$id` belong to standalone JSON Schema documents, not to OpenAPI's embedded ones. */
function withoutKeys(schema: JsonSchema, keys: readonly string[]): JsonSchema {
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !keys.includes(key)));
}

/** Named component schemas (`#/components/schemas/<name>`), `$schema`/`$id` removed. */
function componentSchemas(entries: Array<[string, z.ZodType]>, io: 'input' | 'output'): Record<string, JsonSchema> {
  if (entries.length === 0) return {};
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of entries) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutKeys(schema as JsonSchema, ['$schema', '$id'])]));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export function buildOpenApiDocument(operations: Record<string, Operation>, info: { version: string }): JsonSchema {
  const requestSchemas: Array<[string, z.ZodType]> = [];
  const responseSchemas: Array<[string, z.ZodType]> = [['ErrorResponse', ErrorResponseSchema]];
  const paths: Record<string, Record<string, unknown>> = {};

  for (const [operationId, op] of Object.entries(operations)) {
    const responses: Record<string, unknown> = {};
    if (op.success.schema) {
      const name = `${pascal(operationId)}Response`;
      responseSchemas.push([name, op.success.schema]);
      responses[op.success.status] = { description: op.success.description, content: { 'application/json': { schema: ref(name) } } };
    } else {
      responses[op.success.status] = { description: op.success.description };
    }
    for (const status of [...op.errors, 401, 403, 503] as const) {
      responses[status] = { description: ERROR_DESCRIPTIONS[status], content: { 'application/json': { schema: ref('ErrorResponse') } } };
    }
    let requestBody: unknown;
    if (op.body) {
      const name = `${pascal(operationId)}Request`;
      requestSchemas.push([name, op.body]);
      requestBody = { required: true, content: { 'application/json': { schema: ref(name) } } };
    }
    const shape: Record<string, z.ZodType> = op.params?.shape ?? {};
    const parameters = Object.entries(shape).map(([name, schema]) => ({
      name,
      in: 'path',
      required: true,
      description: schema.description,
      schema: inlineSchema(schema),
    }));
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [op.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'confsfu admin API',
      version: info.version,
      description:
        'Rooms, peers and tokens of a confsfu server. Authenticate with `Authorization: Bearer <ADMIN_API_KEY>` (every room), a server-wide admin token minted with that key (every room, until the key is rotated), or an access token with the `admin` grant (its own room only: other rooms and server-wide operations are 403). Admin tokens last at most ADMIN_TOKEN_MAX_TTL_SECONDS. Errors are `{ error: { code, message } }` with the codes of shared/errors.ts.',
      license: { name: 'ISC', identifier: 'ISC' },
    },
    servers: [{ url: '/api', description: 'This server' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'rooms', description: 'Open rooms, their peers and their producers' },
      { name: 'tokens', description: 'Access tokens for clients (with AUTH_SECRET)' },
      { name: 'server', description: 'The server as a whole' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'ADMIN_API_KEY, or an access token (JWT) with the admin grant (server-wide when it names the key, else for its own room)',
        },
      },
      schemas: { ...componentSchemas(requestSchemas, 'input'), ...componentSchemas(responseSchemas, 'output') },
    },
  };
}
