// The one place OAuth provider settings change (API, CLI and UI share it). The client
// secret is sealed (AES-256-GCM) before it reaches the database and only leaves this
// service through `clientSettings()`, for the token requests.
import { AppError, notFound, ValidationError, type FieldIssue } from '../domain/errors.ts';
import { checkText } from '../domain/mail-account.ts';
import type { MailServer } from '../domain/mail-server.ts';
import {
  checkEndpointUrl,
  checkTenant,
  DEFAULT_MICROSOFT_TENANT,
  effectiveEndpoints,
  ENDPOINT_NAMES,
  isPresetKey,
  OAuthProviderInput,
  presetName,
  PROVIDER_SCOPES,
  type OAuthEndpoints,
  type OAuthProvider,
} from '../domain/oauth-provider.ts';
import { PRESET_ORDER, type PresetKey } from '../domain/presets.ts';
import { validateSchema } from '../domain/validation.ts';
import { DiscoveryError, discoverEndpoints } from '../oauth/discovery.ts';
import type { OAuthProviderTable } from '../store/schema.ts';
import type { AppContext } from './context.ts';

/** What the token requests need, secret opened. Never log or return it. */
export interface OAuthClientSettings {
  preset: PresetKey;
  clientId: string;
  clientSecret: string | null;
  endpoints: OAuthEndpoints;
  scopes: readonly string[];
}

/**
 * TEST ONLY: where a preset's mail servers really are. The presets' hosts are fixed
 * (imap.gmail.com …); the end-to-end tests point them at a local Dovecot and SMTP server
 * with this row field, which neither the API nor the UI can set.
 */
export interface PresetServerOverride {
  pop3?: ServerEndpoint;
  imap4?: ServerEndpoint;
  smtp?: ServerEndpoint;
}
export interface ServerEndpoint {
  host: string;
  port: number;
  encryption: 'none' | 'starttls' | 'tls';
}

export class OAuthProviderService {
  constructor(private readonly ctx: AppContext) {}

  async list(): Promise<OAuthProvider[]> {
    return Promise.all(PRESET_ORDER.map((p) => this.get(p)));
  }

  async get(preset: string): Promise<OAuthProvider> {
    const key = presetOf(preset);
    return toProvider(key, await this.ctx.repos.oauth.provider(key));
  }

  async save(actor: string, preset: string, body: unknown): Promise<OAuthProvider> {
    const key = presetOf(preset);
    const input = validateSchema<OAuthProviderInput>(OAuthProviderInput, body);
    const issues: FieldIssue[] = [];
    const clientId = checkText('clientId', input.clientId, 500, issues, true);
    if (input.clientSecret != null && (input.clientSecret.length === 0 || /[\r\n\0]/.test(input.clientSecret))) {
      issues.push({ path: 'clientSecret', key: input.clientSecret.length === 0 ? 'validation.required' : 'validation.controlChars' });
    }
    let tenant: string | null = null;
    if (key === 'exchange_online') tenant = checkTenant('tenant', input.tenant, issues) ?? DEFAULT_MICROSOFT_TENANT;
    else if (input.tenant != null && input.tenant.trim() !== '') issues.push({ path: 'tenant', key: 'validation.oauthTenantGmail' });
    const overrides: Partial<OAuthEndpoints> = {};
    for (const name of ENDPOINT_NAMES) {
      const v = input.endpoints?.[name];
      if (v != null) {
        const url = checkEndpointUrl(`endpoints.${name}`, v, issues);
        if (url) overrides[name] = url;
      }
    }
    if (issues.length) throw new ValidationError(issues);

    const before = await this.ctx.repos.oauth.provider(key);
    const secretEnc = input.clientSecret === undefined ? (before?.client_secret_enc ?? null) : input.clientSecret === null ? null : this.ctx.secrets.seal(input.clientSecret);
    const row: OAuthProviderTable = {
      preset: key,
      client_id: clientId,
      client_secret_enc: secretEnc,
      tenant,
      endpoints_json: JSON.stringify(overrides),
      server_override_json: before?.server_override_json ?? null,
      updated_at: new Date().toISOString(),
    };
    const oldOverrides = before ? (JSON.parse(before.endpoints_json) as Partial<OAuthEndpoints>) : {};
    const fields = [
      ...(before?.client_id !== clientId ? ['clientId'] : []),
      ...(input.clientSecret !== undefined ? ['clientSecret'] : []),
      ...((before?.tenant ?? null) !== tenant ? ['tenant'] : []),
      ...ENDPOINT_NAMES.filter((n) => (oldOverrides[n] ?? null) !== (overrides[n] ?? null)).map((n) => `endpoints.${n}`),
    ];
    if (before && fields.length === 0) return this.get(key);
    await this.ctx.db.transaction(async (trx) => {
      await this.ctx.repos.oauth.saveProvider(trx, row);
      await this.ctx.repos.audit.append(trx, { actor, action: 'oauth_provider.change', targetType: 'oauth_provider', targetId: key, targetName: presetName(key), fields });
    });
    return this.get(key);
  }

