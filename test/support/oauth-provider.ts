// An OAuth 2.0 provider for tests, in-process: oauth2-mock-server's authorization and token
// endpoints on 127.0.0.1, made to behave like Google / Microsoft where Yubin depends on it:
//   - an authorization code belongs to the user named in login_hint;
//   - every refresh ROTATES the refresh token: the used one is dead afterwards (Microsoft);
//   - a revoked user's refresh token gets invalid_grant ("Token has been expired or revoked.");
//   - access tokens live `accessTokenTtl` seconds, and an RFC 7662 introspection endpoint
//     answers { active, username } for them — Dovecot's oauth2 passdb asks it, so a POP3 or
//     IMAP XOAUTH2 login with a stale or unknown token is refused by the real server.
// Counters let tests prove how many times Yubin called the token endpoint.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

export interface MockProvider {
  /** http://127.0.0.1:PORT */
  issuer: string;
  endpoints: { issuer: string; authorization: string; token: string; revocation: string; introspection: string };
  clientId: string;
  clientSecret: string;
  /** token endpoint requests so far, by grant_type */
  tokenCalls: string[];
  introspections: number;
  /** RFC 7009 revocation requests so far */
  revocations: number;
  /** lifetime of new access tokens, seconds */
  accessTokenTtl: number;
  /** hold every token response this long (ms): makes concurrent refreshes overlap for sure */
  tokenDelayMs: number;
  /** refresh tokens that are currently valid, with their user */
  liveRefreshTokens: Map<string, string>;
  /** refuse this user's grants from now on: invalid_grant, and its access tokens go inactive */
  revoke(user: string): void;
  /** the user consents again: new grants for them are accepted (the old ones stay dead) */
  restore(user: string): void;
  /** follow the authorization URL as the user's browser would: returns Yubin's callback URL */
  authorize(authorizationUrl: string): Promise<URL>;
  /** whether the provider would accept this access token for this user now */
  accepts(user: string, accessToken: string): boolean;
}

export async function startMockProvider(t: TestContext): Promise<MockProvider> {
  const issuer = new OAuth2Issuer();
  await issuer.keys.generate('RS256');
  const service = new OAuth2Service(issuer);
  const codes = new Map<string, string>();
  const access = new Map<string, { user: string; expiresAt: number }>();
  const revoked = new Set<string>();
  const p: MockProvider = {
    issuer: '',
    endpoints: { issuer: '', authorization: '', token: '', revocation: '', introspection: '' },
    clientId: 'yubin-test-client',
    clientSecret: 'yubin-test-secret',
    tokenCalls: [],
    introspections: 0,
    revocations: 0,
    accessTokenTtl: 3600,
    tokenDelayMs: 0,
    liveRefreshTokens: new Map(),
    revoke(user) {
      revoked.add(user);
      for (const [rt, u] of p.liveRefreshTokens) if (u === user) p.liveRefreshTokens.delete(rt);
    },
    restore(user) {
      revoked.delete(user);
    },
    async authorize(url) {
      const res = await fetch(url, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) throw new Error(`mock authorize answered ${res.status}: ${await res.text()}`);
      return new URL(location);
    },
    accepts(user, token) {
      const a = access.get(token);
      return !!a && a.user === user && a.expiresAt > Date.now() && !revoked.has(user);
    },
  };

  // the mock signs identical JWTs within one second: a jti makes every token unique, as real ones are
  service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    token.payload.jti = randomUUID();
  });
  service.on('beforeRevoke', () => {
    p.revocations++;
  });
  service.on('beforeAuthorizeRedirect', (redirect: { url: URL }, req: IncomingMessage & { query: Record<string, string> }) => {
    const code = redirect.url.searchParams.get('code');
    if (code) codes.set(code, req.query.login_hint ?? 'johndoe');
  });
  service.on('beforeResponse', (res: { body: Record<string, unknown>; statusCode: number }, req: IncomingMessage & { body: Record<string, string> }) => {
    const grant = req.body.grant_type ?? '';
    p.tokenCalls.push(grant);
    let user: string | undefined;
    if (grant === 'authorization_code') {
      user = codes.get(req.body.code ?? '');
      codes.delete(req.body.code ?? '');
    } else if (grant === 'refresh_token') {
      user = p.liveRefreshTokens.get(req.body.refresh_token ?? '');
      // rotation: the refresh token just used is spent, whatever happens next
      p.liveRefreshTokens.delete(req.body.refresh_token ?? '');
    }
    if (!user || revoked.has(user)) {
      res.statusCode = 400;
      res.body = { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' };
      return;
    }
    res.body.expires_in = p.accessTokenTtl;
    access.set(String(res.body.access_token), { user, expiresAt: Date.now() + p.accessTokenTtl * 1000 });
    p.liveRefreshTokens.set(String(res.body.refresh_token), user);
  });

  const introspect = async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const token = new URLSearchParams(body).get('token') ?? '';
    p.introspections++;
    const a = access.get(token);
    const active = !!a && a.expiresAt > Date.now() && !revoked.has(a.user);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(active ? { active: true, username: a!.user, scope: 'https://mail.google.com/' } : { active: false }));
  };
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/introspect')) {
      introspect(req, res).catch(() => res.destroy());
      return;
    }
    if (req.method === 'POST' && req.url?.startsWith('/token') && p.tokenDelayMs > 0) {
      setTimeout(() => service.requestHandler(req, res), p.tokenDelayMs);
      return;
    }
    service.requestHandler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.url = base;
  p.issuer = base;
  p.endpoints = { issuer: base, authorization: `${base}/authorize`, token: `${base}/token`, revocation: `${base}/revoke`, introspection: `${base}/introspect` };
  return p;
}
