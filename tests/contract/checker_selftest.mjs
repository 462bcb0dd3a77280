// The contract checker must be able to fail: synthetic answers that break the document in each
// way it checks are reported, and a conforming one is not. Runs before the live test.
import fs from "node:fs";
import path from "node:path";
import { ContractChecker, documentRules } from "./lib/openapi_check.mjs";
import { load } from "./lib/deps.mjs";
import { sourceDir } from "./lib/server.mjs";

const { default: Ajv2020 } = await load("ajv/dist/2020.js");
const { default: addFormats } = await load("ajv-formats");

export async function selfTest() {
  const doc = JSON.parse(fs.readFileSync(path.join(sourceDir(), "api/openapi.json"), "utf8"));
  const checker = new ContractChecker(doc, { Ajv2020, addFormats });
  const problems = [];
  const ok = (headers = {}) => ({ "content-type": ["application/json"], "x-request-id": ["1-0-1"], ...headers });
  const health = (over) => ({ status: 200, headers: ok(), body: '{"status":"ok","stores":{"catalog":"ok"}}', ...over });
  const error = (code, status, headers = {}) => ({ status, headers: ok(headers), body: JSON.stringify({ error: { code, message: "m" } }) });
  const cases = [
    // [what, method, target, response, expect problems?]
    ["a conforming answer", "GET", "/health", health(), false],
    ["an undeclared status", "GET", "/health", health({ status: 418 }), true],
    ["a missing required header", "GET", "/health", health({ headers: { "content-type": ["application/json"] } }), true],
    ["an undeclared header", "GET", "/health", health({ headers: ok({ "x-debug": ["1"] }) }), true],
    ["an undeclared body field", "GET", "/health", health({ body: '{"status":"ok","stores":{},"extra":1}' }), true],
    ["a wrong value", "GET", "/health", health({ body: '{"status":"bad","stores":{}}' }), true],
    ["an undeclared content type", "GET", "/health", health({ headers: ok({ "content-type": ["text/html"] }) }), true],
    ["a body that is not JSON", "GET", "/health", health({ body: "ok" }), true],
    ["a body where none is declared", "DELETE", "/cart", { status: 204, headers: ok(), body: "x" }, true],
    ["a bodiless 204", "DELETE", "/cart", { status: 204, headers: { "x-request-id": ["r"] }, body: "" }, false],
    ["an unknown error code", "GET", "/products/1", error("NOPE", 404), true],
    ["a 404 error", "GET", "/products/1", error("NOT_FOUND", 404), false],
    ["a 405 for a method the path lacks", "PATCH", "/products/1", error("METHOD_NOT_ALLOWED", 405, { allow: ["GET, PUT, DELETE"] }), false],
    ["a 405 without Allow", "PATCH", "/products/1", error("METHOD_NOT_ALLOWED", 405), true],
    ["another status for a method the path lacks", "PATCH", "/products/1", error("NOT_FOUND", 404), true],
    ["a 429 without Retry-After", "POST", "/member/signup", error("RATE_LIMITED", 429), true],
    ["a 429 with Retry-After", "POST", "/member/signup", error("RATE_LIMITED", 429, { "retry-after": ["60"] }), false],
    ["an unmatched path that is not 404", "GET", "/nope", health(), true],
    ["a literal segment beats a parameter", "GET", "/products/wishlist", { status: 200, headers: ok(), body: '{"status":"ok"}' }, true],
  ];
  for (const [what, method, target, res, bad] of cases) {
    const found = checker.check(method, target, res);
    if (bad && found.length === 0) problems.push(`checker self-test: ${what} was not reported`);
    if (!bad && found.length > 0) problems.push(`checker self-test: ${what} was reported: ${found.join(" | ")}`);
  }
  // Document rules: a missing operationId, a duplicate one, an operation without 431.
  const broken = JSON.parse(JSON.stringify(doc));
  delete broken.paths["/health"].get.operationId;
  broken.paths["/products"].get.operationId = broken.paths["/cart"].get.operationId;
  delete broken.paths["/cart"].get.responses["431"];
  const rules = documentRules(broken).join("\n");
  for (const needle of ["GET /health: no operationId", "is also used by", "GET /cart: does not declare 431"]) {
    if (!rules.includes(needle)) problems.push(`checker self-test: document rule not reported: ${needle}`);
  }
  return problems;
}
