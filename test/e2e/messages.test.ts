// Received mail in Chromium: the per-account list (from, subject, date, size,
// attachment mark) with search and paging, and one mail — a Japanese ISO-2022-JP
// mail shown decoded, an HTML mail in a sandboxed frame whose remote image is never
// requested, attachments listed, the raw source downloaded byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { encodeIso2022Jp } from '../../src/mail/compose-iso2022jp.ts';
import { extractMetadata } from '../../src/mail/metadata.ts';
import { MailAccountService } from '../../src/services/mail-accounts.ts';
import { MailServerService } from '../../src/services/mail-servers.ts';
import type { AppContext } from '../../src/services/context.ts';
import type { Page } from 'playwright-core';
import { signIn, startUi } from './harness.ts';

/** Wait until the mail list shows exactly n rows. */
async function rowCount(page: Page, n: number): Promise<void> {
  // (the test runs without DOM types: the page's document is reached through globalThis)
  type Doc = { document: { querySelectorAll(selector: string): { length: number } } };
  await page.waitForFunction((want) => (globalThis as unknown as Doc).document.querySelectorAll('[data-testid="messages"] tbody tr').length === want, n);
}

const word = (text: string) => `=?ISO-2022-JP?B?${encodeIso2022Jp(text).toString('base64')}?=`;

function japaneseMail(): Buffer {
  const head =
    `From: ${word('山田太郎')} <taro@example.jp>\r\nTo: support@example.com\r\nSubject: ${word('会議のお知らせ（第３回）')}\r\n` +
    'Message-ID: <jp1@example.jp>\r\nDate: Mon, 23 Nov 2026 09:30:00 +0900\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n';
  return Buffer.concat([Buffer.from(head), encodeIso2022Jp('山田です。\r\n本日の会議は１５時から第２会議室で行います。\r\n'), Buffer.from('\r\n')]);
}

function htmlMail(remote: string): Buffer {
  return Buffer.from(
    'From: Newsletter <news@example.org>\r\nTo: support@example.com\r\nSubject: Weekly news\r\nMessage-ID: <html1@example.org>\r\n' +
      'Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="MIX"\r\n\r\n' +
      '--MIX\r\nContent-Type: multipart/alternative; boundary="ALT"\r\n\r\n' +
      '--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain news body\r\n' +
      '--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n' +
      `<html><head><style>body{background:url(${remote}/bg.png)}</style><link rel="stylesheet" href="${remote}/style.css"></head>` +
      `<body><h1 id="headline">News of the week</h1><img id="pixel" src="${remote}/pixel.png" alt="tracker">` +
      `<p style="background-image:url(${remote}/p.png)">Hello <a href="https://example.org/more">more</a></p>` +
      `<script>document.title='pwned'</script><img src=x onerror="fetch('${remote}/onerror')"></body></html>\r\n` +
      '--ALT--\r\n' +
      '--MIX\r\nContent-Type: application/pdf; name="report.pdf"\r\nContent-Disposition: attachment; filename="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      Buffer.from('%PDF-1.4 fake').toString('base64') +
      '\r\n--MIX--\r\n',
  );
}

function plainMail(i: number): Buffer {
  const day = String(1 + (i % 28)).padStart(2, '0');
  return Buffer.from(`From: Bulk ${i} <bulk${i}@example.net>\r\nTo: support@example.com\r\nSubject: Paging ${i}\r\nMessage-ID: <p${i}@example.net>\r\nDate: ${day} Oct 2026 12:00:00 +0000\r\n\r\nmail ${i}\r\n`);
}

async function store(ctx: AppContext, accountId: string, uid: string, raw: Buffer, at: string): Promise<string> {
  const [r] = await ctx.repos.messages.storeBatch(accountId, [{ uid, chunks: [raw], meta: extractMetadata(raw) }], at);
  return r!.messageId;
}

