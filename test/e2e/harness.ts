// The e2e harness: Yubin in-process (buildApp on a fresh SQLite context, an admin,
// a real port on 127.0.0.1) and Debian's Chromium driven by playwright-core.
// Never downloads a browser: without /usr/bin/chromium the tests skip, or fail
// under CI=true.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { WEB_DIST } from '../../src/http/static.ts';
import { AuthService } from '../../src/services/auth.ts';
import type { AppContext } from '../../src/services/context.ts';
import { makeContext } from '../support/app-context.ts';

export const CHROMIUM = process.env.YUBIN_CHROMIUM ?? '/usr/bin/chromium';
export const ADMIN = { username: 'admin', password: 'correct horse battery' };
const ROOT = new URL('../../', import.meta.url).pathname;

export interface Ui {
  ctx: AppContext;
  app: FastifyInstance;
  baseUrl: string;
  context: BrowserContext;
  page: Page;
  /** a directory for screenshots (YUBIN_E2E_SCREENSHOTS, else a temp dir removed at the end) */
  shots: string;
  shot(name: string): Promise<void>;
}

/** Build web/dist when it is missing (a fresh clone runs `npm run build` through prepare). */
export function ensureWebBuilt(): void {
  if (existsSync(join(WEB_DIST, 'index.html'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', join(ROOT, 'web')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('vite build web failed');
}

/** Start Yubin and Chromium for one test file; undefined when the test was skipped. */
export async function startUi(t: TestContext, opts: { admin?: boolean } = {}): Promise<Ui | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: install Debian's chromium package`);
    t.skip(`${CHROMIUM} is not installed here`);
    return undefined;
  }
  ensureWebBuilt();
  const ctx = (await makeContext('sqlite'))!;
  if (opts.admin !== false) await new AuthService(ctx).createAdmin(ADMIN.username, ADMIN.password);
  const app = await buildApp(ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const baseUrl = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';

  // a fresh profile each time (playwright takes it as launchPersistentContext's folder)
  const profile = mkdtempSync(join(tmpdir(), 'yubin-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
    locale: 'ja-JP',
    acceptDownloads: true,
  });
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const keepShots = process.env.YUBIN_E2E_SCREENSHOTS;
  const shots = keepShots ?? mkdtempSync(join(tmpdir(), 'yubin-shots-'));
  t.after(async () => {
    await context.close().catch(() => {});
    await app.close();
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
    if (!keepShots) rmSync(shots, { recursive: true, force: true });
  });
  return {
    ctx,
    app,
    baseUrl,
    context,
    page,
    shots,
    shot: async (name) => {
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    },
  };
}

/** Sign in through the sign-in page. */
export async function signIn(ui: Ui): Promise<void> {
  const { page } = ui;
  await page.goto(ui.baseUrl + '/');
  await page.waitForURL(/\/signin/);
  await page.getByLabel('ユーザー名').fill(ADMIN.username);
  await page.getByLabel('パスワード').fill(ADMIN.password);
  await page.getByRole('button', { name: 'ログイン' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
}
