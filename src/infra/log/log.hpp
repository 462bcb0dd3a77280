// Logging facade over spdlog. One process-wide logger writing to stderr; the level and the format
// come from the configuration. Call Init once at start-up, before other threads log.
// Thread-safe afterwards.
//
// Formats: `text` for people ("2026-11-29T21:03:30.084Z info listening on ..."), `json` for log
// pipelines: one object per line, {"time","level","msg"} plus, on access lines, the request's
// fields (Access below). `auto` picks text on a terminal and JSON otherwise.
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rocketmart::log {

// Returns false when the level or format name is unknown. `format`: auto | text | json.
bool Init(std::string_view level, std::string_view format = "auto");

// One answered request: the access log line.
struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view route;  // the route template ("/products/{id}"), "-" when none matched
  std::string_view path;   // the real path, never the query string (it may carry tokens)
  unsigned status = 0;
  std::size_t bytes = 0;  // response body
  std::uint64_t micros = 0;
  std::int64_t member_id = 0;  // 0 = anonymous
  std::string_view client;     // peer address
  std::string_view trace_id;   // W3C trace id, empty when the request carried none
  std::string_view span_id;    // this server's span for the request
};

// Logs `record` at info level: text `access rid=... METHOD route status bytesB micros us path=...`
// or, in JSON, the record's fields (requestId, method, route, path, status, bytes, durationMs,
// memberId, client, traceId, spanId).
void Access(const AccessRecord& record);

// Appends `text` to `out` as the body of a JSON string (quotes not included): escapes quotes,
// backslashes and control characters, and replaces invalid UTF-8 with U+FFFD.
void AppendJsonEscaped(std::string_view text, std::string& out);

}  // namespace rocketmart::log
