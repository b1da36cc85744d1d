// OAuth 2.0 provider settings (システム設定 › OAuth 2.0) for the two presets: the
// administrator's OAuth client registered with Google or Microsoft Entra (client id,
// secret, Microsoft tenant) and the provider's endpoints. The defaults are the real
// providers' (RFC 6749 authorization and token endpoints; RFC 7009 revocation where the
// provider has one); every endpoint can be overridden so that a test points Yubin at a
// local server. The client secret is write-only.
import Type, { type Static } from 'typebox';
import type { FieldIssue } from './errors.ts';
import { isPresetKey, PRESETS, type PresetKey } from './presets.ts';

export const ENDPOINT_NAMES = ['discovery', 'issuer', 'authorization', 'token', 'revocation', 'introspection'] as const;
export type EndpointName = (typeof ENDPOINT_NAMES)[number];
export type OAuthEndpoints = Record<EndpointName, string | null>;

const Url = Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]);
const EndpointOverrides = Type.Object(
  {
    /** an OpenID Connect / RFC 8414 metadata document: its endpoints are used where no other override is given */
    discovery: Type.Optional(Url),
    issuer: Type.Optional(Url),
    authorization: Type.Optional(Url),
    token: Type.Optional(Url),
    revocation: Type.Optional(Url),
    introspection: Type.Optional(Url),
  },
  { additionalProperties: false, description: 'null or missing = the provider’s default' },
);

export const OAuthProviderInput = Type.Object(
  {
    clientId: Type.String({ maxLength: 1000 }),
    clientSecret: Type.Optional(Type.Union([Type.String({ maxLength: 4000, description: 'write-only; omit to keep, null to remove' }), Type.Null()])),
    tenant: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    endpoints: Type.Optional(EndpointOverrides),
  },
  { additionalProperties: false, $id: 'OAuthProviderInput' },
);
export type OAuthProviderInput = Static<typeof OAuthProviderInput>;

const NullableString = Type.Union([Type.String(), Type.Null()]);
export const OAuthProvider = Type.Object(
  {
    preset: Type.Union([Type.Literal('gmail'), Type.Literal('exchange_online')]),
    name: Type.String(),
    configured: Type.Boolean(),
    clientId: Type.String(),
    hasClientSecret: Type.Boolean(),
    tenant: NullableString,
    /** what Yubin uses: the overrides over the defaults */
    endpoints: Type.Object({ discovery: NullableString, issuer: NullableString, authorization: NullableString, token: NullableString, revocation: NullableString, introspection: NullableString }),
    endpointOverrides: Type.Object({ discovery: NullableString, issuer: NullableString, authorization: NullableString, token: NullableString, revocation: NullableString, introspection: NullableString }),
    scopes: Type.Array(Type.String()),
    updatedAt: NullableString,
  },
  { $id: 'OAuthProvider' },
);
export type OAuthProvider = Static<typeof OAuthProvider>;

export const DEFAULT_MICROSOFT_TENANT = 'organizations';

/** The scopes each provider needs for IMAP, POP3 and SMTP with XOAUTH2 (and a refresh token). */
export const PROVIDER_SCOPES: Record<PresetKey, readonly string[]> = {
  gmail: ['https://mail.google.com/'],
  exchange_online: [
    'https://outlook.office.com/IMAP.AccessAsUser.All',
    'https://outlook.office.com/POP.AccessAsUser.All',
    'https://outlook.office.com/SMTP.Send',
    'offline_access',
  ],
};

export function defaultEndpoints(preset: PresetKey, tenant: string | null): OAuthEndpoints {
  if (preset === 'gmail') {
    return {
      discovery: null,
      issuer: 'https://accounts.google.com',
      authorization: 'https://accounts.google.com/o/oauth2/v2/auth',
      token: 'https://oauth2.googleapis.com/token',
      revocation: 'https://oauth2.googleapis.com/revoke',
      introspection: null,
    };
  }
  const base = `https://login.microsoftonline.com/${encodeURIComponent(tenant ?? DEFAULT_MICROSOFT_TENANT)}`;
  return {
    discovery: null,
    issuer: `${base}/v2.0`,
    authorization: `${base}/oauth2/v2.0/authorize`,
    token: `${base}/oauth2/v2.0/token`,
    // Microsoft identity platform has no RFC 7009 revocation endpoint
    revocation: null,
    introspection: null,
  };
}

/** Effective endpoints: each override over the provider's default. */
export function effectiveEndpoints(preset: PresetKey, tenant: string | null, overrides: Partial<OAuthEndpoints>): OAuthEndpoints {
  const d = defaultEndpoints(preset, tenant);
  return Object.fromEntries(ENDPOINT_NAMES.map((n) => [n, overrides[n] ?? d[n]])) as OAuthEndpoints;
}

export function presetName(preset: PresetKey): string {
  return PRESETS[preset].name;
}

export { isPresetKey };

// GUID, verified domain, or one of Microsoft's tenant aliases
const TENANT = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,98}[A-Za-z0-9])?$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An endpoint URL: https, or http on loopback only (a local test provider). */
export function checkEndpointUrl(path: string, raw: string, issues: FieldIssue[]): string | null {
  const v = raw.trim();
  if (!v) return null;
  let url: URL | undefined;
  try {
    url = new URL(v);
  } catch {
    url = undefined;
  }
  const ok = url && !url.username && !url.password && !url.hash && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)));
  if (!ok) issues.push({ path, key: 'validation.oauthUrl' });
  return v;
}

export function checkTenant(path: string, raw: string | null | undefined, issues: FieldIssue[]): string | null {
  const v = (raw ?? '').trim();
  if (!v) return null;
  if (!TENANT.test(v)) issues.push({ path, key: 'validation.oauthTenant' });
  return v;
}
