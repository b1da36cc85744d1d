// Schema validation shared by the API, the CLI and the services: a TypeBox schema
// checks shape and ranges; every failure becomes a FieldIssue with the field's
// dotted path and a catalogue message key (no English text from the validator
// leaks out). Schemas may carry `x-error` to choose the message for a union.
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { ValidationError, type FieldIssue } from './errors.ts';
import type { MessageKey } from '../i18n/index.ts';

interface TypeBoxError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
}

/**
 * Characters no one-line text may hold: C0 and C1 controls and the Unicode line and paragraph
 * separators (names, From names and reasons go into headers, logs and table cells).
 */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const compiled = new WeakMap<TSchema, any>();

function checker(schema: TSchema) {
  let c = compiled.get(schema);
  if (!c) {
    c = Compile(schema);
    compiled.set(schema, c);
  }
  return c as { Check(v: unknown): boolean; Errors(v: unknown): Iterable<TypeBoxError> };
}

/** Throws ValidationError unless `value` matches `schema`; returns it typed. */
export function validateSchema<T>(schema: TSchema, value: unknown): T {
  const issues = [...unsafeTextIssues(value), ...schemaIssues(schema, value)];
  if (issues.length) throw new ValidationError(issues);
  return value as T;
}

export function schemaIssues(schema: TSchema, value: unknown): FieldIssue[] {
  const c = checker(schema);
  if (c.Check(value)) return [];
  const byPath = new Map<string, TypeBoxError[]>();
  const issues: FieldIssue[] = [];
  let first: TypeBoxError | undefined;
  for (const e of c.Errors(value)) {
    first ??= e;
    if (e.keyword === 'boolean') {
      // "schema is false" at a property that is not in the schema. additionalProperties says
      // the same after them, but TypeBox stops after a few errors: with eight unknown fields
      // only these came, and the value — other mistakes in it too — was taken as valid
      if (e.schemaPath.endsWith('/additionalProperties')) issues.push({ path: pointerToPath(e.instancePath), key: 'validation.unknownField' });
      continue;
    }
    if (e.keyword === 'required') {
      for (const name of (e.params.requiredProperties as string[]) ?? []) {
        issues.push({ path: join(pointerToPath(e.instancePath), name), key: 'validation.required' });
      }
      continue;
    }
    if (e.keyword === 'additionalProperties') {
      for (const name of (e.params.additionalProperties as string[]) ?? []) {
        issues.push({ path: join(pointerToPath(e.instancePath), name), key: 'validation.unknownField' });
      }
      continue;
    }
    const path = pointerToPath(e.instancePath);
    const list = byPath.get(path) ?? [];
    list.push(e);
    byPath.set(path, list);
  }
  for (const [path, errors] of byPath) issues.push(issueFor(schema, path, errors));
  // never "valid" for a value the schema refuses, whatever its errors looked like
  if (issues.length === 0) issues.push({ path: first ? pointerToPath(first.instancePath) : '', key: 'validation.type.null' });
  // one message per field, in a stable order
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = i.path + '\0' + i.key;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function issueFor(root: TSchema, path: string, errors: TypeBoxError[]): FieldIssue {
  const union = errors.find((e) => e.keyword === 'anyOf');
  if (union) {
    const s = resolve(root, union.schemaPath);
    const custom = s?.['x-error'] as MessageKey | undefined;
    if (custom) return { path, key: custom, params: { min: s?.['x-min'], max: s?.['x-max'] } };
    const branches = (s?.anyOf ?? []) as Record<string, unknown>[];
    if (branches.length && branches.every((b) => 'const' in b)) {
      return { path, key: 'validation.enum', params: { allowed: branches.map((b) => String(b.const)).join(', ') } };
    }
  }
  const first = errors.find((e) => e.keyword !== 'anyOf') ?? errors[0]!;
  const s = resolve(root, first.schemaPath);
  switch (first.keyword) {
    case 'type':
      return { path, key: `validation.type.${String(first.params.type)}` as MessageKey };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      if (typeof s?.minimum === 'number' && typeof s?.maximum === 'number') {
        return { path, key: 'validation.range', params: { min: s.minimum, max: s.maximum } };
      }
      return { path, key: first.keyword === 'maximum' ? 'validation.maximum' : 'validation.minimum', params: { limit: first.params.limit } };
    case 'minLength':
      return { path, key: 'validation.minLength', params: { limit: first.params.limit } };
    case 'maxLength':
      return { path, key: 'validation.maxLength', params: { limit: first.params.limit } };
    case 'const':
    case 'enum':
      return { path, key: 'validation.enum', params: { allowed: JSON.stringify(first.params.allowedValue ?? first.params.allowedValues) } };
    case 'pattern':
      return { path, key: (s?.['x-error'] as MessageKey) ?? 'validation.controlChars' };
    case 'minItems':
      return first.params.limit === 1 ? { path, key: 'validation.minItemsOne' } : { path, key: 'validation.minItems', params: { limit: first.params.limit } };
    case 'maxItems':
      return { path, key: 'validation.maxItems', params: { limit: first.params.limit } };
    default:
      return { path, key: 'validation.type.null' };
  }
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function join(base: string, name: string): string {
  return base ? `${base}.${name}` : name;
}

function resolve(root: TSchema, schemaPath: string): Record<string, unknown> | undefined {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let node: any = root;
  for (const part of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

/** A NUL or a lone surrogate: text no user typed, that the engines refuse or store differently. */
export const UNSAFE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings anywhere in `value` that hold a NUL or a lone surrogate, as field issues. */
export function unsafeTextIssues(value: unknown, path = '', out: FieldIssue[] = [], depth = 0): FieldIssue[] {
  if (depth > 32 || out.length > 50) return out;
  if (typeof value === 'string') {
    if (UNSAFE_TEXT.test(value)) out.push({ path, key: 'validation.controlChars' });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => unsafeTextIssues(v, path ? `${path}.${i}` : String(i), out, depth + 1));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (UNSAFE_TEXT.test(k)) out.push({ path: path ? `${path}.?` : '?', key: 'validation.controlChars' });
      else unsafeTextIssues(v, path ? `${path}.${k}` : k, out, depth + 1);
    }
  }
  return out;
}