  /** The client for token requests; OAUTH_NOT_CONFIGURED until the administrator saved one. */
  async clientSettings(preset: PresetKey): Promise<OAuthClientSettings> {
    const row = await this.ctx.repos.oauth.provider(preset);
    if (!row || !row.client_id) throw new AppError('OAUTH_NOT_CONFIGURED', 'oauth.notConfigured', { provider: presetName(preset) });
    const overrides = JSON.parse(row.endpoints_json) as Partial<OAuthEndpoints>;
    // discovered endpoints fill in where the administrator did not name one
    let discovered: Partial<OAuthEndpoints> = {};
    if (overrides.discovery) {
      try {
        discovered = await discoverEndpoints(overrides.discovery);
      } catch (err) {
        if (!(err instanceof DiscoveryError)) throw err;
        throw new AppError('OAUTH_DISCOVERY', `oauth.discovery.${err.failure}`, { provider: presetName(preset), url: err.url, detail: err.detail });
      }
    }
    return {
      preset,
      clientId: row.client_id,
      clientSecret: row.client_secret_enc ? this.ctx.secrets.open(row.client_secret_enc) : null,
      endpoints: effectiveEndpoints(preset, row.tenant, { ...discovered, ...overrides }),
      scopes: PROVIDER_SCOPES[preset],
    };
  }

  /** TEST ONLY (see PresetServerOverride): null removes it. Not audited: no administrator sets it. */
  async setServerOverride(preset: PresetKey, override: PresetServerOverride | null): Promise<void> {
    const row = await this.ctx.repos.oauth.provider(preset);
    const base: OAuthProviderTable = row ?? { preset, client_id: '', client_secret_enc: null, tenant: null, endpoints_json: '{}', server_override_json: null, updated_at: new Date().toISOString() };
    await this.ctx.repos.oauth.saveProvider(this.ctx.db.kysely, { ...base, server_override_json: override ? JSON.stringify(override) : null });
  }

  /** The mail server as the protocols should reach it: a preset with a test override applied. */
  async resolveServer(server: MailServer): Promise<MailServer> {
    if (!server.preset) return server;
    const row = await this.ctx.repos.oauth.provider(server.preset);
    if (!row?.server_override_json) return server;
    const o = JSON.parse(row.server_override_json) as PresetServerOverride;
    return { ...server, incoming: { ...server.incoming, ...o[server.incoming.protocol] }, outgoing: { ...server.outgoing, ...o.smtp } };
  }
}

function presetOf(preset: string): PresetKey {
  if (!isPresetKey(preset)) throw notFound('what.oauthProvider');
  return preset;
}

function toProvider(preset: PresetKey, row: OAuthProviderTable | undefined): OAuthProvider {
  const overrides = row ? (JSON.parse(row.endpoints_json) as Partial<OAuthEndpoints>) : {};
  const tenant = preset === 'exchange_online' ? (row?.tenant ?? DEFAULT_MICROSOFT_TENANT) : null;
  return {
    preset,
    name: presetName(preset),
    configured: !!row?.client_id,
    clientId: row?.client_id ?? '',
    hasClientSecret: !!row?.client_secret_enc,
    tenant,
    endpoints: effectiveEndpoints(preset, tenant, overrides),
    endpointOverrides: Object.fromEntries(ENDPOINT_NAMES.map((n) => [n, overrides[n] ?? null])) as OAuthEndpoints,
    scopes: [...PROVIDER_SCOPES[preset]],
    updatedAt: row?.client_id ? row.updated_at : null,
  };
}
