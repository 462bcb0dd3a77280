// Checks live HTTP answers against an OpenAPI 3.1 document: the status must be declared by the
// operation (an undeclared status is a failure), every declared header with required: true must be
// present, every header present must be declared (apart from HTTP framing headers) and match its
// schema, the Content-Type must be one the response declares, and the body must validate against
// the declared schema with ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1). Response objects
// are closed for the check: a field the server sends that the schema does not declare fails.

// Framing and transport headers every answer may carry; anything else must be declared.
const FRAMING_HEADERS = new Set(["content-type", "content-length", "connection", "keep-alive",
                                 "transfer-encoding", "date", "server"]);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const BASE = "urn:rocketmart:openapi";

function pointer(doc, ref) {
  if (!ref.startsWith("#/")) throw new Error(`only local $ref are supported: ${ref}`);
  return ref.slice(2).split("/").reduce((node, key) => {
    const k = key.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === undefined || !(k in node)) throw new Error(`unresolved $ref ${ref}`);
    return node[k];
  }, doc);
}

function deref(doc, node) {
  let n = node;
  for (let i = 0; n && n.$ref && i < 10; ++i) n = pointer(doc, n.$ref);
  return n;
}

// A copy of `schema` with $refs pointing into the registered document and objects closed.
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/")) out[k] = BASE + v;
    else if (k === "properties" || k === "patternProperties" || k === "$defs") {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, closed(s)]));
    } else if (["example", "examples", "const", "enum", "default"].includes(k)) out[k] = v;
    else out[k] = closed(v);
  }
  if (out.properties && !("additionalProperties" in out) && !("unevaluatedProperties" in out)) {
    out.additionalProperties = false;
  }
  return out;
}

function mediaType(value) {
  return (value ?? "").split(";")[0].trim().toLowerCase();
}

