// Screenshots of each main page in Japanese at 1280×800 (and the mail server list at
// 375 px), on realistic data. Normal runs keep them as test artifacts (the harness's
// shots folder: YUBIN_E2E_SCREENSHOTS, else a temp dir); UPDATE_SCREENSHOTS=1 writes
// them to docs/screenshots/ instead, for the README.
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { signIn, startUi } from './harness.ts';
import { mainPages, seedUi } from './seed.ts';

const DOCS = new URL('../../docs/screenshots/', import.meta.url).pathname;

async function open(page: Page, url: string, ready = 'h1'): Promise<void> {
  await page.goto(url);
  await page.locator('h1').first().waitFor();
  await page.locator(ready).first().waitFor();
  await page.getByText('読み込み中…').first().waitFor({ state: 'detached' });
}

test('screenshots of the main pages', async (t) => {
  const ui = await startUi(t);
  if (!ui) return;
  const { page, baseUrl } = ui;
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? DOCS : ui.shots;
  mkdirSync(dir, { recursive: true });
  const seeded = await seedUi(ui.ctx);
  const shoot = async (name: string) => {
    const path = join(dir, `${name}.png`);
    await page.screenshot({ path }); // the viewport only: small files, the top of each page
    assert.ok(statSync(path).size > 5_000, `${name}.png has content`);
  };

  await page.setViewportSize({ width: 1280, height: 800 });
  await open(page, baseUrl + '/signin');
  await shoot('sign-in');
  await signIn(ui);

  for (const p of mainPages(seeded)) {
    await open(page, baseUrl + p.path, p.ready);
    assert.equal(await page.getByTestId('error-banner').count(), 0, `${p.name} shows no error`);
    if (p.name === 'mail-server-order') {
      // show a selection, as an administrator would see it mid-way
      await page.getByRole('option').nth(1).click();
      await page.getByRole('option').nth(2).click({ modifiers: ['Shift'] });
    }
    await shoot(p.name);
  }

  await page.setViewportSize({ width: 375, height: 740 });
  await open(page, baseUrl + '/settings/general/mail-servers', '[data-testid="other-servers"] tbody tr');
  await shoot('mail-servers-375');
  await open(page, baseUrl + `/mail?account=${seeded.accountId}`, '[data-testid="messages"] tbody tr');
  await shoot('mail-375');
});
