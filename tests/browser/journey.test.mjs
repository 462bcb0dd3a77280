// The whole journey of one person, through the pages only: sign up, read the mail, confirm on the
// verification page (a POST: opening the link uses nothing up), log in, like, wishlist, cart and
// checkout, wait for a drop to open, buy, see the order, cancel it (the stock comes back on the
// drop page, the refund shows), return the delivered cart order (refunded), log out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, createAdminBeforeStart, createDrop, eventually, launchBrowser, login, mailToken, startServer } from './support.mjs';

let server, browser, admin;

before(async () => {
  server = await startServer({
    env: {
      // A compressed order lifecycle: shipped 4 s after payment, delivered at once, a return
      // received 1 s after it is asked for.
      ROCKETMART_ORDERS_SHIP_AFTER_S: '4',
      ROCKETMART_ORDERS_DELIVER_AFTER_S: '0',
      ROCKETMART_ORDERS_RETURN_RECEIVE_AFTER_S: '1',
      ROCKETMART_ORDERS_SCHEDULER_INTERVAL_MS: '200',
    },
    before: (dir) => createAdminBeforeStart(dir, 'operator@example.com', 'operator password 1'),
  });
  admin = await login(server, 'operator@example.com', 'operator password 1');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('sign up -> verify -> log in -> like, wishlist, cart -> drop -> order -> cancel and return -> refunds', async () => {
  const tee = await createDrop(server, admin.accessToken, { name: 'Cart Tee', price: 39000, stock: 10, startsInMs: -1000, limit: 5 });
  const drop = await createDrop(server, admin.accessToken, { name: 'Journey Drop', price: 129000, stock: 3, startsInMs: 25_000, limit: 1 });
  const context = await browser.newContext({ baseURL: server.base, locale: 'en-US' });
  const page = await context.newPage();
  const email = 'journey@example.com';
  const password = 'a long journey 2026';

  // Sign up.
  await page.goto('/account/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Name').fill('Jiwoo');
  await page.getByTestId('signup-submit').click();
  await page.getByTestId('signup-done').waitFor();

  // The mail's link opens the verification page; opening (or reloading) it confirms nothing.
  const token = await mailToken(server, email);
  await page.goto(`/account/verify?token=${token}`);
  await page.reload();
  await page.getByTestId('verify-confirm').click();
  assert.match(await page.getByTestId('verify-result').textContent(), /confirmed/);

  // Log in (the login page sends you back where you were going).
  await page.goto(`/account/login?next=/shop/${tee.id}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(`**/shop/${tee.id}`);

  // Like, wishlist, cart.
  await page.getByTestId('like').click();
  await eventually(async () => (await page.getByTestId('likes').textContent()) === '1 likes');
  await page.getByTestId('wish').click();
  await page.getByText('Added to your wishlist.').waitFor();
  await page.getByLabel('Quantity').fill('2');
  await page.getByTestId('add-to-cart').click();
  await page.getByText('Added to your cart.').waitFor();
  await page.goto('/shop/wishlist');
  await page.getByTestId('wishlist').getByText('Cart Tee').waitFor();
  await page.goto('/shop/cart');
  await page.getByTestId('cart-lines').getByText('Cart Tee').waitFor();
  await page.getByTestId('checkout').click();
  const cartOrder = Number(await page.getByTestId('checkout-result').getByTestId('order-id').textContent());
  assert.ok(cartOrder > 0);

  // The drop: wait for it to open on the page, buy.
  await page.goto(`/drop/${drop.id}`);
  assert.equal(await page.getByTestId('stock').getAttribute('data-stock'), '3');
  await page.getByTestId('buy').click({ timeout: 40_000 });
  const dropOrder = Number(await page.getByTestId('order-id').textContent());
  await eventually(async () => (await page.getByTestId('stock').getAttribute('data-stock')) === '2', { timeoutMs: 1000 });

  // My page: both orders; cancel the drop order before it ships.
  await page.getByRole('link', { name: 'See my orders' }).click();
  const dropCard = page.locator(`[data-testid=order][data-order-id="${dropOrder}"]`);
  // Orders are projected from the payment's event, milliseconds later: reload until it is listed.
  await eventually(
    async () => {
      if (await dropCard.count()) return true;
      await page.reload();
      return false;
    },
    { timeoutMs: 5000, intervalMs: 300, message: 'the drop order on my page' },
  );
  await dropCard.locator('summary').click(); // its history, read from the order itself
  await dropCard.getByTestId('history').getByText('Paid').waitFor();
  await dropCard.getByTestId('cancel').click();
  await page.locator(`[data-testid=order][data-order-id="${dropOrder}"][data-status=CANCELLED]`).waitFor();
  assert.match(await page.locator(`[data-order-id="${dropOrder}"] [data-testid=refund]`).textContent(), /Refund/);

  // The cancelled unit is back on sale: the drop page shows it without a reload.
  const dropPage = await context.newPage();
  await dropPage.goto(`/drop/${drop.id}`);
  await eventually(async () => (await dropPage.getByTestId('stock').getAttribute('data-stock')) === '3', {
    timeoutMs: 10_000,
    message: 'the refunded unit back in the live stock',
  });

  // The cart order is delivered a few seconds later: return it; it is received and refunded.
  await eventually(
    async () => {
      await page.reload();
      return (await page.locator(`[data-order-id="${cartOrder}"]`).getAttribute('data-status')) === 'DELIVERED';
    },
    { timeoutMs: 15_000, intervalMs: 500, message: 'the cart order to be delivered' },
  );
  await page.locator(`[data-order-id="${cartOrder}"]`).getByTestId('return').click();
  await eventually(
    async () => {
      await page.reload();
      return (await page.locator(`[data-order-id="${cartOrder}"]`).getAttribute('data-status')) === 'RETURNED';
    },
    { timeoutMs: 10_000, intervalMs: 500, message: 'the return to be received' },
  );
  assert.match(await page.locator(`[data-order-id="${cartOrder}"] [data-testid=refund]`).textContent(), /Refund/);
  const tee2 = (await api(server, 'GET', `/products/${tee.id}`)).data;
  assert.equal(tee2.stock, 10, 'the returned units are back in stock');

  // Log out: the session is gone from this browser.
  await page.getByTestId('logout').click();
  await page.waitForURL(`${server.base}/`);
  assert.equal(await page.evaluate(() => localStorage.getItem('rm.session')), null);
  await context.close();
});