export class ContractChecker {
  // deps: {Ajv2020, addFormats} (the default exports of ajv/dist/2020 and ajv-formats)
  constructor(doc, { Ajv2020, addFormats }) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: BASE, components: { schemas: closed(doc.components?.schemas ?? {}) } });
    this.cache = new Map();
    // Path templates, most specific first: a literal segment beats a parameter, as in the router.
    this.paths = Object.keys(doc.paths).map((template) => {
      const segments = template.split("/").slice(1);
      const regex = new RegExp("^/" + segments.map((s) => (/^\{.+\}$/.test(s) ? "[^/]+" : s.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))).join("/") + "$");
      return { template, segments, regex };
    });
    this.paths.sort((a, b) => {
      for (let i = 0; i < Math.min(a.segments.length, b.segments.length); ++i) {
        const pa = a.segments[i].startsWith("{"), pb = b.segments[i].startsWith("{");
        if (pa !== pb) return pa ? 1 : -1;
      }
      return 0;
    });
    this.seen = new Map();  // "METHOD template" -> Set of statuses checked
  }

  // {template, item} for a concrete path (query string ignored), or undefined.
  matchPath(target) {
    const p = target.split("?")[0];
    const found = this.paths.find((entry) => entry.regex.test(p));
    return found && { template: found.template, item: this.doc.paths[found.template] };
  }

  operations() {
    const out = [];
    for (const [template, item] of Object.entries(this.doc.paths)) {
      for (const method of METHODS) {
        if (item[method]) out.push({ method, template, op: item[method], item });
      }
    }
    return out;
  }

  validator(schema) {
    const key = JSON.stringify(schema);
    let v = this.cache.get(key);
    if (!v) {
      v = this.ajv.compile(closed(schema));
      this.cache.set(key, v);
    }
    return v;
  }

  // Returns a list of problems (empty = the answer is what the document says).
  check(method, target, res) {
    const where = `${method} ${target} -> ${res.status}`;
    const match = this.matchPath(target);
    let response;
    if (!match) {
      // No route: the server's own 404, in the document's error shape.
      if (res.status !== 404) return [`${where}: path not in the document, expected 404`];
      response = { description: "unmatched route", headers: { "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" } }, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
      this.note("(unmatched)", res.status);
    } else {
      const op = match.item[method.toLowerCase()];
      let declared;
      if (op) {
        declared = op.responses?.[String(res.status)] ?? op.responses?.[`${String(res.status)[0]}XX`] ?? op.responses?.default;
        if (!declared) {
          return [`${where}: status ${res.status} is not declared for ${method} ${match.template} (declared: ${Object.keys(op.responses ?? {}).join(", ")}); body: ${res.body.slice(0, 300)}`];
        }
        this.note(`${method} ${match.template}`, res.status);
      } else {
        // A method the path does not have: the server answers 405 for the whole path; some
        // operation of the path must declare that answer.
        const sibling = METHODS.map((m) => match.item[m]).find((o) => o?.responses?.["405"]);
        if (res.status !== 405 || !sibling) {
          return [`${where}: ${method} is not an operation of ${match.template}; expected a 405 declared by the path's operations`];
        }
        declared = sibling.responses["405"];
        this.note(`${method} ${match.template} (405)`, res.status);
      }
      response = deref(this.doc, declared);
    }

    return this.checkResponse(where, response, res);
  }

  // The server's own answer outside any operation (a malformed request): `name` is a
  // components.responses entry.
  checkShared(name, res) {
    return this.checkResponse(`(${name}) -> ${res.status}`, { $ref: `#/components/responses/${name}` }, res);
  }

  checkResponse(where, declared, res) {
    const problems = [];
    const response = deref(this.doc, declared);
    // Headers.
    const declaredHeaders = {};
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      declaredHeaders[name.toLowerCase()] = { name, header: deref(this.doc, h) };
    }
    for (const [lower, { name, header }] of Object.entries(declaredHeaders)) {
      const values = res.headers[lower];
      if (!values) {
        if (header.required) problems.push(`${where}: required header ${name} is missing`);
        continue;
      }
      if (values.length > 1) problems.push(`${where}: header ${name} sent ${values.length} times`);
      if (header.schema) {
        const v = this.validator(header.schema);
        if (!v(values[0])) problems.push(`${where}: header ${name}: ${JSON.stringify(values[0])} ${this.ajv.errorsText(v.errors)}`);
      }
    }
    for (const lower of Object.keys(res.headers)) {
      if (!FRAMING_HEADERS.has(lower) && !declaredHeaders[lower]) {
        problems.push(`${where}: header ${lower} is sent but not declared for this response`);
      }
    }

    // Body.
    const content = response.content;
    if (!content || Object.keys(content).length === 0) {
      if (res.body.length > 0) problems.push(`${where}: the response declares no content but has a body: ${res.body.slice(0, 200)}`);
      return problems;
    }
    const type = mediaType(res.headers["content-type"]?.[0]);
    const media = Object.entries(content).find(([t]) => mediaType(t) === type);
    if (!media) {
      problems.push(`${where}: Content-Type ${type || "(none)"} is not declared (declared: ${Object.keys(content).join(", ")})`);
      return problems;
    }
    const schema = media[1].schema;
    if (!schema) return problems;
    let body = res.body;
    if (type === "application/json" || type.endsWith("+json")) {
      try {
        body = JSON.parse(res.body);
      } catch {
        problems.push(`${where}: body is not JSON: ${res.body.slice(0, 200)}`);
        return problems;
      }
    }
    const v = this.validator(schema);
    if (!v(body)) {
      problems.push(`${where}: body does not match the schema: ${this.ajv.errorsText(v.errors, { separator: "; " })}; body: ${res.body.slice(0, 400)}`);
    }
    return problems;
  }

  // Problems with a request body the server accepted (2xx) that the document would refuse: the
  // documented input must admit what the server takes.
  checkRequest(method, target, body) {
    const match = this.matchPath(target);
    const op = match?.item[method.toLowerCase()];
    const schema = op && deref(this.doc, op.requestBody ?? {})?.content?.["application/json"]?.schema;
    if (!schema || body === undefined || body === "") return [];
    let value;
    try {
      value = JSON.parse(body);
    } catch {
      return [];
    }
    const v = this.validator(schema);
    return v(value) ? [] : [`${method} ${target}: the server accepted a body the document refuses: ${this.ajv.errorsText(v.errors)}`];
  }

  note(key, status) {
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key).add(status);
  }
}

// Document-wide rules the validator package does not check.
export function documentRules(doc) {
  const problems = [];
  const ids = new Map();
  const rootSecurity = doc.security;
  const schemes = Object.keys(doc.components?.securitySchemes ?? {});
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = `${method.toUpperCase()} ${template}`;
      if (!op.operationId) problems.push(`${name}: no operationId`);
      else if (ids.has(op.operationId)) problems.push(`${name}: operationId ${op.operationId} is also used by ${ids.get(op.operationId)}`);
      else ids.set(op.operationId, name);
      const security = op.security ?? rootSecurity;
      if (!Array.isArray(security)) problems.push(`${name}: no security (neither its own nor the document's)`);
      for (const requirement of security ?? []) {
        for (const scheme of Object.keys(requirement)) {
          if (!schemes.includes(scheme)) problems.push(`${name}: unknown security scheme ${scheme}`);
        }
      }
      const statuses = Object.keys(op.responses ?? {});
      for (const must of ["400", "405", "413", "431"]) {
        if (!statuses.includes(must)) problems.push(`${name}: does not declare ${must}, which the server answers on every route`);
      }
      if (security?.length > 0 && !statuses.includes("401")) problems.push(`${name}: protected but does not declare 401`);
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        const resolved = deref(doc, r);
        const headers = Object.keys(resolved?.headers ?? {});
        if (!headers.includes("X-Request-Id")) problems.push(`${name} ${status}: does not declare X-Request-Id, which every answer carries`);
        if (status === "405" && !headers.includes("Allow")) problems.push(`${name} 405: does not declare Allow`);
        if (status === "429" && !headers.includes("Retry-After")) problems.push(`${name} 429: does not declare Retry-After`);
      }
    }
  }
  return problems;
}
