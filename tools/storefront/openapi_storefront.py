#!/usr/bin/env python3
"""Adds (or refreshes) the storefront's routes in api/openapi.json. Idempotent; keeps the file's
formatting (indent 1, ASCII escapes). Run from the repository root after changing the routes in
src/services/storefront/adapters/http_routes.*"""
import json

PATH = "api/openapi.json"
ERR = {"$ref": "#/components/responses/Error"}
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
                       "Content-Security-Policy); the page routes itself in the browser. 503 "
                       "UNAVAILABLE when the binary runs without its built storefront.",
        "responses": {
            "200": {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}},
            "304": {"description": "Not modified (If-None-Match)"},
            "503": ERR,
        },
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
        "responses": {
            "200": {"description": "The event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "400": ERR,
            "404": ERR,
            "503": {"description": "Too many open streams (OVERLOADED)",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }}


doc = json.load(open(PATH))
paths = doc["paths"]
paths["/time"] = {"get": {
    "summary": "Server time (the drop page's countdown is corrected by it)",
    "operationId": "getServerTime",
    "tags": ["storefront"],
    "security": [],
    "responses": {"200": {"description": "Now, on the server's clock",
                          "headers": {"Cache-Control": {"schema": {"const": "no-store"}}},
                          "content": {"application/json": {"schema": {
                              "type": "object", "required": ["now", "epochMs"],
                              "properties": {"now": {"type": "string", "format": "date-time"},
                                             "epochMs": {"type": "integer", "format": "int64"}}}}}}},
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
    "responses": {
        "200": {"description": "The file", "content": {"*/*": {"schema": {"type": "string"}}}},
        "304": {"description": "Not modified (If-None-Match)"},
        "404": ERR,
        "503": ERR,
    },
}}
with open(PATH, "w") as f:
    f.write(json.dumps(doc, indent=1))
