// yubin server list|show|add|change|reorder|delete — the same service as the API.
import type { Command } from 'commander';
import { notFound, ValidationError } from '../../domain/errors.ts';
import { nameKey, type MailServer } from '../../domain/mail-server.ts';
import type { MessageKey } from '../../i18n/index.ts';
import type { AppContext } from '../../services/context.ts';
import { MailServerService } from '../../services/mail-servers.ts';
import { cliActor, intOrString, limit, output, say, table, withContext } from '../context.ts';
import { isObject, readJsonOption } from '../file-input.ts';

interface ServerFlags {
  json?: boolean;
  input?: string;
  name?: string;
  protocol?: string;
  host?: string;
  port?: string;
  encryption?: string;
  apop?: boolean;
  maxMessageBytes?: string;
  allowInvalidCertificate?: boolean;
  smtpHost?: string;
  smtpPort?: string;
  smtpEncryption?: string;
  smtpAuth?: string;
  smtpUseAccountCredentials?: boolean;
  smtpMaxMessageBytes?: string;
  perMinuteLimit?: string;
  smtpAllowInvalidCertificate?: boolean;
}

function addServerFlags(cmd: Command): Command {
  return cmd
    .option('--input <file>', 'JSON MailServerInput (- for stdin); flags override it')
    .option('--name <name>', 'メールサーバーの名前')
    .option('--protocol <pop3|imap4>', '受信: POP3/IMAP4')
    .option('--host <host>', '受信: サーバー名')
    .option('--port <port>', '受信: ポート番号 (default 110/995, 143/993)')
    .option('--encryption <none|starttls|tls>', '受信: 通信を暗号化する')
    .option('--apop', '受信: APOP認証をおこなう')
    .option('--no-apop', '受信: APOP認証をおこなわない')
    .option('--max-message-bytes <bytes|none>', '受信: メールサイズの制限')
    .option('--allow-invalid-certificate', '受信: 証明書エラーを無視する (not recommended)')
    .option('--no-allow-invalid-certificate', '受信: 証明書を検証する')
    .option('--smtp-host <host>', '送信: サーバー名')
    .option('--smtp-port <port>', '送信: ポート番号 (default 587/465)')
    .option('--smtp-encryption <none|starttls|tls>', '送信: 通信を暗号化する')
    .option('--smtp-auth <PLAIN|LOGIN|CRAM-MD5|XOAUTH2|none>', '送信: SMTP認証をおこなう')
    .option('--smtp-use-account-credentials', '送信: 認証にメールアカウントのユーザー名とパスワードを使用する')
    .option('--no-smtp-use-account-credentials', '送信: アカウントごとのSMTPユーザー名とパスワードを使う')
    .option('--smtp-max-message-bytes <bytes|none>', '送信: メールサイズの制限')
    .option('--per-minute-limit <count|none>', '送信: 1分間の送信件数の制限 (一斉配信のみ)')
    .option('--smtp-allow-invalid-certificate', '送信: 証明書エラーを無視する (not recommended)')
    .option('--no-smtp-allow-invalid-certificate', '送信: 証明書を検証する')
    .option('--json', 'print JSON');
}

/**
 * A part of --input that flags are merged into. Spreading a string there would turn it into
 * "0 is not a known field", so anything but an object is refused as the API would.
 */
function section(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new ValidationError([{ path, key: 'validation.type.object' }]);
  return { ...value };
}

/** Flags → a MailServerInput / patch body (only what was given). */
export function serverBodyFromFlags(f: ServerFlags): Record<string, unknown> {
  const base = f.input ? readJsonOption('--input', f.input) : {};
  const body: Record<string, unknown> = { ...base };
  const incoming = section(base.incoming, 'incoming');
  const outgoing = section(base.outgoing, 'outgoing');
  if (f.name !== undefined) body.name = f.name;
  if (f.protocol !== undefined) incoming.protocol = f.protocol;
  if (f.host !== undefined) incoming.host = f.host;
  if (f.port !== undefined) incoming.port = intOrString(f.port);
  if (f.encryption !== undefined) incoming.encryption = f.encryption;
  if (f.apop !== undefined) incoming.apop = f.apop;
  if (f.maxMessageBytes !== undefined) incoming.maxMessageBytes = limit(f.maxMessageBytes);
  if (f.allowInvalidCertificate !== undefined) incoming.allowInvalidCertificate = f.allowInvalidCertificate;
  if (f.smtpHost !== undefined) outgoing.host = f.smtpHost;
  if (f.smtpPort !== undefined) outgoing.port = intOrString(f.smtpPort);
  if (f.smtpEncryption !== undefined) outgoing.encryption = f.smtpEncryption;
  if (f.smtpAuth !== undefined || f.smtpUseAccountCredentials !== undefined) {
    const auth = section(outgoing.auth, 'outgoing.auth');
    if (f.smtpAuth !== undefined) auth.mechanism = f.smtpAuth.toLowerCase() === 'none' ? null : f.smtpAuth.toUpperCase();
    if (f.smtpUseAccountCredentials !== undefined) auth.useAccountCredentials = f.smtpUseAccountCredentials;
    outgoing.auth = auth;
  }
  if (f.smtpMaxMessageBytes !== undefined) outgoing.maxMessageBytes = limit(f.smtpMaxMessageBytes);
  if (f.perMinuteLimit !== undefined) outgoing.perMinuteLimit = limit(f.perMinuteLimit);
  if (f.smtpAllowInvalidCertificate !== undefined) outgoing.allowInvalidCertificate = f.smtpAllowInvalidCertificate;
  if (Object.keys(incoming).length) body.incoming = incoming;
  if (Object.keys(outgoing).length) body.outgoing = outgoing;
  return body;
}

