// Realistic data for the page-by-page e2e runs (accessibility, screenshots): Japanese
// mail servers and accounts and a handful of received mails, one of them ISO-2022-JP.
import { encodeIso2022Jp } from '../../src/mail/compose-iso2022jp.ts';
import { extractMetadata } from '../../src/mail/metadata.ts';
import type { AppContext } from '../../src/services/context.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import { SuppressionService } from '../../src/send/suppression-service.ts';
import { unsubscribe, unsubscribeToken } from '../../src/send/unsubscribe.ts';

export interface Seeded {
  accountId: string;
  /** the Japanese mail, for the one-mail page */
  messageId: string;
}

const word = (text: string) => `=?ISO-2022-JP?B?${encodeIso2022Jp(text).toString('base64')}?=`;

function mail(n: number, from: string, subject: string, body: string, date: string): Buffer {
  const head =
    `From: ${from}\r\nTo: support@yamato-shoji.co.jp\r\nSubject: ${word(subject)}\r\nMessage-ID: <m${n}@example.jp>\r\n` +
    `Date: ${date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), encodeIso2022Jp(body.replace(/\n/g, '\r\n')), Buffer.from('\r\n')]);
}

const MAILS: [string, string, string, string][] = [
  [`${word('山田太郎')} <taro@example.jp>`, '会議のお知らせ（第３回）', '山田です。\n本日の会議は１５時から第２会議室で行います。\n資料は前日までにお送りします。\n', 'Mon, 23 Nov 2026 09:30:00 +0900'],
  [`${word('佐藤花子')} <hanako@example.co.jp>`, 'お見積りのご依頼', 'いつもお世話になっております。\n新製品の見積りをお願いできますでしょうか。\n', 'Tue, 24 Nov 2026 10:05:00 +0900'],
  [`${word('鈴木一郎')} <ichiro@example.ne.jp>`, '納品日の確認', '鈴木です。\n来週の納品日についてご確認ください。\n', 'Wed, 25 Nov 2026 14:20:00 +0900'],
  [`${word('高橋商店')} <info@takahashi.example.jp>`, '【ご注文確認】注文番号 A-1024', 'ご注文ありがとうございます。\n発送準備が整い次第ご連絡いたします。\n', 'Thu, 26 Nov 2026 08:45:00 +0900'],
  [`${word('田中美咲')} <misaki@example.jp>`, '来月の打ち合わせ日程', '田中です。\n来月の打ち合わせの候補日をお知らせします。\n', 'Fri, 27 Nov 2026 11:00:00 +0900'],
];

/** Three servers, two accounts, five received mails (which also leave audit log entries). */
export async function seedUi(ctx: AppContext): Promise<Seeded> {
  const servers = new MailServerService(ctx);
  const main = await servers.add('admin', {
    name: '本社メールサーバー',
    incoming: { protocol: 'pop3', host: 'pop.yamato-shoji.co.jp', encryption: 'tls', port: 995 },
    outgoing: { host: 'smtp.yamato-shoji.co.jp' },
  });
  await servers.add('admin', { name: 'さくらのメールボックス', incoming: { protocol: 'imap4', host: 'imap.sakura.example.jp' }, outgoing: { host: 'smtp.sakura.example.jp' } });
  await servers.add('admin', { name: '大阪支店サーバー', incoming: { protocol: 'pop3', host: 'pop.osaka.example.jp' }, outgoing: { host: 'smtp.osaka.example.jp' } });
  const accounts = new MailAccountService(ctx);
  const support = await accounts.add('admin', {
    displayName: 'サポート窓口',
    serverId: main.id,
    address: 'support@yamato-shoji.co.jp',
    username: 'support',
    password: 'support-password',
  });
  await accounts.add('admin', { displayName: '営業部', serverId: main.id, address: 'sales@yamato-shoji.co.jp', username: 'sales', password: 'sales-password' });
  let first = '';
  for (const [i, [from, subject, body, date]] of MAILS.entries()) {
    const raw = mail(i, from, subject, body, date);
    const [r] = await ctx.repos.messages.storeBatch(support.id, [{ uid: `u${i}`, chunks: [raw], meta: extractMetadata(raw) }], new Date(Date.UTC(2026, 10, 23 + i, 1)).toISOString());
    if (i === 0) first = r!.messageId;
  }
  // the 配信停止リスト: one added by hand, one by a recipient's unsubscribe link
  await new SuppressionService(ctx).add('admin:admin', { addresses: ['tanaka@customer.example.jp'], reason: '電話で配信停止の依頼' });
  await unsubscribe(ctx, unsubscribeToken(ctx.secretKey, 'suzuki@customer.example.jp'), 'one-click');
  return { accountId: support.id, messageId: first };
}

/** The main pages, in the order a visitor meets them: the path (relative to the base
 * URL) and a selector that shows once the page has its data. */
export function mainPages(s: Seeded): { name: string; path: string; ready: string }[] {
  return [
    { name: 'mail-servers', path: '/settings/general/mail-servers', ready: '[data-testid="other-servers"] tbody tr' },
    { name: 'mail-server-form', path: '/settings/general/mail-servers/new', ready: 'form [data-field="outgoing.port"]' },
    { name: 'mail-server-order', path: '/settings/general/mail-servers/order', ready: '[role="option"]' },
    { name: 'mail-accounts', path: '/settings/general/mail-accounts', ready: '[data-testid="accounts"] tbody tr' },
    { name: 'mail-account-form', path: '/settings/general/mail-accounts/new', ready: 'form' },
    { name: 'mail', path: `/mail?account=${s.accountId}`, ready: '[data-testid="messages"] tbody tr' },
    { name: 'message', path: `/mail/${s.messageId}`, ready: '[data-testid="text-body"]' },
    { name: 'bulk-new', path: '/bulk', ready: 'form' },
    { name: 'bulk-suppressions', path: '/bulk/suppressions', ready: '[data-testid="suppressions"] tbody tr' },
    { name: 'audit-log', path: '/settings/general/audit-log', ready: '[data-testid="audit-log"] tbody tr' },
    { name: 'oauth-settings', path: '/settings/general/oauth', ready: '[data-testid="oauth-provider-exchange_online"]' },
    { name: 'notification-settings', path: '/settings/general/notifications', ready: '[data-testid="notification-settings"] select' },
  ];
}
