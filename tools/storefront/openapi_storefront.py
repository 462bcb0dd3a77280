#!/usr/bin/env python3
"""Adds (or refreshes) the storefront's routes in api/openapi.json. Idempotent; keeps the file's
formatting (indent 1, ASCII escapes). Run from the repository root after changing the routes in
src/services/storefront/adapters/http_routes.*"""
import json

PATH = "api/openapi.json"
ERR = {"$ref": "#/components/responses/Error"}
# What the server itself answers on every route.
COMMON = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "405": {"$ref": "#/components/responses/MethodNotAllowed"},
    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
    "431": {"$ref": "#/components/responses/HeadersTooLarge"},
    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
}
REQUEST_ID = {"$ref": "#/components/headers/X-Request-Id"}


def text_header(description, const=None, required=True):
    schema = {"type": "string"}
    if const:
        schema["const"] = const
    return {"description": description, "required": required, "schema": schema}


def file_headers(cache_control, page):
    h = {
        "X-Request-Id": REQUEST_ID,
        "Cache-Control": text_header("How long the file may be kept", cache_control),
        "ETag": text_header("The file's version (If-None-Match answers 304)"),
        "Vary": text_header("The answer depends on Accept-Encoding", "Accept-Encoding"),
        "X-Content-Type-Options": {"$ref": "#/components/headers/X-Content-Type-Options"},
    }
    if page:
        h["Content-Security-Policy"] = text_header("Own origin only, no inline script")
        h["Referrer-Policy"] = text_header("No referrer leaves the shop", "no-referrer")
        h["X-Frame-Options"] = {"$ref": "#/components/headers/X-Frame-Options"}
    return h


def with_common(responses):
    out = dict(COMMON)
    out.update(responses)
    return dict(sorted(out.items()))
PAGES = ["/", "/drop/{id}", "/shop", "/shop/{id}", "/account", "/account/{page}", "/operator",
         "/operator/{page}", "/operator/{page}/{id}"]


def path_params(path):
    out = []
    for seg in path.split("/"):
        if seg.startswith("{"):
            name = seg[1:-1]
            schema = {"type": "integer", "minimum": 1} if name == "id" else {"type": "string"}
            out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def page(path):
    op = {
        "summary": "Storefront page (the single-page app's index.html)",
        "operationId": "page" + ("".join(s.strip("{}").title() for s in path.split("/")) or "Home"),
        "tags": ["storefront"],
        "security": [],
        "description": "Every page path answers the same index.html (no-cache, ETag, "
                       "Content-Security-Policy); the page routes itself in the browser and reads "
                       "its own query (?token=, ?next=, ?q=...), so any query is accepted "
                       "(x-any-query). 503 UNAVAILABLE when the binary runs without its built "
                       "storefront.",
        "x-any-query": True,
        "responses": with_common({
            "200": {"description": "The page", "headers": file_headers("no-cache", True),
                    "content": {"text/html": {"schema": {"type": "string"}}}},
            "304": {"description": "Not modified (If-None-Match)", "headers": {
                k: v for k, v in file_headers("no-cache", True).items()
                if k in ("X-Request-Id", "Cache-Control", "ETag", "Vary", "X-Content-Type-Options",
                         "Content-Security-Policy", "Referrer-Policy", "X-Frame-Options")}},
        }),
    }
    params = path_params(path)
    if params:
        op["parameters"] = params
    return {"get": op}


def stream(op_id, summary, extra_params):
    params = extra_params + [
        {"name": "lastEventId", "in": "query", "required": False,
         "description": "Resume after this event id (browsers send the Last-Event-ID header instead).",
         "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}},
        {"name": "Last-Event-ID", "in": "header", "required": False,
         "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}},
    ]
    return {"get": {
        "summary": summary,
        "operationId": op_id,
        "tags": ["storefront"],
        "security": [],
        "parameters": params,
        "description": "Server-Sent Events (text/event-stream, chunked). First `retry: 2000`, then "
                       "one `stock` event per product with its current figures, then an event "
                       "whenever a product's units or sale state change (at most one look per "
                       "storefront.stream_interval_ms), and a comment line every "
                       "storefront.stream_heartbeat_s. Each event: `id: <n>`, `event: stock`, "
                       "`data: {\"productId\":1,\"stock\":3,\"state\":\"live\",\"startsAt\":\"...\","
                       "\"endsAt\":\"...\"}` (stock null while the sale is preparing; the window "
                       "only when there is a sale, so a moved window moves every countdown; the "
                       "state turns live/ended at the window's edges without a purchase). With Last-Event-ID only the products that changed "
                       "after that id are sent first; an id from before a restart resumes nothing "
                       "and everything is sent. Past storefront.max_streams open streams: 503 "
                       "OVERLOADED with Retry-After.",
        "responses": with_common({
            "200": {"description": "The event stream",
                    "headers": {"X-Request-Id": REQUEST_ID,
                                "Cache-Control": {"$ref": "#/components/headers/Cache-Control"},
                                "X-Accel-Buffering": text_header("Proxies must not buffer it", "no")},
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "404": {"$ref": "#/components/responses/NotFound"},
        }),
    }}


doc = json.load(open(PATH))
paths = doc["paths"]
paths["/time"] = {"get": {
    "summary": "Server time (the drop page's countdown is corrected by it)",
    "operationId": "getServerTime",
    "tags": ["storefront"],
    "security": [],
    "responses": with_common({"200": {"description": "Now, on the server's clock",
                          "headers": {"X-Request-Id": REQUEST_ID,
                                      "Cache-Control": {"$ref": "#/components/headers/Cache-Control"}},
                          "content": {"application/json": {"schema": {
                              "type": "object", "required": ["now", "epochMs"],
                              "properties": {"now": {"type": "string", "format": "date-time"},
                                             "epochMs": {"type": "integer", "format": "int64"}}}}}}}),
}}
paths["/products/{id}/stock/stream"] = stream(
    "streamProductStock", "Live stock of one product (Server-Sent Events)", path_params("/{id}"))
paths["/stock/stream"] = stream(
    "streamStock", "Live stock of several products (Server-Sent Events)",
    [{"name": "products", "in": "query", "required": True,
      "description": "1 to 50 distinct product ids separated by commas",
      "schema": {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}}])
for p in PAGES:
    paths[p] = page(p)
paths["/assets/{file}"] = {"get": {
    "summary": "A built storefront file (content-hashed name)",
    "operationId": "getAsset",
    "tags": ["storefront"],
    "security": [],
    "parameters": [{"name": "file", "in": "path", "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$"}}],
    "description": "Cache-Control: public, max-age=31536000, immutable. Precompressed br or gzip "
                   "per Accept-Encoding (Vary: Accept-Encoding); ETag and If-None-Match.",
    "responses": with_common({
        "200": {"description": "The file",
                "headers": {**file_headers("public, max-age=31536000, immutable", False),
                            "Content-Encoding": text_header("br or gzip when Accept-Encoding allows",
                                                            required=False)},
                "content": {"*/*": {"schema": {"type": "string"}}}},
        "304": {"description": "Not modified (If-None-Match)",
                "headers": file_headers("public, max-age=31536000, immutable", False)},
        "404": {"$ref": "#/components/responses/NotFound"},
    }),
}}
with open(PATH, "w") as f:
    f.write(json.dumps(doc, indent=1))