/** A server by id or by name (case-insensitive). */
export async function resolveServer(ctx: AppContext, ref: string): Promise<MailServer> {
  const list = await ctx.repos.servers.list();
  const found = list.find((s) => s.id === ref) ?? list.find((s) => nameKey(s.name) === nameKey(ref));
  if (!found) throw notFound('what.mailServer');
  return found;
}

const size = (n: number | null) => (n === null ? say('cli.server.noLimit') : String(n));
const yesNo = (b: boolean) => say(b ? 'cli.true' : 'cli.false');
const invalidCertificate = (allow: boolean) => (allow ? say('cli.server.invalidCertificate') : '');

export function describeServer(s: MailServer): string {
  return [
    say('cli.server.title', { name: s.name, preset: s.preset ? say('cli.server.preset', { preset: s.preset }) : '', id: s.id, position: s.position }),
    say('cli.server.incoming', {
      protocol: s.incoming.protocol,
      host: s.incoming.host,
      port: s.incoming.port,
      encryption: say(`cli.encryption.${s.incoming.encryption}` as MessageKey),
      apop: yesNo(s.incoming.apop),
      max: size(s.incoming.maxMessageBytes),
      invalidCertificate: invalidCertificate(s.incoming.allowInvalidCertificate),
    }),
    say('cli.server.outgoing', {
      host: s.outgoing.host,
      port: s.outgoing.port,
      encryption: say(`cli.encryption.${s.outgoing.encryption}` as MessageKey),
      auth: s.outgoing.auth.mechanism ?? say('cli.none'),
      useAccountCredentials: yesNo(s.outgoing.auth.useAccountCredentials),
      max: size(s.outgoing.maxMessageBytes),
      perMinute: size(s.outgoing.perMinuteLimit),
      invalidCertificate: invalidCertificate(s.outgoing.allowInvalidCertificate),
    }),
  ].join('\n');
}

export function registerServerCommands(program: Command): void {
  const server = program.command('server').description('メールサーバー: list, show, add, change, reorder, delete');

  server
    .command('list')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const items = await new MailServerService(ctx).list();
        output(f.json, { items }, () =>
          table([
            ['#', say('cli.server.col.name'), say('cli.server.col.protocol'), say('cli.server.col.incoming'), say('cli.server.col.outgoing'), 'ID'],
            ...items.map((s) => [String(s.position), s.name, s.incoming.protocol, `${s.incoming.host}:${s.incoming.port}`, `${s.outgoing.host}:${s.outgoing.port}`, s.id]),
          ]),
        );
      });
    });

  server
    .command('show <server>')
    .description('by id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const s = await resolveServer(ctx, ref);
        output(f.json, s, () => describeServer(s));
      });
    });

  addServerFlags(server.command('add').description('追加する')).action(async (f: ServerFlags) => {
    const body = serverBodyFromFlags(f);
    await withContext(async (ctx) => {
      const s = await new MailServerService(ctx).add(cliActor(), body);
      output(f.json, s, () => describeServer(s));
    });
  });

  addServerFlags(server.command('change <server>').description('変更する (by id or name)')).action(async (ref: string, f: ServerFlags) => {
    const body = serverBodyFromFlags(f);
    await withContext(async (ctx) => {
      const current = await resolveServer(ctx, ref);
      const s = await new MailServerService(ctx).change(cliActor(), current.id, body);
      output(f.json, s, () => describeServer(s));
    });
  });

  server
    .command('reorder <servers...>')
    .description('順番変更: every non-preset server (id or name), in the new order')
    .option('--json', 'print JSON')
    .action(async (refs: string[], f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const list = await ctx.repos.servers.list();
        // names are resolved to ids; anything unknown is passed on as-is so the service names it
        const ids = refs.map((r) => (list.find((s) => s.id === r) ?? list.find((s) => nameKey(s.name) === nameKey(r)))?.id ?? r);
        const items = await new MailServerService(ctx).reorder(cliActor(), { ids });
        output(f.json, { items }, () => items.map((s) => `${s.position}. ${s.name}`).join('\n'));
      });
    });

  server
    .command('delete <server>')
    .description('削除する (by id or name)')
    .option('--json', 'print JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const s = await resolveServer(ctx, ref);
        await new MailServerService(ctx).delete(cliActor(), s.id);
        output(f.json, { deleted: s.id }, () => say('cli.server.deleted', { name: s.name }));
      });
    });
}
