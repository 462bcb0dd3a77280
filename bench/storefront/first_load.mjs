// The drop page's first load on loopback: from navigation to a usable (enabled) buy button, in a
// fresh browser profile each time (nothing cached), then once more with the cache warm. Logged
// in as a verified member on a live drop. Usage: node first_load.mjs BASE_URL PRODUCT_ID SESSION_JSON [runs]
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [base, productId, sessionJson, runsArg = '10'] = process.argv.slice(2);
const require = createRequire(join(process.cwd(), 'tests/browser/package.json'));
const { chromium } = require('playwright-core');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: ARGS });
const cold = [];
const warm = [];
let bytes = 0;
for (let i = 0; i < Number(runsArg); i++) {
  const context = await browser.newContext({ baseURL: base });
  await context.addInitScript((s) => localStorage.setItem('rm.session', s), sessionJson);
  const page = await context.newPage();
  let transferred = 0;
  page.on('response', async (r) => {
    const len = Number(r.headers()['content-length'] ?? 0);
    if (r.url().includes('/assets/') || r.url().endsWith(`/drop/${productId}`)) transferred += len;
  });
  for (const [bucket, label] of [[cold, 'cold'], [warm, 'warm']]) {
    await page.goto(`/drop/${productId}`, { waitUntil: 'commit' });
    await page.locator('[data-testid=buy]:not([disabled])').waitFor({ timeout: 15_000 });
    // Navigation start to now, on the page's own clock.
    bucket.push(await page.evaluate(() => performance.now()));
    if (label === 'cold') bytes = transferred;
  }
  await context.close();
}
await browser.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = {
  runs: cold.length,
  cold_median_ms: +median(cold).toFixed(0),
  cold_max_ms: +Math.max(...cold).toFixed(0),
  warm_median_ms: +median(warm).toFixed(0),
  page_bytes_transferred: bytes,
};
console.log(`drop page to a usable buy button: cold ${result.cold_median_ms} ms median (max ${result.cold_max_ms}), warm cache ${result.warm_median_ms} ms; ${bytes} bytes on a cold load`);
console.log(`RESULT ${JSON.stringify(result)}`);
