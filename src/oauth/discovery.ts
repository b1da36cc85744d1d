// OpenID Connect / RFC 8414 discovery: a provider's metadata document gives its endpoints.
// Used only when the administrator (or a test) sets a discovery URL; the presets' own
// endpoints are built in, so Yubin does not depend on one more request to Google or
// Microsoft. Documents are kept for an hour.
import type { OAuthEndpoints } from '../domain/oauth-provider.ts';

export const DISCOVERY_TIMEOUT = 15_000;
export const DISCOVERY_CACHE_MS = 60 * 60_000;

const cache = new Map<string, { at: number; endpoints: Partial<OAuthEndpoints> }>();

/** Why a discovery document could not be used. */
export type DiscoveryFailure = 'timeout' | 'unreachable' | 'http' | 'notJson' | 'noTokenEndpoint';

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  constructor(
    readonly url: string,
    readonly failure: DiscoveryFailure,
    /** the HTTP status, or the network error's message */
    readonly detail: string = '',
  ) {
    super(`discovery document ${url}: ${failure}${detail ? ` (${detail})` : ''}`);
  }
}

/** The endpoints the document names; a DiscoveryError when it cannot be read or used. */
export async function discoverEndpoints(url: string, now = Date.now(), timeoutMs = DISCOVERY_TIMEOUT): Promise<Partial<OAuthEndpoints>> {
  const hit = cache.get(url);
  if (hit && now - hit.at < DISCOVERY_CACHE_MS) return hit.endpoints;
  let doc: Record<string, unknown>;
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new DiscoveryError(url, 'http', String(res.status));
    const text = await res.text();
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new DiscoveryError(url, 'notJson');
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new DiscoveryError(url, 'notJson');
  } catch (err) {
    if (err instanceof DiscoveryError) throw err;
    const e = err as Error & { cause?: Error };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new DiscoveryError(url, 'timeout', `${timeoutMs / 1000} s`);
    throw new DiscoveryError(url, 'unreachable', e.cause?.message ?? e.message);
  }
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
  if (!endpoints.token) throw new DiscoveryError(url, 'noTokenEndpoint');
  cache.set(url, { at: now, endpoints });
  return endpoints;
}
