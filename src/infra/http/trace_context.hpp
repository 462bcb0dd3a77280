// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a caller sends,
// continued by this server. A valid one keeps its trace id and flags; the server opens its own
// span (a fresh random parent id) for the request, logs both and answers with its own
// `traceparent`, which is also what a handler passes to a next hop. An invalid header is ignored,
// as the specification requires; a request without one gets no trace (and costs nothing).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace rocketmart::http {

struct TraceContext {
  std::array<char, 32> trace_id{};
  std::array<char, 16> span_id{};  // this server's span
  std::array<char, 2> flags{};

  std::string_view TraceId() const { return {trace_id.data(), trace_id.size()}; }
  std::string_view SpanId() const { return {span_id.data(), span_id.size()}; }
  // "00-<trace id>-<span id>-<flags>": for the answer and for a next hop.
  std::string Traceparent() const;
};

// The caller's context with a new span id for this server, or nullopt when `header` is not a
// valid traceparent (wrong length or version ff, upper-case or non-hex digits, an all-zero trace
// or parent id, a version-00 value with extra fields).
std::optional<TraceContext> ContinueTrace(std::string_view header);

}  // namespace rocketmart::http
