// One message catalogue for the API, the CLI and the UI: Japanese (the default)
// and English. `t(lang, key, params)` fills {placeholders}; a field label is
// looked up by the field's path, e.g. "incoming.port".
import { en } from './en.ts';
import { ja } from './ja.ts';

export type Lang = 'ja' | 'en';
export const LANGS: readonly Lang[] = ['ja', 'en'];
export type MessageKey = keyof typeof ja.messages;

export interface Catalogue {
  messages: Record<string, string>;
  fields: Record<string, string>;
}
const CATALOGUES: Record<Lang, Catalogue> = { ja, en };

export function t(lang: Lang, key: MessageKey | string, params: Record<string, unknown> = {}): string {
  const template = own(CATALOGUES[lang].messages, key) ?? own(CATALOGUES.en.messages, key) ?? key;
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** The field's label, e.g. "受信メールサーバーのポート番号"; falls back to the path. */
export function fieldLabel(lang: Lang, path: string): string {
  const fields = CATALOGUES[lang].fields;
  const exact = own(fields, path);
  if (exact) return exact;
  // leaveOnServer.days, auth.mechanism … : try the last segments
  const parts = path.split('.');
  for (let i = 1; i < parts.length; i++) {
    const label = own(fields, parts.slice(i).join('.'));
    if (label) return label;
  }
  // to.0, addresses.12 …: the list's label and which entry (1-based, as a user counts)
  const item = /^(.+)\.(\d+)$/.exec(path);
  if (item) {
    const n = Number(item[2]) + 1;
    return lang === 'ja' ? `${fieldLabel(lang, item[1]!)}の${n}件目` : `${fieldLabel(lang, item[1]!)} (entry ${n})`;
  }
  return path || (lang === 'ja' ? 'リクエスト' : 'request');
}

/** Only the catalogue's own entries: a field named "toString" is not a label. */
function own(table: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Pick the language from an Accept-Language header: ja unless English is preferred. */
export function langFromAcceptLanguage(header: string | undefined): Lang {
  if (!header) return 'ja';
  const ranked = header
    .split(',')
    .map((part) => {
      const [tag = '', ...rest] = part.trim().split(';');
      const q = rest.map((r) => r.trim()).find((r) => r.startsWith('q='));
      return { tag: tag.toLowerCase(), q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    if (tag === 'ja' || tag.startsWith('ja-')) return 'ja';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'ja';
}

/** The CLI's language: YUBIN_LANG, else LANG/LC_ALL starting with en → en, else ja. */
export function langFromEnv(env: NodeJS.ProcessEnv = process.env): Lang {
  // an empty variable is as unset (|| not ??), so YUBIN_LANG= still lets LANG=en… choose
  const v = (env.YUBIN_LANG || env.LC_ALL || env.LANG || '').toLowerCase();
  return v.startsWith('en') ? 'en' : 'ja';
}
