// The OpenAPI contract, checked for real against the built binary:
//  1. the document served at GET /openapi.json is the repository's api/openapi.json and is a valid
//     OpenAPI 3.1 document (@seriousme/openapi-schema-validator), with the document-wide rules
//     (unique operationIds, security on every operation, the answers every route can give);
//  2. every documented operation, called without a token, answers 401 exactly when the document
//     says it needs one;
//  3. a whole journey (admin and buyer: signup, verify through the mail file, login, products,
//     likes, wishlist, cart, buy, holds, orders, cancel, return, admin order views and actions,
//     password change and reset, logout) and every error class (400, 401, 402, 403, 404, 405, 409,
//     413, 415, 422, 429, 431): each answer's status, headers and body are validated against the
//     operation's declared responses. An undeclared status, header or field fails the test.
// Run by CTest (tests/contract/CMakeLists.txt): node openapi_contract.mjs
import fs from "node:fs";
import path from "node:path";
import { request, exchange, parseResponse, header, json } from "./lib/http.mjs";
import { startServer, runBinary, mailTo, tokenFromLink, sourceDir, makeTempDir } from "./lib/server.mjs";
import { ContractChecker, documentRules } from "./lib/openapi_check.mjs";
import { load } from "./lib/deps.mjs";
import { selfTest } from "./checker_selftest.mjs";

const { default: Ajv2020 } = await load("ajv/dist/2020.js");
const { default: addFormats } = await load("ajv-formats");
const { Validator } = await load("@seriousme/openapi-schema-validator");

const failures = [];
let checks = 0;
function fail(message) {
  failures.push(message);
  console.log(`FAIL ${message}`);
}
function expect(condition, message) {
  ++checks;
  if (!condition) fail(message);
}

const PASSWORD = "correct horse battery staple";
const ADMIN_PASSWORD = "admin horse battery staple";

// One request, validated against the document; `expect` (a status) is checked too.
function client(port, checker) {
  return async function call(method, target, options = {}) {
    const headers = { ...(options.headers ?? {}) };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["Content-Type"] ??= "application/json";
    }
    const res = await request(port, method, target, { headers, body, rawHeaderLines: options.rawHeaderLines });
    ++checks;
    for (const p of checker.check(method, target, res)) fail(p);
    if (options.expect !== undefined) {
      expect(res.status === options.expect,
             `${method} ${target}: expected ${options.expect}, got ${res.status}: ${res.body.slice(0, 300)}`);
    }
    if (options.code !== undefined) {
      let code;
      try {
        code = JSON.parse(res.body)?.error?.code;
      } catch {}
      expect(code === options.code, `${method} ${target}: expected error ${options.code}, got ${res.status} ${res.body.slice(0, 300)}`);
    }
    if (res.status >= 200 && res.status < 300) {
      for (const p of checker.checkRequest(method, target, body)) fail(p);
    }
    return res;
  };
}

