// When a connected account is deleted, its grant is revoked at the provider (RFC 7009)
// where the provider has a revocation endpoint (Google does; Microsoft has none — there
// the user or the tenant administrator removes the app's access). Best effort: the account
// is gone either way, and a failure is only logged.
import * as oidc from 'openid-client';
import type { PresetKey } from '../domain/presets.ts';
import type { AppContext } from '../services/context.ts';
import { OAuthProviderService } from '../services/oauth-providers.ts';
import { clientConfig } from './provider-client.ts';
import type { StoredGrant } from './token-service.ts';

export async function revokeGrant(ctx: AppContext, preset: PresetKey, tokenEnc: string): Promise<boolean> {
  try {
    const settings = await new OAuthProviderService(ctx).clientSettings(preset);
    if (!settings.endpoints.revocation) return false;
    const grant = JSON.parse(ctx.secrets.open(tokenEnc)) as StoredGrant;
    // revoking the refresh token ends the whole grant (Google revokes its access tokens too)
    await oidc.tokenRevocation(clientConfig(settings), grant.refreshToken ?? grant.accessToken, { token_type_hint: grant.refreshToken ? 'refresh_token' : 'access_token' });
    return true;
  } catch (err) {
    ctx.log.warn({ err, preset }, 'oauth.revoke.failed');
    return false;
  }
}
