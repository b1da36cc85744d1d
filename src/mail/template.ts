// Mail-merge for bulk delivery (一斉配信): `{{name}}` fields in a subject or body are replaced
// by the recipient's CSV columns. One pass, so a value that itself contains `{{x}}` is written
// as it is and never expanded again. Field names are any characters but braces and whitespace
// (CSV headers may be Japanese: `{{氏名}}`); spaces inside the braces are allowed.

export interface RenderedTemplate {
  text: string;
  /** Field names used by the template but absent from `fields`, each once, in order of use. */
  missing: string[];
}

export interface RenderOptions {
  /** Escape values for an HTML body (& < > " '). */
  escapeHtml?: boolean | undefined;
}

const FIELD = /\{\{\s*([^{}\s]+)\s*\}\}/gu;

/** Replace every `{{name}}`; a missing field becomes the empty string and is reported in `missing`. */
export function renderTemplate(template: string, fields: Readonly<Record<string, string>>, options: RenderOptions = {}): RenderedTemplate {
  const missing: string[] = [];
  const text = template.replace(FIELD, (_match, name: string) => {
    // own properties only: a field called "constructor" or "__proto__" is not inherited
    if (!Object.hasOwn(fields, name)) {
      if (!missing.includes(name)) missing.push(name);
      return '';
    }
    const value = fields[name] ?? '';
    return options.escapeHtml ? escapeHtml(value) : value;
  });
  return { text, missing };
}

/**
 * A template split once into its literal text and the field names between (`literals` has
 * one more entry than `names`), so that filling it for each of many recipients is string
 * concatenation (bulk delivery) instead of a regular-expression pass over the whole body.
 */
export interface CompiledTemplate {
  literals: string[];
  names: string[];
}

export function compileTemplate(template: string): CompiledTemplate {
  const literals: string[] = [];
  const names: string[] = [];
  let from = 0;
  for (const m of template.matchAll(FIELD)) {
    literals.push(template.slice(from, m.index));
    names.push(m[1]!);
    from = m.index + m[0].length;
  }
  literals.push(template.slice(from));
  return { literals, names };
}

/** Fill a compiled template: the same text as `renderTemplate(template, fields, options).text`. */
export function fillTemplate(t: CompiledTemplate, fields: Readonly<Record<string, string>>, options: RenderOptions = {}): string {
  let out = t.literals[0]!;
  for (let i = 0; i < t.names.length; i++) {
    const name = t.names[i]!;
    const value = Object.hasOwn(fields, name) ? (fields[name] ?? '') : '';
    out += (options.escapeHtml ? escapeHtml(value) : value) + t.literals[i + 1]!;
  }
  return out;
}

/** The distinct field names a template uses, in order of first use. */
export function templateFields(template: string): string[] {
  const names: string[] = [];
  for (const m of template.matchAll(FIELD)) {
    const name = m[1];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
