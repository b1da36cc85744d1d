// Small helpers shared by the services.

/** Dotted names of the leaf fields that differ between two settings objects. */
export function changedFields(before: object, after: object, prefix = ''): string[] {
  const out: string[] = [];
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    const path = prefix ? `${prefix}.${key}` : key;
    const x = b[key];
    const y = a[key];
    if (isPlainObject(x) || isPlainObject(y)) out.push(...changedFields(isPlainObject(x) ? x : {}, isPlainObject(y) ? y : {}, path));
    else if (x !== y) out.push(path);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A UNIQUE constraint failure on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A FOREIGN KEY failure on either engine. */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
