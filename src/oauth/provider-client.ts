// The provider side of OAuth 2.0 (RFC 6749) through openid-client: the client
// configuration built from the administrator's settings, and the one function that
// decides what a provider's error means for the grant — dead (ask the administrator to
// re-authorize) or passing (try again later). All matching of provider error text
// (Google's and Microsoft Entra's AADSTS codes) lives in `classifyProviderError`.
import * as oidc from 'openid-client';
import type { OAuthClientSettings } from '../services/oauth-providers.ts';

/** A token request that takes longer than this is abandoned (and tried again later). */
export const TOKEN_REQUEST_TIMEOUT = 15_000;

export function clientConfig(s: OAuthClientSettings): oidc.Configuration {
  const token = s.endpoints.token ?? '';
  const metadata: oidc.ServerMetadata = {
    issuer: s.endpoints.issuer ?? new URL(token).origin,
    token_endpoint: token,
    ...(s.endpoints.authorization ? { authorization_endpoint: s.endpoints.authorization } : {}),
    ...(s.endpoints.revocation ? { revocation_endpoint: s.endpoints.revocation } : {}),
    ...(s.endpoints.introspection ? { introspection_endpoint: s.endpoints.introspection } : {}),
    code_challenge_methods_supported: ['S256'],
  };
  // Google's web clients and Microsoft's confidential clients send a secret; a Microsoft
  // public client (no secret) uses PKCE alone
  const auth = s.clientSecret ? oidc.ClientSecretPost(s.clientSecret) : oidc.None();
  const config = new oidc.Configuration(metadata, s.clientId, { client_id: s.clientId }, auth);
  config.timeout = TOKEN_REQUEST_TIMEOUT / 1000;
  // plain http is accepted by the settings only for a provider on loopback (tests)
  if (Object.values(s.endpoints).some((u) => u?.startsWith('http:'))) oidc.allowInsecureRequests(config);
  return config;
}

/** Why a grant can no longer be used; each has a ja/en message (oauth.error.*). */
export type GrantProblem = 'invalid_grant' | 'consent_required' | 'admin_consent_required' | 'interaction_required' | 'invalid_client';

export interface ProviderErrorClass {
  /** undefined: a passing failure (network, 5xx, temporarily_unavailable) */
  problem: GrantProblem | undefined;
  /** the provider's error code, e.g. invalid_grant */
  error: string;
  description: string;
}

// Microsoft Entra puts the reason in error_description ("AADSTS65001: The user or
// administrator has not consented …"); the OAuth error is usually invalid_grant.
const AADSTS_ADMIN_CONSENT = /AADSTS(90094|90008|65004|900971)\b|admin(istrator)? (consent|approval)/i;
const AADSTS_CONSENT = /AADSTS65001\b/;
const AADSTS_INTERACTION = /AADSTS(50076|50079|50158|53003|50173)\b/;

export function classifyProviderError(err: unknown): ProviderErrorClass {
  const e = err as { error?: unknown; error_description?: unknown; status?: unknown; message?: unknown; code?: unknown };
  const error = typeof e?.error === 'string' ? e.error : '';
  const description = typeof e?.error_description === 'string' ? e.error_description : typeof e?.message === 'string' ? e.message : String(err);
  const status = typeof e?.status === 'number' ? e.status : undefined;
  if (!error) return { problem: undefined, error: typeof e?.code === 'string' ? e.code : 'network', description };
  if (AADSTS_ADMIN_CONSENT.test(description)) return { problem: 'admin_consent_required', error, description };
  if (error === 'consent_required' || AADSTS_CONSENT.test(description)) return { problem: 'consent_required', error, description };
  if (error === 'interaction_required' || error === 'login_required' || AADSTS_INTERACTION.test(description)) return { problem: 'interaction_required', error, description };
  // revoked, expired or already-rotated refresh token (Google: "Token has been expired or revoked.")
  if (error === 'invalid_grant') return { problem: 'invalid_grant', error, description };
  // a deleted client or an expired client secret (Entra secrets expire): waiting will not help
  if (error === 'invalid_client' || error === 'unauthorized_client') return { problem: 'invalid_client', error, description };
  if (status !== undefined && status >= 500) return { problem: undefined, error, description };
  if (error === 'temporarily_unavailable' || error === 'server_error') return { problem: undefined, error, description };
  // any other 4xx answer to a well-formed refresh will not change by itself
  return { problem: 'invalid_grant', error, description };
}
