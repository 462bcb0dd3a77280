// Accessibility and reach: axe-core on every page (English and Korean) finds no serious or
// critical violation; every page fits a 360 px wide phone without sideways scrolling; the drop
// can be bought with the keyboard alone; the language follows the browser and the switch.
// With ROCKETMART_SCREENSHOT_DIR set, it also saves the screenshots the README shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, createAdminBeforeStart, createDrop, createMember, eventually, launchBrowser, loggedInContext, login, seriousViolations, startServer } from './support.mjs';

let server, browser, admin, buyer, upcoming, live, soldOut;
const shots = process.env.ROCKETMART_SCREENSHOT_DIR;

before(async () => {
  server = await startServer({ before: (dir) => createAdminBeforeStart(dir, 'operator@example.com', 'operator password 1') });
  admin = await login(server, 'operator@example.com', 'operator password 1');
  browser = await launchBrowser();
  buyer = await createMember(server, 'reader@example.com');
  upcoming = await createDrop(server, admin.accessToken, { name: 'Aurora Parka', price: 349000, stock: 50, startsInMs: 3_600_000 });
  live = await createDrop(server, admin.accessToken, { name: 'Meteor Runner', price: 189000, stock: 8, startsInMs: -1000, limit: 2 });
  soldOut = await createDrop(server, admin.accessToken, { name: 'Eclipse Watch', price: 520000, stock: 1, startsInMs: -1000 });
  const other = await createMember(server, 'early@example.com');
  await api(server, 'POST', '/payment/request', { token: other.tokens.accessToken, body: { productId: soldOut.id, amount: 1 } });
  // Some history for my page: an order, a wish, a cart line.
  await api(server, 'POST', '/payment/request', { token: buyer.tokens.accessToken, body: { productId: live.id, amount: 1 } });
  await api(server, 'POST', '/products/wishlist', { token: buyer.tokens.accessToken, body: { productId: upcoming.id } });
  await api(server, 'PUT', `/cart/items/${live.id}`, { token: buyer.tokens.accessToken, body: { quantity: 1 } });
  await eventually(async () => (await api(server, 'GET', '/order', { token: buyer.tokens.accessToken })).data.items.length === 1);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const ready = async (page) => {
  await page
    .locator('h1')
    .first()
    .waitFor({ timeout: 10_000 })
    .catch(async (e) => {
      throw new Error(`${page.url()} has no heading: ${(await page.locator('body').innerText()).slice(0, 300)}`);
    });
  await page
    .waitForFunction(() => !document.querySelector('.loading'), null, { timeout: 5000 })
    .catch((e) => {
      throw new Error(`${page.url()} still loading: ${e.message}`);
    });
};

const pages = () => [
  { path: '/', who: 'anonymous' },
  { path: `/drop/${upcoming.id}`, who: 'anonymous' },
  { path: `/drop/${upcoming.id}`, who: 'buyer' },
  { path: `/drop/${live.id}`, who: 'buyer' },
  { path: `/drop/${soldOut.id}`, who: 'buyer' },
  { path: '/shop', who: 'anonymous' },
  { path: `/shop/${live.id}`, who: 'buyer' },
  { path: '/shop/cart', who: 'buyer' },
  { path: '/shop/wishlist', who: 'buyer' },
  { path: '/account/login', who: 'anonymous' },
  { path: '/account/signup', who: 'anonymous' },
  { path: '/account/verify?token=abc', who: 'anonymous' },
  { path: '/account/forgot', who: 'anonymous' },
  { path: '/account/reset?token=abc', who: 'anonymous' },
  { path: '/account/me', who: 'buyer' },
  { path: '/account/profile', who: 'buyer' },
  { path: '/operator', who: 'admin' },
  { path: `/operator/products/${live.id}`, who: 'admin' },
  { path: '/operator/orders', who: 'admin' },
  { path: `/operator/sales/${live.id}`, who: 'admin' },
  { path: '/account/no-such-page', who: 'anonymous' },
];

for (const locale of ['en-US', 'ko-KR']) {
  test(`axe-core finds no serious or critical violation on any page (${locale}), and each fits 360 px`, async () => {
    const tokens = { anonymous: null, buyer: buyer.tokens, admin };
    const contexts = {};
    for (const who of Object.keys(tokens)) {
      contexts[who] = await loggedInContext(browser, server, tokens[who], { locale, viewport: { width: 360, height: 740 } });
    }
    const problems = [];
    for (const { path, who } of pages()) {
      const page = await contexts[who].newPage();
      await page.goto(path);
      await ready(page);
      const lang = await page.evaluate(() => document.documentElement.lang);
      assert.equal(lang, locale.slice(0, 2), `${path}: <html lang>`);
      for (const v of await seriousViolations(page)) problems.push(`${path} (${who}): ${v}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 360) problems.push(`${path} (${who}): ${width} px wide at a 360 px viewport`);
      await page.close();
    }
    for (const c of Object.values(contexts)) await c.close();
    assert.deepEqual(problems, []);
  });
}

test('the drop can be bought with the keyboard alone; focus is visible and starts at the skip link', async () => {
  const member = await createMember(server, 'keys@example.com');
  const context = await loggedInContext(browser, server, member.tokens);
  const page = await context.newPage();
  await page.goto(`/drop/${live.id}`);
  await ready(page);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip');
  let reached = false;
  for (let i = 0; i < 20 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'buy');
  }
  assert.ok(reached, 'the buy button is reachable with Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused button shows a focus ring');
  await page.keyboard.press('Enter');
  await page.getByTestId('order-id').waitFor();
  await context.close();
});

test('the language follows the browser, and the switch changes it and is remembered', async () => {
  const context = await browser.newContext({ baseURL: server.base, locale: 'ko-KR' });
  const page = await context.newPage();
  await page.goto(`/drop/${upcoming.id}`);
  await ready(page);
  assert.equal(await page.getByTestId('login-to-buy').textContent(), '로그인하고 구매');
  await page.getByTestId('lang-switch').click();
  assert.equal(await page.getByTestId('login-to-buy').textContent(), 'Log in to buy');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.reload();
  await ready(page);
  assert.equal(await page.getByTestId('login-to-buy').textContent(), 'Log in to buy');
  await context.close();
});

test('screenshots for the README (only with ROCKETMART_SCREENSHOT_DIR)', { skip: !shots }, async () => {
  const member = await createMember(server, 'shots@example.com');
  const context = await loggedInContext(browser, server, member.tokens, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`/drop/${live.id}`);
  await ready(page);
  await page.screenshot({ path: join(shots, 'drop-open.png') });
  await page.goto(`/drop/${soldOut.id}`);
  await ready(page);
  await page.screenshot({ path: join(shots, 'drop-soldout.png') });
  const me = await loggedInContext(browser, server, buyer.tokens, { viewport: { width: 360, height: 740 } });
  const mePage = await me.newPage();
  await mePage.goto('/account/me');
  await ready(mePage);
  await mePage.screenshot({ path: join(shots, 'mypage-360.png'), fullPage: true });
  await mePage.setViewportSize({ width: 1280, height: 800 });
  await mePage.screenshot({ path: join(shots, 'mypage-1280.png'), fullPage: true });
  await context.close();
  await me.close();
});
