/**
 * A zod schema as a short TypeScript-like type for the generated reference, as a client writes
 * it (input side: defaults optional): `{ transportId, direction: 'send' | 'recv', type?: 'webrtc' | 'plain' }`.
 * A field without a type is a string. Schemas named in the contract's `contractDocs` registry
 * (media descriptions) print as their name; number ranges print as `0–15`; string bounds are
 * left to the doc.
 */
import type { z } from 'zod';
import { contractDocs } from '../../shared/messages';

/** The parts of zod's definitions read here (zod 4's `schema._zod.def`). */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  element?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string | number>;
  values?: unknown[];
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  format?: string;
  checks?: Array<{ _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } } }>;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Optional input (optional, or with a default), and the schema inside. */
function unwrapOptional(schema: z.ZodType): { inner: z.ZodType; optional: boolean } {
  const def = defOf(schema);
  if ((def.type === 'optional' || def.type === 'default' || def.type === 'prefault') && def.innerType) {
    return { inner: unwrapOptional(def.innerType).inner, optional: true };
  }
  return { inner: schema, optional: false };
}

function numberText(def: Def): string {
  let min: number | undefined;
  let max: number | undefined;
  let integer = false;
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'greater_than') min = c.value;
    if (c.check === 'less_than') max = c.value;
    if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32' || c.format === 'uint32')) integer = true;
  }
  if (min !== undefined && max !== undefined) return `${min}–${max}`;
  return integer ? 'integer' : 'number';
}

/** The type of `schema` as text. */
export function typeText(schema: z.ZodType): string {
  const name = contractDocs.get(schema)?.name;
  if (name) return name;
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return fieldsText(schema);
    case 'optional':
    case 'default':
    case 'prefault':
      return typeText(unwrapOptional(schema).inner);
    case 'nullable':
      return `${typeText(def.innerType!)} | null`;
    case 'string':
      return def.format === 'ipv4' ? 'IPv4' : def.format === 'ipv6' ? 'IPv6' : 'string';
    case 'number':
      return numberText(def);
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'enum':
      return Object.values(def.entries ?? {})
        .map((value) => JSON.stringify(value).replace(/"/g, "'"))
        .join(' | ');
    case 'literal':
      return (def.values ?? []).map((value) => JSON.stringify(value).replace(/"/g, "'")).join(' | ');
    case 'union':
      return (def.options ?? []).map(typeText).join(' | ');
    case 'array': {
      const element = typeText(def.element!);
      return /[ |]/.test(element) && !element.startsWith('{') ? `(${element})[]` : `${element}[]`;
    }
    case 'record':
      return `{ [key: string]: ${typeText(def.valueType!)} }`;
    case 'pipe':
      // What a client sends is the pipe's input, unless that is only a pre-check of anything.
      return defOf(def.in!).type === 'unknown' ? typeText(def.out!) : typeText(def.in!);
    default:
      return def.type;
  }
}

/** An object schema's fields: `{ a: T, b?: U, c }` (`c`: a string; `{}` without any). */
export function fieldsText(schema: z.ZodType): string {
  const shape = defOf(schema).shape ?? {};
  const fields = Object.entries(shape).map(([key, field]) => {
    const { inner, optional } = unwrapOptional(field);
    const type = typeText(inner);
    return `${key}${optional ? '?' : ''}${type === 'string' ? '' : `: ${type}`}`;
  });
  return fields.length ? `{ ${fields.join(', ')} }` : '{}';
}

/** The documented values of the enums among an object schema's fields: `[field, { value: doc }]`. */
export function documentedValues(schema: z.ZodType): Array<[string, Readonly<Record<string, string>>]> {
  const shape = defOf(schema).shape ?? {};
  const found: Array<[string, Readonly<Record<string, string>>]> = [];
  for (const [key, field] of Object.entries(shape)) {
    const values = contractDocs.get(unwrapOptional(field).inner)?.values;
    if (values) found.push([key, values]);
  }
  return found;
}
