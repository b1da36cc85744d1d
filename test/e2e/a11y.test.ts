// Accessibility and small screens in Chromium: on every main page, at 1280×800 and
// 375×740, every visible control has an accessible name, the page never scrolls
// sideways (wide tables scroll inside themselves), and Tab walks the controls with a
// visible focus ring.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { ADMIN, startUi } from './harness.ts';
import { mainPages, seedUi } from './seed.ts';

const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 375, height: 740 },
];

// Run in the page (a string: the tests compile without DOM types). The name follows
// the accessible-name order closely enough for our markup: aria-labelledby,
// aria-label, an associated <label>, text (and alt text) inside, title, a button value.
const UNNAMED = `(() => {
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const text = (el) => (el.textContent ?? '').replace(/\\s+/g, ' ').trim();
  const name = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const t = by.split(/\\s+/).map((id) => { const r = document.getElementById(id); return r ? text(r) : ''; }).join(' ').trim();
      if (t) return t;
    }
    const aria = (el.getAttribute('aria-label') ?? '').trim();
    if (aria) return aria;
    if (el.labels) for (const l of el.labels) if (text(l)) return text(l);
    if (el.matches('a, button, [role="option"], [role="menuitem"], summary')) {
      const t = text(el) || [...el.querySelectorAll('img[alt], [aria-label]')].map((x) => x.getAttribute('alt') || x.getAttribute('aria-label')).join(' ').trim();
      if (t) return t;
    }
    const title = (el.getAttribute('title') ?? '').trim();
    if (title) return title;
    if (el.matches('input[type="submit"], input[type="button"]')) return (el.value ?? '').trim();
    return '';
  };
  const controls = document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, textarea, iframe, [role="option"], [tabindex]:not([tabindex="-1"])');
  const shown = [...controls].filter(visible);
  return { count: shown.length, unnamed: shown.filter((el) => !name(el)).map((el) => el.outerHTML.slice(0, 160)) };
})()`;

const OVERFLOW = `({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  widest: [...document.body.querySelectorAll('*')].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter((el) => !el.closest('table.list, .bulk-table-wrap, .message-headers, .order-list'))
    .slice(0, 3).map((el) => el.tagName + '.' + el.className) })`;

const FOCUSED = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow !== 'none' && s.boxShadow !== '');
  return { tag: el.tagName, label: (el.getAttribute('aria-label') || el.textContent || el.getAttribute('name') || '').trim().slice(0, 40), ring };
})()`;

/** Open a page and wait until it has its heading and nothing is still loading. */
async function open(page: Page, url: string, ready = 'h1'): Promise<void> {
  await page.goto(url);
  await page.locator('h1').first().waitFor();
  await page.locator(ready).first().waitFor();
  await page.getByText('読み込み中…').first().waitFor({ state: 'detached' });
}

async function check(page: Page, where: string): Promise<void> {
  const { count, unnamed } = (await page.evaluate(UNNAMED)) as { count: number; unnamed: string[] };
  assert.ok(count >= 3, `${where}: only ${count} controls found`);
  assert.deepEqual(unnamed, [], `${where}: controls without an accessible name`);
  const o = (await page.evaluate(OVERFLOW)) as { scrollWidth: number; innerWidth: number; widest: string[] };
  assert.ok(o.scrollWidth <= o.innerWidth + 1, `${where}: the page scrolls sideways (${o.scrollWidth} > ${o.innerWidth}; ${o.widest.join(', ')})`);
}

/** Tab n times from the top: each stop is a real control with a visible focus ring. */
async function tabWalk(page: Page, where: string, n: number): Promise<string[]> {
  // start from the top of the document (the sign-in page autofocuses its first field)
  await page.evaluate("(() => { const b = document.body; b.setAttribute('tabindex', '-1'); b.focus(); b.removeAttribute('tabindex'); })()");
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    const f = (await page.evaluate(FOCUSED)) as { tag: string; label: string; ring: boolean } | null;
    assert.ok(f, `${where}: Tab ${i + 1} left the focus nowhere`);
    assert.ok(f.ring, `${where}: ${f.tag} "${f.label}" has no visible focus ring`);
    seen.push(f.label);
  }
  return seen;
}

test('accessibility: names, no sideways scroll at 1280 and 375 px, keyboard focus', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, baseUrl } = ui;
  const seeded = await seedUi(ui.ctx);

  for (const viewport of VIEWPORTS) {
    await t.test(`${viewport.width} px: sign-in`, async () => {
      await page.context().clearCookies();
      await page.setViewportSize(viewport);
      await open(page, baseUrl + '/signin');
      await check(page, `sign-in @${viewport.width}`);
      if (viewport.width === 1280) {
        const stops = await tabWalk(page, 'sign-in', 6);
        assert.ok(stops.includes('ログイン'), `Tab reaches ログイン: ${stops.join(' | ')}`);
      }
      await page.getByLabel('ユーザー名').fill(ADMIN.username);
      await page.getByLabel('パスワード').fill(ADMIN.password);
      await page.getByRole('button', { name: 'ログイン' }).click();
      await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
    });

    for (const p of mainPages(seeded)) {
      await t.test(`${viewport.width} px: ${p.name}`, async () => {
        await open(page, baseUrl + p.path, p.ready);
        await check(page, `${p.name} @${viewport.width}`);
      });
    }
  }

  await t.test('Tab reaches the header, the left pane and the form with a visible ring', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await open(page, baseUrl + '/settings/general/mail-servers/new');
    const stops = await tabWalk(page, 'mail server form', 14);
    assert.ok(stops.includes('受信メール'), `the header's links come first: ${stops.join(' | ')}`);
    assert.ok(stops.includes('設定メニュー'), 'the gear menu is reachable');
    assert.ok(stops.includes('メールサーバー'), 'the left pane is reachable');

    await page.setViewportSize({ width: 375, height: 740 });
    await open(page, baseUrl + '/settings/general/mail-servers/order', '[role="option"]');
    await tabWalk(page, 'order page at 375 px', 10);
  });

  await t.test('the gear menu opens from the keyboard', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await open(page, baseUrl + '/settings/general/mail-servers');
    await page.getByRole('button', { name: '設定メニュー' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('menuitem', { name: 'システム設定' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('menuitem', { name: 'システム設定' }).waitFor({ state: 'detached' });
  });
});
