// Mail accounts (メールアカウント): an address received and sent through one mail
// server, with its own credentials and leave-on-server policy.
import Type, { type Static } from 'typebox';
import type { FieldIssue } from './errors.ts';
import { CONTROL_CHARS } from './validation.ts';
import { normalizeHost } from './host.ts';

export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_ADDRESS_LENGTH = 254;
/** Refused in the local part (the issue's list); anything else outside LOCAL_OK too. */
export const FORBIDDEN_LOCAL_CHARS = '!"$\'()*,:;<>[]^{}';
// Dots are allowed anywhere: Japanese mobile carriers issued addresses such as
// "taro..yamada@docomo.ne.jp" and "taro.@ezweb.ne.jp" that must still work.
const LOCAL_OK = /^[A-Za-z0-9.#%&+\-/=?_`|~]+$/;

export const LeaveOnServer = Type.Object(
  {
    mode: Type.Union([Type.Literal('delete'), Type.Literal('days'), Type.Literal('forever')]),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false, description: 'delete (recommended) | days N (1–3650) | forever' },
);
export type LeaveOnServer = Static<typeof LeaveOnServer>;

const Text = (max: number) => Type.String({ maxLength: max });
const Password = Type.String({ maxLength: 100_000, description: 'write-only' });
const NullableText = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);

const accountFields = {
  displayName: Text(1000),
  serverId: Text(200),
  address: Text(1000),
  fromName: Text(1000),
  username: Text(1000),
  password: Password,
  smtpUsername: NullableText(1000),
  smtpPassword: Type.Union([Password, Type.Null()]),
  leaveOnServer: LeaveOnServer,
  receiveIntervalMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
  enabled: Type.Boolean(),
};

export const MailAccountInput = Type.Object(
  {
    displayName: accountFields.displayName,
    serverId: accountFields.serverId,
    address: accountFields.address,
    fromName: Type.Optional(accountFields.fromName),
    // not needed on the presets (OAuth 2.0): Gmail signs in as the address, Exchange Online
    // needs the account name only; the service requires them on every other server
    username: Type.Optional(accountFields.username),
    password: Type.Optional(accountFields.password),
    smtpUsername: Type.Optional(accountFields.smtpUsername),
    smtpPassword: Type.Optional(accountFields.smtpPassword),
    leaveOnServer: Type.Optional(accountFields.leaveOnServer),
    receiveIntervalMinutes: Type.Optional(accountFields.receiveIntervalMinutes),
    enabled: Type.Optional(accountFields.enabled),
  },
  { additionalProperties: false, $id: 'MailAccountInput' },
);
export type MailAccountInput = Static<typeof MailAccountInput>;

export const MailAccountPatch = Type.Partial(Type.Object(accountFields, { additionalProperties: false }), {
  additionalProperties: false,
  $id: 'MailAccountPatch',
});
export type MailAccountPatch = Static<typeof MailAccountPatch>;

export const MailAccount = Type.Object(
  {
    id: Type.String(),
    displayName: Type.String(),
    serverId: Type.String(),
    address: Type.String(),
    fromName: Type.String(),
    username: Type.String(),
    hasPassword: Type.Boolean(),
    smtpUsername: Type.Union([Type.String(), Type.Null()]),
    hasSmtpPassword: Type.Boolean(),
    leaveOnServer: LeaveOnServer,
    receiveIntervalMinutes: Type.Integer(),
    enabled: Type.Boolean(),
    /** OAuth 2.0 grant (accounts on Gmail / Exchange Online; always not_connected elsewhere) */
    oauth: Type.Object({
      status: Type.Union([Type.Literal('not_connected'), Type.Literal('connected'), Type.Literal('reauthorize')]),
      /** why re-authorization is needed: invalid_grant | consent_required | admin_consent_required | interaction_required | invalid_client */
      errorCode: Type.Union([Type.String(), Type.Null()]),
      /** the provider's own words */
      errorDescription: Type.Union([Type.String(), Type.Null()]),
    }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'MailAccount' },
);
export type MailAccount = Static<typeof MailAccount>;

/** The account's settings after validation, secrets still in plain text. */
export interface AccountSettings {
  displayName: string;
  serverId: string;
  address: string;
  fromName: string;
  username: string;
  password: string | undefined;
  smtpUsername: string | null;
  smtpPassword: string | null | undefined;
  leaveOnServer: LeaveOnServer;
  receiveIntervalMinutes: number;
  enabled: boolean;
}

 
const CONTROL = CONTROL_CHARS;

export function checkAddress(path: string, raw: string, issues: FieldIssue[]): string {
  const address = raw.trim();
  if (!address) {
    issues.push({ path, key: 'validation.required' });
    return address;
  }
  const at = address.lastIndexOf('@');
  const local = address.slice(0, Math.max(at, 0));
  const domain = address.slice(at + 1);
  const forbidden = [...new Set([...local].filter((c) => FORBIDDEN_LOCAL_CHARS.includes(c)))];
  if (forbidden.length) {
    issues.push({ path, key: 'validation.addressLocalChars', params: { chars: forbidden.join(' ') } });
  } else if (
    at <= 0 ||
    address.length > MAX_ADDRESS_LENGTH ||
    local.length > 64 ||
    !LOCAL_OK.test(local) ||
    domain.startsWith('[') ||
    normalizeHost(domain) === null
  ) {
    issues.push({ path, key: 'validation.address' });
  } else {
    // the domain as it is checked and as mail servers take it: full-width letters typed with a
    // Japanese IME (ｅｘａｍｐｌｅ), soft hyphens and zero-width spaces mapped, a trailing dot gone
    const host = normalizeHost(domain)!;
    if (host !== domain.toLowerCase()) return `${local}@${host}`;
  }
  return address;
}

export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

export function checkText(path: string, raw: string, max: number, issues: FieldIssue[], required: boolean): string {
  const v = raw.trim();
  if (CONTROL.test(raw)) issues.push({ path, key: 'validation.controlChars' });
  else if (required && !v) issues.push({ path, key: raw.length ? 'validation.blank' : 'validation.required' });
  else if ([...v].length > max) issues.push({ path, key: 'validation.maxLength', params: { limit: max } });
  return v;
}

export function checkPassword(path: string, raw: string, issues: FieldIssue[]): string {
  if (raw.length === 0 || raw.length > MAX_PASSWORD_LENGTH) {
    issues.push({ path, key: 'validation.passwordLength', params: { max: MAX_PASSWORD_LENGTH } });
  } else if (/[\r\n\0]/.test(raw)) {
    // a CR/LF would end the POP3/IMAP/SMTP command line: refuse rather than inject
    issues.push({ path, key: 'validation.controlChars' });
  }
  return raw;
}

export function checkLeave(leave: LeaveOnServer, issues: FieldIssue[]): LeaveOnServer {
  if (leave.mode === 'days') {
    if (leave.days === undefined) issues.push({ path: 'leaveOnServer.days', key: 'validation.required' });
    return { mode: 'days', days: leave.days ?? 0 };
  }
  return { mode: leave.mode };
}