test('received mail: list, search, paging, Japanese and HTML mail, raw source', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, ctx } = ui;

  // the "remote" server a mail's images point at: it must never be asked for anything
  const remoteHits: string[] = [];
  const remote = http.createServer((req, res) => {
    remoteHits.push(req.url ?? '');
    res.end();
  });
  await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => remote.close(() => r())));
  const remoteBase = `http://127.0.0.1:${(remote.address() as AddressInfo).port}`;
  const requested: string[] = [];
  page.on('request', (req) => requested.push(req.url()));

  const server = await new MailServerService(ctx).add('test', { name: 'ISP', incoming: { protocol: 'pop3', host: 'pop.example.com' }, outgoing: { host: 'smtp.example.com' } });
  const accounts = new MailAccountService(ctx);
  const support = await accounts.add('test', { displayName: 'Support', serverId: server.id, address: 'support@example.com', username: 's', password: 'support-pw' });
  const sales = await accounts.add('test', { displayName: 'Sales', serverId: server.id, address: 'sales@example.com', username: 'x', password: 'sales-pw' });
  for (let i = 0; i < 55; i++) await store(ctx, support.id, `p${i}`, plainMail(i), new Date(Date.UTC(2026, 9, 1, 0, i)).toISOString());
  const jp = japaneseMail();
  const jpId = await store(ctx, support.id, 'jp', jp, '2026-11-23T00:31:00.000Z');
  const html = htmlMail(remoteBase);
  const htmlId = await store(ctx, support.id, 'html', html, '2026-11-24T08:01:00.000Z');
  await store(ctx, sales.id, 's1', plainMail(900), '2026-11-25T00:00:00.000Z');

  await t.test('the list: newest first with from, subject, date, size and the attachment mark', async () => {
    await signIn(ui);
    await page.locator('.app-nav').getByRole('link', { name: '受信メール' }).click();
    await page.locator('.left-pane').getByRole('link', { name: /Support/ }).click();
    await page.getByRole('heading', { name: 'Support <support@example.com>' }).waitFor();
    const rows = page.getByTestId('messages').locator('tbody tr');
    await rowCount(page, 50);
    await rows.first().waitFor();
    assert.deepEqual(await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents(), ['受信メール', 'Support']);
    assert.equal(await rows.count(), 50);
    const first = rows.nth(0);
    assert.equal(await first.getAttribute('data-message-id'), htmlId);
    assert.match((await first.textContent()) ?? '', /Newsletter <news@example\.org>/);
    assert.equal(await first.locator('.clip [aria-label="添付ファイルあり"]').count(), 1);
    const second = rows.nth(1);
    assert.match((await second.textContent()) ?? '', /山田太郎 <taro@example\.jp>/);
    assert.match((await second.textContent()) ?? '', /会議のお知らせ（第３回）/);
    assert.match((await second.locator('.date').textContent()) ?? '', /2026\/11\/23/);
    assert.match((await second.locator('.num').textContent()) ?? '', /B|KB/);
    assert.equal(await second.locator('.clip [aria-label="添付ファイルあり"]').count(), 0);
    await ui.shot('mail-list');
  });

  await t.test('paging with the API cursors, and the other account', async () => {
    const rows = page.getByTestId('messages').locator('tbody tr');
    // the next page's answer is held back: meanwhile the first page's rows stay, marked as
    // such, and neither button takes another click (a second 次へ would reuse the old cursor)
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const nextPage = /\/api\/v1\/messages\?.*cursor=/;
    await page.route(nextPage, async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole('button', { name: '次へ' }).click();
    await page.locator('.pager').getByText('読み込み中…').waitFor();
    assert.match((await page.locator('.pager').textContent()) ?? '', /2ページ目/);
    assert.equal(await page.getByRole('button', { name: '次へ' }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: '前へ' }).isDisabled(), true);
    assert.equal(await rows.count(), 50);
    assert.match((await page.getByTestId('messages').getAttribute('class')) ?? '', /\bstale\b/);
    release();
    // then the next page's rows: its oldest mail
    await rows.filter({ hasText: 'Paging 0' }).waitFor();
    await page.unroute(nextPage);
    assert.equal(await page.locator('.pager').getByText('読み込み中…').count(), 0);
    assert.doesNotMatch((await page.getByTestId('messages').getAttribute('class')) ?? '', /\bstale\b/);
    assert.equal(await rows.count(), 7);
    assert.equal(await page.getByRole('button', { name: '次へ' }).isDisabled(), true);
    assert.equal(await rows.last().locator('td').nth(2).textContent(), 'Paging 0');
    // a mail opened from page 2, then the browser's back button: page 2 again, not the first
    await rows.last().getByRole('link').click();
    await page.getByRole('heading', { name: 'Paging 0', level: 1 }).waitFor();
    await page.goBack();
    await rows.filter({ hasText: 'Paging 0' }).waitFor();
    assert.match((await page.locator('.pager').textContent()) ?? '', /2ページ目/);
    assert.equal(await rows.count(), 7);
    await page.getByRole('button', { name: '前へ' }).click();
    await page.getByText('1ページ目').waitFor();
    await page.locator('.left-pane').getByRole('link', { name: /Sales/ }).click();
    await page.getByRole('heading', { name: 'Sales <sales@example.com>' }).waitFor();
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.match((await rows.first().textContent()) ?? '', /Paging 900/);
  });

  await t.test('search by subject and by sender', async () => {
    await page.locator('.left-pane').getByRole('link', { name: /Support/ }).click();
    await page.getByRole('heading', { name: 'Support <support@example.com>' }).waitFor();
    const rows = page.getByTestId('messages').locator('tbody tr');
    await page.getByRole('searchbox').fill('会議');
    await page.getByRole('button', { name: '検索' }).click();
    await page.waitForURL(/q=/);
    await rowCount(page, 1);
    assert.match((await rows.first().textContent()) ?? '', /会議のお知らせ/);
    await page.getByRole('searchbox').fill('bulk12@');
    await page.getByRole('button', { name: '検索' }).click();
    await rows.filter({ hasText: 'Paging 12' }).waitFor();
    await rowCount(page, 1);
    assert.equal(await rows.count(), 1);
    await page.getByRole('button', { name: 'クリア' }).click();
    await rowCount(page, 50);
  });

  await t.test('a Japanese ISO-2022-JP mail reads correctly', async () => {
    await page.getByRole('link', { name: '会議のお知らせ（第３回）' }).click();
    await page.getByRole('heading', { name: '会議のお知らせ（第３回）', level: 1 }).waitFor();
    const headers = (await page.getByTestId('message-headers').textContent()) ?? '';
    assert.match(headers, /山田太郎 <taro@example\.jp>/);
    assert.match(headers, /support@example\.com/);
    assert.match(headers, /<jp1@example\.jp>/);
    const body = (await page.getByTestId('text-body').textContent()) ?? '';
    assert.match(body, /本日の会議は１５時から第２会議室で行います。/);
    assert.deepEqual(await page.getByRole('navigation', { name: 'パンくずリスト' }).locator('li').allTextContents(), ['受信メール', 'Support', '会議のお知らせ（第３回）']);
    await ui.shot('message-japanese');

    const download = page.waitForEvent('download');
    await page.getByTestId('raw-link').click();
    const file = await (await download).path();
    assert.ok(readFileSync(file).equals(jp), 'the raw source is the exact stored bytes');
    assert.equal(jpId.length > 0, true);
  });

  await t.test('an HTML mail: sanitized in a sandboxed frame, its remote content never requested', async () => {
    await page.goto(`${ui.baseUrl}/mail/${htmlId}`);
    await page.getByRole('heading', { name: 'Weekly news', level: 1 }).waitFor();
    const frameEl = page.getByTestId('html-body');
    await frameEl.waitFor();
    assert.equal(await frameEl.getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox');
    const frame = page.frameLocator('[data-testid="html-body"]');
    await frame.locator('#headline').waitFor();
    assert.equal(await frame.locator('#headline').textContent(), 'News of the week');
    assert.equal(await frame.locator('#pixel').getAttribute('src'), null, 'the remote image has no source');
    assert.equal(await frame.locator('script').count(), 0);
    assert.equal(await frame.locator('a').getAttribute('target'), '_blank');
    await page.getByTestId('remote-blocked').waitFor();
    assert.match((await page.getByTestId('attachments').textContent()) ?? '', /report\.pdf/);
    // the attachment link downloads it, decoded, with the session cookie
    const href = await page.getByTestId('attachment-link').first().getAttribute('href');
    const att = await page.request.get(new URL(href!, page.url()).href);
    assert.equal(att.status(), 200);
    assert.match(att.headers()['content-disposition'] ?? '', /^attachment; .*report\.pdf/);
    // the text part is one click away
    await page.getByRole('button', { name: 'テキスト' }).click();
    assert.match((await page.getByTestId('text-body').textContent()) ?? '', /Plain news body/);
    await page.getByRole('button', { name: 'HTML' }).click();
    await frame.locator('#headline').waitFor();
    await ui.shot('message-html');
    // give any stray load a chance to show up, then check nothing reached the remote host
    await page.waitForTimeout(300);
    assert.deepEqual(remoteHits, []);
    assert.deepEqual(
      requested.filter((u) => u.startsWith(remoteBase)),
      [],
    );
    assert.notEqual(await page.title(), 'pwned');
  });
});
