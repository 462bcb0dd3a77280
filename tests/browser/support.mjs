// Shared pieces of the browser tests: the real rocketmart binary on a free port with a fresh data
// directory, real members (signup, the verification mail read from the mail folder, login),
// Debian's chromium driven by playwright-core, and axe-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
export const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = join(here, '..', '..');

export function binaryPath() {
  const bin = process.env.ROCKETMART_BINARY;
  if (!bin) throw new Error('ROCKETMART_BINARY is not set (CTest sets it; or point it at build/rocketmart)');
  return bin;
}

/** Starts `rocketmart serve` on port 0; resolves once it prints the port. */
export async function startServer({ env = {}, seed = false, before } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'rocketmart-browser-'));
  if (before) await before(dataDir);
  const child = spawn(binaryPath(), ['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dataDir, 'data')], {
    env: {
      ...process.env,
      ROCKETMART_DEMO_SEED: seed ? 'true' : 'false',
      ROCKETMART_LOG_ACCESS_LOG: 'false',
      ROCKETMART_MEMBERS_SIGNUPS_PER_IP_PER_HOUR: '10000',
      ROCKETMART_MEMBERS_MAILS_PER_IP_PER_HOUR: '10000',
      ROCKETMART_MEMBERS_HASH_THREADS: '2',
      ROCKETMART_SERVER_ADMIN_PORT: '0', // tests run side by side: a free port each
      ...env,
    },
    stdio: ['ignore', 'pipe', process.env.ROCKETMART_BROWSER_SERVER_LOGS ? 'inherit' : 'ignore'],
  });
  const port = await new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${seen}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = /rocketmart listening on http:\/\/[^:]+:(\d+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) during start: ${seen}`)));
  });
  child.stdout.resume();
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    dataDir: join(dataDir, 'data'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A JSON request to the API; throws on a non-2xx answer unless `expect` allows it. */
export async function api(server, method, path, { body, token, headers = {}, ok = true } = {}) {
  const res = await fetch(server.base + path, {
    method,
    headers: {
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (ok && !res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return { status: res.status, data, headers: res.headers };
}

/** The verification (or reset) token from the newest mail to `email` in the mail folder. */
export async function mailToken(server, email, { timeoutMs = 10_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  const dir = join(server.dataDir, 'mail');
  for (;;) {
    let files = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().reverse();
    } catch {
      // no mail yet
    }
    for (const f of files) {
      const raw = readFileSync(join(dir, f), 'utf8');
      if (!new RegExp(`^To: ${email.replace(/[.+]/g, '\\$&')}\\s*$`, 'm').test(raw)) continue;
      // Bodies are base64 parts (runs of base64 lines); the first one is text/plain.
      const runs = [];
      let run = '';
      for (const line of raw.split(/\r?\n/)) {
        if (/^[A-Za-z0-9+/]+={0,2}$/.test(line) && line.length >= 4) run += line;
        else if (run) (runs.push(run), (run = ''));
      }
      if (run) runs.push(run);
      for (const r of runs) {
        const m = /token=([A-Za-z0-9_-]+)/.exec(Buffer.from(r, 'base64').toString('utf8'));
        if (m) return m[1];
      }
    }
    if (Date.now() > deadline) throw new Error(`no mail with a token for ${email}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A verified member created through the public API (signup, the mailed token, login). */
export async function createMember(server, email, password = 'correct horse battery 1', name = 'Tester') {
  await api(server, 'POST', '/member/signup', { body: { email, password, name } });
  const token = await mailToken(server, email);
  const verified = await api(server, 'POST', '/member/verify', { body: { token }, ok: false });
  if (verified.status === 405) await api(server, 'GET', `/member/verify?token=${token}`);
  else if (verified.status >= 300) throw new Error(`verify -> ${verified.status}`);
  const login = await api(server, 'POST', '/auth/login', { body: { email, password } });
  return { email, password, tokens: login.data };
}

/** A verified admin, created with `rocketmart admin create` before the server starts. */
export function createAdminBeforeStart(dataDir, email, password) {
  mkdirSync(join(dataDir, 'data'), { recursive: true });
  const file = join(dataDir, 'admin-password');
  writeFileSync(file, password + '\n');
  execFileSync(binaryPath(), ['admin', 'create', '--email', email, '--password-file', file, '--data-dir', join(dataDir, 'data')]);
}

export async function login(server, email, password) {
  return (await api(server, 'POST', '/auth/login', { body: { email, password } })).data;
}

