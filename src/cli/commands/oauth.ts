// yubin oauth list|show|set — the OAuth 2.0 clients of Gmail and Exchange Online, through
// the same service as the API (the secret is read from stdin, never from a flag, so it
// stays out of the shell history and the process list).
import { Option, type Command } from 'commander';
import { OAuthProviderService } from '../../services/oauth-providers.ts';
import { cliActor, output, readStdin, say, table, withContext } from '../context.ts';

interface SetFlags {
  clientId: string;
  clientSecretStdin?: boolean;
  removeClientSecret?: boolean;
  tenant?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  issuer?: string;
  json?: boolean;
}

export function registerOAuthCommands(program: Command): void {
  const oauth = program.command('oauth').description('OAuth 2.0 clients for Gmail and Exchange Online');

  oauth
    .command('list')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const items = await new OAuthProviderService(ctx).list();
        output(f.json, { items }, () =>
          table([
            [say('cli.oauth.col.preset'), say('cli.oauth.col.configured'), say('cli.oauth.col.clientId'), say('cli.oauth.col.secret'), say('cli.oauth.col.tenant')],
            ...items.map((p) => [p.preset, say(p.configured ? 'cli.oauth.configured' : 'cli.oauth.notConfiguredWord'), p.clientId, p.hasClientSecret ? say('cli.oauth.stored') : '-', p.tenant ?? '-']),
          ]),
        );
      });
    });

  oauth
    .command('show <preset>')
    .description('gmail | exchange_online')
    .option('--json', 'print JSON')
    .action(async (preset: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const p = await new OAuthProviderService(ctx).get(preset);
        output(f.json, p, () => table(Object.entries({ ...p.endpoints, clientId: p.clientId, secret: p.hasClientSecret ? say('cli.oauth.stored') : '-', tenant: p.tenant ?? '-', scopes: p.scopes.join(' ') }).map(([k, v]) => [k, String(v ?? '-')])));
      });
    });

  oauth
    .command('set <preset>')
    .description('save the client: echo SECRET | yubin oauth set gmail --client-id ID --client-secret-stdin')
    .requiredOption('--client-id <id>', 'クライアントID')
    .option('--client-secret-stdin', 'クライアントシークレットを標準入力から読む')
    // both at once stored the secret read and ignored the removal
    .addOption(new Option('--remove-client-secret', 'クライアントシークレットを削除する').conflicts('clientSecretStdin'))
    .option('--tenant <tenant>', 'Exchange Online: テナント (ID, domain, organizations)')
    .option('--authorization-endpoint <url>', '認可エンドポイント (default: the provider’s)')
    .option('--token-endpoint <url>', 'トークンエンドポイント (default: the provider’s)')
    .option('--issuer <url>', '発行者 (default: the provider’s)')
    .option('--json', 'print JSON')
    .action(async (preset: string, f: SetFlags) => {
      await withContext(async (ctx) => {
        const body: Record<string, unknown> = { clientId: f.clientId };
        if (f.clientSecretStdin) body.clientSecret = readStdin().replace(/\r?\n$/, '');
        else if (f.removeClientSecret) body.clientSecret = null;
        if (f.tenant !== undefined) body.tenant = f.tenant;
        const endpoints = { authorization: f.authorizationEndpoint, token: f.tokenEndpoint, issuer: f.issuer };
        if (Object.values(endpoints).some((v) => v !== undefined)) body.endpoints = endpoints;
        const p = await new OAuthProviderService(ctx).save(cliActor(), preset, body);
        output(f.json, p, () => say(p.configured ? 'cli.oauth.saved' : 'cli.oauth.notConfigured', { name: p.name }));
      });
    });
}
