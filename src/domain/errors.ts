// Errors a user can cause (bad input, missing things, conflicts). They carry a
// stable code and message keys, not text: the HTTP error mapper and the CLI turn
// them into Japanese or English at the edge. Mail protocol errors are MailError.
import type { Lang, MessageKey } from '../i18n/index.ts';
import { fieldLabel, t } from '../i18n/index.ts';

export type AppErrorCode =
  | 'VALIDATION'
  | 'BAD_REQUEST'
  | 'BAD_URL'
  | 'NOT_FOUND'
  | 'PRESET_IMMUTABLE'
  | 'SERVER_IN_USE'
  | 'ACCOUNT_IN_USE'
  | 'UNAUTHENTICATED'
  | 'CSRF'
  | 'RATE_LIMITED'
  | 'MALFORMED_JSON'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SETUP_DONE'
  | 'SETUP_TOKEN'
  | 'CONFLICT'
  | 'RECEIVE_BUSY'
  | 'OAUTH_NOT_CONFIGURED'
  | 'OAUTH_NOT_PRESET'
  | 'OAUTH_CALLBACK'
  | 'OAUTH_DISCOVERY'
  | 'SECRET_KEY_MISMATCH';

export const STATUS_BY_CODE: Record<AppErrorCode, number> = {
  VALIDATION: 400,
  BAD_REQUEST: 400,
  BAD_URL: 400,
  MALFORMED_JSON: 400,
  NOT_FOUND: 404,
  PRESET_IMMUTABLE: 409,
  SERVER_IN_USE: 409,
  ACCOUNT_IN_USE: 409,
  CONFLICT: 409,
  RECEIVE_BUSY: 409,
  OAUTH_NOT_CONFIGURED: 409,
  OAUTH_NOT_PRESET: 409,
  OAUTH_CALLBACK: 400,
  // the provider's discovery document (an upstream server) could not be read or used
  OAUTH_DISCOVERY: 502,
  // the server's own configuration: not something the request can fix
  SECRET_KEY_MISMATCH: 500,
  SETUP_DONE: 409,
  UNAUTHENTICATED: 401,
  SETUP_TOKEN: 403,
  CSRF: 403,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

export interface FieldIssue {
  /** dotted path of the field, e.g. "incoming.port"; "" for the whole body */
  path: string;
  key: MessageKey;
  params?: Record<string, unknown>;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: AppErrorCode,
    readonly key: MessageKey,
    readonly params: Record<string, unknown> = {},
    readonly issues: FieldIssue[] = [],
    /** extra JSON for the response, e.g. the accounts that use a server */
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${code}: ${t('en', key, params)}${issues.length ? ' ' + issues.map((i) => `[${i.path}] ${t('en', i.key, { field: i.path, ...i.params })}`).join(' ') : ''}`);
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }

  localized(lang: Lang): { code: AppErrorCode; message: string; fields?: { path: string; message: string }[] } & Record<string, unknown> {
    const fields = this.issues.map((i) => ({ path: i.path, message: localizeIssue(lang, i) }));
    return {
      code: this.code,
      message:
        this.issues.length && this.code === 'VALIDATION'
          ? `${t(lang, this.key, localizeParams(lang, this.params))} ${fields.map((f) => f.message).join(' ')}`
          : t(lang, this.key, localizeParams(lang, this.params)),
      ...(fields.length ? { fields } : {}),
      ...this.details,
    };
  }
}

export function localizeIssue(lang: Lang, issue: FieldIssue): string {
  return t(lang, issue.key, { field: fieldLabel(lang, issue.path), ...localizeParams(lang, issue.params ?? {}) });
}

export class ValidationError extends AppError {
  constructor(issues: FieldIssue[]) {
    super('VALIDATION', 'validation.summary', {}, issues);
  }
}

export function notFound(what: 'what.mailServer' | 'what.mailAccount' | 'what.apiToken' | 'what.message' | 'what.attachment' | 'what.oauthProvider'): AppError {
  return new AppError('NOT_FOUND', 'error.notFound', { what: new MessageRef(what) });
}

/** A parameter that is itself a catalogue message, localized with the rest. */
export class MessageRef {
  constructor(readonly key: MessageKey) {}
  toString(): string {
    return t('en', this.key);
  }
}

export function localizeParams(lang: Lang, params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = v instanceof MessageRef ? t(lang, v.key) : v;
  return out;
}