/** A product with a sale window [now + startsInMs, now + 1 h). */
export async function createDrop(server, adminToken, { name = 'Comet Jacket', price = 259000, stock = 5, startsInMs = 3000, limit = 1 } = {}) {
  const product = (await api(server, 'POST', '/products', { token: adminToken, body: { name, price, stock, description: 'A limited drop.' } })).data;
  const now = (await api(server, 'GET', '/time')).data.epochMs;
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const startsAt = Math.ceil((now + startsInMs) / 1000) * 1000;
  await api(server, 'PUT', `/payment/${product.id}/sale`, {
    token: adminToken,
    body: { startsAt: iso(startsAt), endsAt: iso(startsAt + 3_600_000), perMemberLimit: limit },
  });
  // The stock reaches checkout through an event (milliseconds): wait until the sale is not preparing.
  for (let i = 0; i < 100; i++) {
    const sale = (await api(server, 'GET', `/payment/${product.id}/sale`)).data;
    if (sale.state !== 'preparing') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ...product, startsAt };
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's chromium. Playwright gives it a fresh temporary --user-data-dir and removes it after. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

/** A browser context logged in as `tokens` (the session the pages keep in localStorage). */
export async function loggedInContext(browser, server, tokens, options = {}) {
  const context = await browser.newContext({ baseURL: server.base, locale: 'en-US', ...options });
  if (tokens) {
    const claims = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1], 'base64url').toString());
    const session = {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: Date.now() + tokens.expiresIn * 1000,
      memberId: Number(claims.sub),
      role: claims.role === 'admin' ? 'admin' : 'user',
      emailVerified: claims.email_verified === true,
    };
    await context.addInitScript((s) => {
      if (!localStorage.getItem('rm.session')) localStorage.setItem('rm.session', s);
    }, JSON.stringify(session));
  }
  return context;
}

/**
 * Makes every page of `context` note, by its own clock, when its live stock last turned to each
 * figure (a unit given back and sold again moves the time of 0 on). A MutationObserver on the page
 * takes the time of the DOM change itself, not of a test's poll noticing it (Playwright's waits
 * back off to 500 ms between looks, and twenty pages share one DevTools pipe). The clock is
 * performance.timeOrigin + performance.now(), the base Resource Timing uses too, untouched by a
 * page whose Date.now is shifted (browser_drop's slow device clock).
 */
export async function recordStockShown(context) {
  await context.addInitScript(() => {
    const shownAt = (window.__stockShownAt = {});
    let last = null;
    const look = () => {
      const figure = document.querySelector('[data-testid=stock]')?.getAttribute('data-stock');
      if (figure && figure !== last) shownAt[figure] = performance.timeOrigin + performance.now();
      last = figure ?? last;
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-stock'] });
  });
}

/**
 * Makes every page of `context` note, by its own clock (as recordStockShown), each text its sale
 * countdown showed, in order: a test can then ask what a page showed without having polled it at
 * that moment (a countdown of seconds may be gone before a busy DevTools pipe looks).
 */
export async function recordCountdownShown(context) {
  await context.addInitScript(() => {
    const shown = (window.__countdownShown = []);
    const look = () => {
      const text = document.querySelector('[data-testid=countdown]')?.textContent;
      if (text && text !== shown.at(-1)?.text) shown.push({ text, at: performance.timeOrigin + performance.now() });
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
  });
}

/** When `page`'s countdown first showed a text matching `pattern` (see recordCountdownShown), waiting until it has. */
export async function countdownShownAt(page, pattern, { timeout = 30_000 } = {}) {
  const handle = await page.waitForFunction(
    (source) => window.__countdownShown?.find((s) => new RegExp(source).test(s.text))?.at ?? false,
    pattern.source,
    { timeout },
  );
  return handle.jsonValue();
}

/** When `page`'s live stock last turned to `figure` (see recordStockShown), waiting until it has. */
export async function stockShownAt(page, figure, { timeout = 30_000 } = {}) {
  const handle = await page.waitForFunction((f) => window.__stockShownAt?.[f] ?? false, String(figure), { timeout });
  return handle.jsonValue();
}

/** When each purchase answered 201 reached `page`, by the page's clock (Resource Timing). */
export function purchasesAnsweredAt(page) {
  return page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((e) => new URL(e.name).pathname === '/payment/request' && e.responseStatus === 201)
      .map((e) => performance.timeOrigin + e.responseEnd),
  );
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core on the page as it is now; returns the serious and critical violations. */
export async function seriousViolations(page) {
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) stays in force.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }),
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually(fn, { timeoutMs = 5000, intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}: ${last}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
