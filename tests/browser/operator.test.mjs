// The operator's pages in a real browser: log in as an admin, create a product, open its sale,
// restock it, watch its live summary while a member buys, then find the order by status and
// hold, release and advance it (each action lands in the order's history).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, createAdminBeforeStart, createMember, eventually, launchBrowser, startServer } from './support.mjs';

let server, browser;

before(async () => {
  server = await startServer({ before: (dir) => createAdminBeforeStart(dir, 'operator@example.com', 'operator password 1') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const localInput = (ms) => {
  // datetime-local in the browser's time zone (the context runs in UTC, below).
  // Chromium normalises a value with 00 seconds to HH:MM, which Playwright's fill reports as a
  // malformed value (about one run in sixty): give it the form the input keeps.
  const value = new Date(ms).toISOString().slice(0, 19);
  return value.endsWith(':00') ? value.slice(0, 16) : value;
};

test('create a product, open its sale, restock, watch the summary, work an order', async () => {
  const context = await browser.newContext({ baseURL: server.base, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  await page.goto('/account/login?next=/operator');
  await page.getByLabel('Email').fill('operator@example.com');
  await page.getByLabel('Password').fill('operator password 1');
  await page.getByTestId('login-submit').click();
  await page.waitForURL('**/operator');
  await page.getByRole('heading', { name: 'Products' }).waitFor();

  // A new product.
  await page.getByLabel('Product name').fill('Nebula Cap');
  await page.getByLabel('Price (KRW)').fill('45000');
  await page.getByLabel('Stock').fill('3');
  await page.getByTestId('op-create').click();
  await page.waitForURL(/\/operator\/products\/\d+$/);
  const id = Number(page.url().split('/').pop());
  await page.getByRole('heading', { name: 'Nebula Cap' }).waitFor();

  // Its sale: open now, for an hour, two per member.
  const now = (await api(server, 'GET', '/time')).data.epochMs;
  await page.getByLabel('Starts at').fill(localInput(now - 60_000));
  await page.getByLabel('Ends at').fill(localInput(now + 3_600_000));
  await page.getByLabel('Limit per member').fill('2');
  await page.getByTestId('op-save-sale').click();
  await page.getByTestId('op-message').getByText('Sale saved.').waitFor();
  const sale = (await api(server, 'GET', `/payment/${id}/sale`)).data;
  assert.equal(sale.perMemberLimit, 2);
  assert.equal(Date.parse(sale.startsAt), Math.floor((now - 60_000) / 1000) * 1000);
  await eventually(async () => (await api(server, 'GET', `/payment/${id}/sale`)).data.state === 'live');

  // Restock two more.
  await page.getByRole('textbox', { name: 'Quantity' }).or(page.getByLabel('Quantity')).fill('2');
  await page.getByRole('button', { name: 'Restock' }).click();
  await page.getByTestId('op-message').getByText('Restocked: 5 available.').waitFor();

  // The live summary while a member buys two.
  await page.getByRole('link', { name: 'Live summary' }).click();
  await page.getByTestId('summary').waitFor();
  const figure = (name) => page.locator(`[data-figure=${name}] dd`).textContent();
  assert.equal(await figure('liveStock'), '5');
  const buyer = await createMember(server, 'capfan@example.com');
  const bought = await api(server, 'POST', '/payment/request', {
    token: buyer.tokens.accessToken,
    headers: { 'Idempotency-Key': 'op-test-1' },
    body: { productId: id, amount: 2 },
  });
  assert.equal(bought.status, 201);
  await page.waitForFunction(() => document.querySelector('[data-figure=sold] dd')?.textContent === '2', null, { timeout: 2000 });
  assert.equal(await figure('liveStock'), '3');
  assert.equal(await figure('oversold'), '0');

  // Orders by status: the new order is PAID; hold it, release it, advance it to SHIPPING.
  const orderId = bought.data.orderId;
  await page.getByRole('link', { name: 'Orders' }).first().click();
  await page.getByLabel('Reason (recorded in the order history)').fill('address check');
  const card = page.locator(`[data-testid=op-orders] [data-order-id="${orderId}"]`);
  await eventually(
    async () => {
      if (await card.count()) return true;
      await page.reload();
      await page.getByLabel('Reason (recorded in the order history)').fill('address check');
      return false;
    },
    { timeoutMs: 5000, intervalMs: 300, message: 'the order among the PAID orders' },
  );
  await card.getByRole('button', { name: 'Hold' }).click();
  await card.getByText('on hold').waitFor();
  await card.getByRole('button', { name: 'Release' }).click();
  await card.getByRole('button', { name: 'Hold' }).waitFor();
  await card.getByRole('button', { name: 'Advance' }).click();
  await card.waitFor({ state: 'detached' }); // no longer PAID
  await page.getByRole('link', { name: 'Shipping' }).click();
  await page.locator(`[data-testid=op-orders] [data-order-id="${orderId}"]`).waitFor();
  const order = (await api(server, 'GET', `/order/${orderId}`, { token: buyer.tokens.accessToken })).data;
  assert.equal(order.status, 'SHIPPING');
  assert.ok(order.history.some((h) => /address check/.test(h.cause)), JSON.stringify(order.history));

  // A member who is not an operator sees no operator page.
  await context.close();
});