// Polls `fn` until it returns a truthy value (bounded); for work done after the answer (events).
async function eventually(what, fn, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) {
      fail(`timed out waiting for ${what}`);
      return v;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function iso(offsetMs) {
  return new Date(Date.now() + offsetMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// A data directory with a verified admin, made with the CLI before the server starts.
function prepareDataDir(adminEmail) {
  const dir = makeTempDir("rocketmart-contract-");
  const pw = path.join(dir, "admin-password");
  fs.writeFileSync(pw, ADMIN_PASSWORD, { mode: 0o600 });
  runBinary(["admin", "create", "--data-dir", dir, "--email", adminEmail, "--password-file", pw]);
  fs.rmSync(pw);
  return dir;
}

async function login(call, email, password) {
  const res = await call("POST", "/auth/login", { json: { email, password }, expect: 200 });
  return res.status === 200 ? json(res) : {};
}

// Signs up, confirms through the link in the mail file, logs in. Uses the POST confirmation when
// the document has one (the link then opens a page), else the link's GET.
async function registerBuyer(call, server, checker, email, { verify = true } = {}) {
  await call("POST", "/member/signup", {
    json: { email, password: PASSWORD, name: "Ann", phone: "+82 10-1234-5678", address: "Seoul" },
    expect: 202,
  });
  if (verify) {
    const token = tokenFromLink(await mailTo(server.dataDir, email, "/member/verify"), "/member/verify");
    if (checker.doc.paths["/member/verify"]?.post) {
      await call("POST", "/member/verify", { json: { token }, expect: 200 });
    } else {
      await call("GET", `/member/verify?token=${encodeURIComponent(token)}`, { expect: 200 });
    }
  }
  return login(call, email, PASSWORD);
}

// An admin-created product with an open sale whose stock checkout already holds.
async function productOnSale(call, admin, { stock = 20, price = 1000, limit = 5 } = {}) {
  const created = await call("POST", "/products", {
    token: admin,
    json: { name: `Contract sneaker ${Date.now()}`, description: "for the contract test", price, stock,
            imageUrl: "https://img.example/sneaker.png" },
    expect: 201,
  });
  const product = json(created);
  expect(header(created, "Location") === `/products/${product.id}`, `Location ${header(created, "Location")}`);
  await eventually("checkout to know the new product", async () => {
    const r = await call("PUT", `/payment/${product.id}/sale`, {
      token: admin, json: { startsAt: iso(-60000), endsAt: iso(3600000), perMemberLimit: limit },
    });
    return r.status === 200;
  });
  await eventually("the sale to be live", async () => {
    const r = await call("GET", `/payment/${product.id}/sale`, { expect: 200 });
    return json(r).state === "live";
  });
  return product.id;
}

async function documentChecks(port, sourceDoc) {
  const served = await request(port, "GET", "/openapi.json");
  expect(served.status === 200, `GET /openapi.json -> ${served.status}`);
  const doc = json(served);
  expect(JSON.stringify(doc) === JSON.stringify(sourceDoc),
         "the served document is not api/openapi.json (rebuild: the document is compiled in)");
  const result = await new Validator().validate(doc);
  ++checks;
  if (!result.valid) {
    fail(`api/openapi.json is not a valid OpenAPI 3.1 document: ${JSON.stringify(result.errors, null, 1).slice(0, 4000)}`);
  }
  for (const p of documentRules(doc)) fail(`document: ${p}`);
  return doc;
}

// Every operation without a token: 401 exactly when the document requires the bearer scheme.
// An operation whose path names its own server (GET /metrics: the admin listener) is called there.
async function securitySweep(server, checker) {
  const call = client(server.port, checker);
  const adminCall = client(server.adminPort, checker);
  for (const { method, template, op, item } of checker.operations()) {
    const target = template.replace(/\{[^}]+\}/g, "1");
    const res = await (item.servers ? adminCall : call)(method.toUpperCase(), target);
    const security = op.security ?? checker.doc.security ?? [];
    const needsToken = security.length > 0 && !security.some((r) => Object.keys(r).length === 0);
    expect(needsToken === (res.status === 401),
           `${method.toUpperCase()} ${template}: the document says ${needsToken ? "a token is required" : "security: []"} but without a token it answered ${res.status}`);
  }
}

async function journey(server, checker) {
  const call = client(server.port, checker);

  // Operators' routes.
  await call("GET", "/health", { expect: 200 });
  // /metrics lives on the admin listener (the path's `servers`), not on the public port.
  if (checker.doc.paths["/metrics"]) {
    await client(server.adminPort, checker)("GET", "/metrics", { expect: 200 });
  }

  const adminTokens = await login(call, "admin@example.com", ADMIN_PASSWORD);
  const admin = adminTokens.accessToken;
  const productId = await productOnSale(call, admin);
  await call("PUT", `/products/${productId}`, { token: admin, json: { description: "updated" }, expect: 200 });
  await call("POST", `/payment/${productId}/restock`, { token: admin, json: { quantity: 5 }, expect: 200 });
  const retired = json(await call("POST", "/products", { token: admin, json: { name: "Retired", price: 1, stock: 1 }, expect: 201 }));
  await call("DELETE", `/products/${retired.id}`, { token: admin, expect: 204 });

  // A buyer: signup, verification through the mail, login, refresh, profile.
  let tokens = await registerBuyer(call, server, checker, "ann@example.com");
  let buyer = tokens.accessToken;
  await call("POST", "/member/resend-verification", { json: { email: "ann@example.com" }, expect: 202 });
  tokens = json(await call("POST", "/auth/refresh", { json: { refreshToken: tokens.refreshToken }, expect: 200 }));
  buyer = tokens.accessToken;
  await call("GET", "/member/me", { token: buyer, expect: 200 });
  await call("PUT", "/member/update-profile", { token: buyer, json: { address: "Busan" }, expect: 200 });

  // Browsing.
  await call("GET", "/products", { expect: 200 });
  await call("GET", "/products?limit=1&sort=price", { token: buyer, expect: 200 });
  await call("GET", `/products?saleState=live&q=sneaker`, { expect: 200 });
  await call("GET", `/products/${productId}`, { expect: 200 });
  await call("GET", `/products/${productId}`, { token: buyer, expect: 200 });
  await call("GET", `/products/detail/${productId}`, { expect: 200 });
  await call("GET", `/payment/${productId}/sale`, { expect: 200 });

  // Likes, wishlist.
  await call("PUT", `/products/${productId}/like`, { token: buyer, expect: 200 });
  await call("GET", "/products/likes?limit=5", { token: buyer, expect: 200 });
  await call("POST", `/products/like/${productId}`, { token: buyer, expect: 200 });
  await call("POST", `/products/like/${productId}`, { token: buyer, expect: 200 });
  await call("DELETE", `/products/${productId}/like`, { token: buyer, expect: 200 });
  await call("POST", "/products/wishlist", { token: buyer, json: { productId, quantity: 2 }, expect: 200 });
  await call("GET", "/products/wishlist", { token: buyer, expect: 200 });
  await call("DELETE", `/products/wishlist/${productId}`, { token: buyer, expect: 204 });
  await call("POST", "/products/wishlist", { token: buyer, json: { productId }, expect: 200 });

  // Cart and its checkout (a retry with the same key is answered from the first).
  await call("PUT", `/cart/items/${productId}`, { token: buyer, json: { quantity: 2 }, expect: 200 });
  await call("DELETE", `/cart/items/${productId}`, { token: buyer, expect: 200 });
  await call("PUT", `/cart/items/${productId}`, { token: buyer, json: { quantity: 1 }, expect: 200 });
  await call("GET", "/cart", { token: buyer, expect: 200 });
  const cartKey = { "Idempotency-Key": "contract-cart-1" };
  const cartOrder = json(await call("POST", "/cart/checkout", { token: buyer, headers: cartKey, expect: 201 }));
  const replayedCart = await call("POST", "/cart/checkout", { token: buyer, headers: cartKey, expect: 201 });
  expect(header(replayedCart, "Idempotent-Replayed") === "true", "cart checkout retry is not marked Idempotent-Replayed");
  await call("POST", "/cart/checkout", { token: buyer, expect: 409, code: "CART_ALREADY_CHECKED_OUT" });
  await call("PUT", `/cart/items/${productId}`, { token: buyer, json: { quantity: 1 }, expect: 200 });
  await call("DELETE", "/cart", { token: buyer, expect: 204 });

  // Buy now, with its idempotency answers.
  const buyKey = { "Idempotency-Key": "contract-buy-1" };
  const paid = json(await call("POST", "/payment/request", { token: buyer, headers: buyKey, json: { productId, amount: 1 }, expect: 201 }));
  const replayed = await call("POST", "/payment/request", { token: buyer, headers: buyKey, json: { productId, amount: 1 }, expect: 201 });
  expect(header(replayed, "Idempotent-Replayed") === "true", "buy-now retry is not marked Idempotent-Replayed");
  await call("POST", "/payment/request", { token: buyer, headers: buyKey, json: { productId, amount: 2 }, expect: 422, code: "IDEMPOTENCY_KEY_REUSED" });

  // Holds: pay one, release another, release it again.
  const hold = json(await call("POST", "/payment/holds", { token: buyer, json: { productId, amount: 1 }, expect: 201 }));
  await call("POST", `/payment/holds/${hold.holdId}/pay`, { token: buyer, expect: 200 });
  const hold2 = json(await call("POST", "/payment/holds", { token: buyer, json: { productId, amount: 1 }, expect: 201 }));
  await call("DELETE", `/payment/holds/${hold2.holdId}`, { token: buyer, expect: 204 });
  await call("DELETE", `/payment/holds/${hold2.holdId}`, { token: buyer, expect: 409 });
  const hold3 = json(await call("POST", "/payment/holds", { token: buyer, json: { productId, amount: 1 }, expect: 201 }));
  await call("GET", "/payment/holds", { token: buyer, expect: 200 });
  await call("GET", "/payment/holds?limit=1", { token: buyer, expect: 200 });
  await call("DELETE", `/payment/holds/${hold3.holdId}`, { token: buyer, expect: 204 });

  // The per-member limit (5): 1 (cart) + 1 (buy) + 1 (hold) paid; 3 more is over it.
  await call("POST", "/payment/request", { token: buyer, json: { productId, amount: 3 }, expect: 409, code: "PURCHASE_LIMIT_REACHED" });

  // Orders: the member's list and one order, cancel (twice), return after delivery.
  await eventually("the paid orders to be listed", async () => {
    const r = await call("GET", "/order", { token: buyer, expect: 200 });
    return json(r).items?.length >= 3;
  });
  await call("GET", "/order?limit=1", { token: buyer, expect: 200 });
  await call("GET", `/order/${paid.orderId}`, { token: buyer, expect: 200 });
  await call("DELETE", `/order/${paid.orderId}`, { token: buyer, expect: 200 });
  await call("DELETE", `/order/${paid.orderId}`, { token: buyer, expect: 409, code: "ORDER_NOT_CANCELLABLE" });
  await call("POST", `/order/return/${cartOrder.orderId}`, { token: buyer, expect: 409 });

  // Operators on orders.
  await call("GET", "/admin/orders", { token: admin, expect: 200 });
  await call("GET", "/admin/orders?status=PAID&limit=2", { token: admin, expect: 200 });
  await call("GET", `/admin/orders?productId=${productId}`, { token: admin, expect: 200 });
  await call("GET", "/admin/orders?memberId=1&limit=5", { token: admin, expect: 200 });
  await call("GET", "/admin/members", { token: admin, expect: 200 });
  await call("GET", "/admin/members?q=ann&limit=1", { token: admin, expect: 200 });
  await call("GET", "/order?zzUnknown=1", { token: buyer, expect: 400, code: "VALIDATION_FAILED" });
  await call("POST", `/order/return/${cartOrder.orderId}`, { token: buyer, json: { x: 1 }, expect: 400, code: "VALIDATION_FAILED" });
  await call("GET", `/admin/orders/${cartOrder.orderId}`, { token: admin, expect: 200 });
  await call("POST", `/admin/orders/${cartOrder.orderId}/hold`, { token: admin, json: { reason: "address check" }, expect: 200 });
  await call("POST", `/admin/orders/${cartOrder.orderId}/release`, { token: admin, json: { reason: "address ok" }, expect: 200 });
  await call("POST", `/admin/orders/${cartOrder.orderId}/advance`, { token: admin, json: { reason: "shipped" }, expect: 200 });
  await call("POST", `/admin/orders/${cartOrder.orderId}/advance`, { token: admin, json: { reason: "delivered" }, expect: 200 });
  await call("POST", `/order/return/${cartOrder.orderId}`, { token: buyer, expect: 200 });
  await call("GET", `/admin/sales/${productId}/summary`, { token: admin, expect: 200 });
  await call("GET", "/admin/sales/987654321/summary", { token: admin, expect: 404, code: "NOT_FOUND" });

  // Account: my page, password change, reset through the mail, logout.
  await call("GET", "/member/mypage", { token: buyer, expect: 200 });
  const NEW_PASSWORD = "another horse battery staple";
  await call("PUT", "/member/update-password", { token: buyer, json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, expect: 204 });
  await call("POST", "/member/find-password", { json: { email: "ann@example.com" }, expect: 202 });
  const resetToken = tokenFromLink(await mailTo(server.dataDir, "ann@example.com", "/member/reset-password"), "/member/reset-password");
  await call("POST", "/member/reset-password", { json: { token: resetToken, newPassword: PASSWORD }, expect: 204 });
  tokens = await login(call, "ann@example.com", PASSWORD);
  await call("POST", "/auth/logout", { token: tokens.accessToken, json: { refreshToken: tokens.refreshToken }, expect: 204 });
  tokens = await login(call, "ann@example.com", PASSWORD);
  buyer = tokens.accessToken;

  // Every error class.
  // 400
  await call("GET", "/products?limit=abc", { expect: 400, code: "VALIDATION_FAILED" });
  await call("POST", "/payment/request", { token: buyer, json: { productId: "x", amount: 1 }, expect: 400, code: "VALIDATION_FAILED" });
  await call("POST", "/payment/request", { token: buyer, body: "{\"productId\":", headers: { "Content-Type": "application/json" }, expect: 400, code: "MALFORMED_JSON" });
  await call("GET", `/products/${"x".repeat(2100)}`, { expect: 400 });
  {
    const res = parseResponse(await exchange(server.port, "GARBAGE\r\n\r\n"));
    expect(res.status === 400, `a malformed request line answered ${res.status}`);
    try {
      for (const p of checker.checkShared("BadRequest", res)) fail(`malformed request: ${p}`);
    } catch (e) {
      fail(`malformed request: ${e.message}`);
    }
  }
  // 401
  await call("GET", "/cart", { expect: 401, code: "UNAUTHENTICATED" });
  await call("GET", "/cart", { token: "e30.e30.forged", expect: 401, code: "UNAUTHENTICATED" });
  // 403
  await call("POST", "/products", { token: buyer, json: { name: "x", price: 1, stock: 1 }, expect: 403, code: "FORBIDDEN" });
  const unverified = await registerBuyer(call, server, checker, "bo@example.com", { verify: false });
  await call("POST", "/payment/request", { token: unverified.accessToken, json: { productId, amount: 1 }, expect: 403, code: "EMAIL_NOT_VERIFIED" });
  // 404
  await call("GET", "/products/987654321", { expect: 404, code: "NOT_FOUND" });
  await call("GET", "/order/987654321", { token: buyer, expect: 404, code: "NOT_FOUND" });
  await call("GET", "/no/such/route", { expect: 404, code: "NOT_FOUND" });
  // 405
  await call("PATCH", `/products/${productId}`, { token: admin, expect: 405, code: "METHOD_NOT_ALLOWED" });
  await call("DELETE", "/products", { expect: 405, code: "METHOD_NOT_ALLOWED" });
  await call("GET", "/payment/request", { expect: 405, code: "METHOD_NOT_ALLOWED" });
  // 409
  await call("POST", "/payment/request", { token: buyer, json: { productId: retired.id, amount: 1 } });
  // 413: a declared length over the route's limit is refused before the body is read.
  await call("POST", "/payment/request", { token: buyer, json: { productId, amount: 1, pad: " ".repeat(20 * 1024) }, expect: 413, code: "PAYLOAD_TOO_LARGE" });
  await call("POST", "/products", { token: admin, body: "x".repeat(70 * 1024), headers: { "Content-Type": "application/json" }, expect: 413, code: "PAYLOAD_TOO_LARGE" });
  // 415
  await call("POST", "/products", { token: admin, body: "name=x", headers: { "Content-Type": "text/plain" }, expect: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
  await call("POST", "/auth/login", { body: "{}", expect: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
  // 431
  await call("GET", "/products", { rawHeaderLines: [`X-Big: ${"h".repeat(9000)}`], expect: 431, code: "HEADERS_TOO_LARGE" });
  // The caller's request id comes back.
  const withId = await call("GET", "/health", { headers: { "X-Request-Id": "contract-rid-1" }, expect: 200 });
  expect(header(withId, "X-Request-Id") === "contract-rid-1", `X-Request-Id not echoed: ${header(withId, "X-Request-Id")}`);
  // 429, last: the per-address mail limit (3 in this server's configuration).
  let limited;
  for (let i = 0; i < 6 && !limited; ++i) {
    const r = await call("POST", "/member/resend-verification", { json: { email: "bo@example.com" } });
    if (r.status === 429) limited = r;
  }
  expect(limited !== undefined, "resend-verification never answered 429");
  await call("POST", "/auth/logout-all", { token: buyer, expect: 204 });
}

// A declined payment (402) needs a provider that declines: a second server.
async function declinedPayment(checker) {
  const dataDir = prepareDataDir("admin@example.com");
  const server = await startServer({ dataDir, env: { ROCKETMART_PAYMENT_DECLINE_PERCENT: "100" } });
  try {
    const call = client(server.port, checker);
    const admin = (await login(call, "admin@example.com", ADMIN_PASSWORD)).accessToken;
    const productId = await productOnSale(call, admin);
    const buyer = (await registerBuyer(call, server, checker, "cy@example.com")).accessToken;
    await call("POST", "/payment/request", { token: buyer, json: { productId, amount: 1 }, expect: 402, code: "PAYMENT_DECLINED" });
    const hold = json(await call("POST", "/payment/holds", { token: buyer, json: { productId, amount: 1 }, expect: 201 }));
    await call("POST", `/payment/holds/${hold.holdId}/pay`, { token: buyer, expect: 402, code: "PAYMENT_DECLINED" });
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  for (const p of await selfTest()) fail(p);
  const sourceDoc = JSON.parse(fs.readFileSync(path.join(sourceDir(), "api/openapi.json"), "utf8"));
  const dataDir = prepareDataDir("admin@example.com");
  const server = await startServer({ dataDir, env: { ROCKETMART_MEMBERS_MAILS_PER_IP_PER_HOUR: "3" } });
  let checker;
  try {
    const doc = await documentChecks(server.port, sourceDoc);
    checker = new ContractChecker(doc, { Ajv2020, addFormats });
    await securitySweep(server, checker);
    await journey(server, checker);
  } catch (e) {
    fail(`stopped early: ${e.stack ?? e}`);
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (checker) {
    try {
      await declinedPayment(checker);
    } catch (e) {
      fail(`declined-payment server: ${e.stack ?? e}`);
    }
    // What the journey exercised, per operation (the security sweep covers every one).
    const untested = checker.operations().filter(({ method, template }) => {
      const statuses = checker.seen.get(`${method.toUpperCase()} ${template}`) ?? new Set();
      return ![...statuses].some((s) => s >= 200 && s < 300);
    });
    for (const { method, template } of untested) {
      console.log(`NOTE no successful answer of ${method.toUpperCase()} ${template} was checked; add it to the journey`);
    }
  }
  console.log(`${checks} checks, ${failures.length} failures`);
  process.exit(failures.length === 0 ? 0 : 1);
}

await main();
