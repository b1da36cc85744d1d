// OpenID Connect / RFC 8414 discovery: a provider's metadata document gives its endpoints.
// Used only when the administrator (or a test) sets a discovery URL; the presets' own
// endpoints are built in, so Yubin does not depend on one more request to Google or
// Microsoft. Documents are kept for an hour.
import type { OAuthEndpoints } from '../domain/oauth-provider.ts';

export const DISCOVERY_TIMEOUT = 15_000;
export const DISCOVERY_CACHE_MS = 60 * 60_000;

const cache = new Map<string, { at: number; endpoints: Partial<OAuthEndpoints> }>();

/** The endpoints the document names; throws when it cannot be read. */
export async function discoverEndpoints(url: string, now = Date.now()): Promise<Partial<OAuthEndpoints>> {
  const hit = cache.get(url);
  if (hit && now - hit.at < DISCOVERY_CACHE_MS) return hit.endpoints;
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(DISCOVERY_TIMEOUT) });
  if (!res.ok) throw new Error(`discovery document ${url}: HTTP ${res.status}`);
  const doc = (await res.json()) as Record<string, unknown>;
  const str = (k: string) => (typeof doc[k] === 'string' ? (doc[k] as string) : undefined);
  const endpoints: Partial<OAuthEndpoints> = {};
  const pairs: [keyof OAuthEndpoints, string][] = [
    ['issuer', 'issuer'],
    ['authorization', 'authorization_endpoint'],
    ['token', 'token_endpoint'],
    ['revocation', 'revocation_endpoint'],
    ['introspection', 'introspection_endpoint'],
  ];
  for (const [name, key] of pairs) {
    const v = str(key);
    if (v) endpoints[name] = v;
  }
  if (!endpoints.token) throw new Error(`discovery document ${url} has no token_endpoint`);
  cache.set(url, { at: now, endpoints });
  return endpoints;
}
