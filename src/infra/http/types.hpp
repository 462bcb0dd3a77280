// The request/response vocabulary handlers see. Transport details (sockets, parsers, timeouts) stay
// in server.cpp; handlers get a parsed Request and return a Response.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/identity.hpp"
#include "core/result.hpp"
#include "infra/http/trace_context.hpp"

namespace rocketmart::http {

namespace beast_http = boost::beast::http;
using RawRequest = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Status = beast_http::status;
using Method = beast_http::verb;

// On a service's answer to the gateway only (docs/adr/0048): the gateway may give this same answer
// itself, for this many milliseconds, to the same request (method, target, Content-Type, body) from
// any member with a verified email and the same role who sends no Idempotency-Key. Never reaches a
// client: the gateway removes it.
inline constexpr std::string_view kSharedAnswerHeader = "X-Rocketmart-Shared-For-Ms";

// Who may call a route. The server enforces it before the handler runs.
enum class Access {
  kPublic,  // anyone; a valid token is still read (likedByMe), an invalid one is ignored
  kMember,  // a valid access token
  kAdmin,   // a valid access token with role admin
};

// An answer sent in pieces: a long-lived one (Server-Sent Events) or a long body passed on as it
// comes (the gateway, ADR 0046). A handler that streams sets Request::stream and returns the head
// (status and headers, empty body); the server writes the head with chunked framing and then runs
// the stream on the connection's own coroutine, which holds no thread while it waits. The
// connection ends when the stream returns (after the last chunk), the client goes away, a write
// does not finish within the idle timeout, the stream aborts, or the server drains (a stream with
// Request::stream_ends is let finish within the shutdown grace instead). A stream_ends answer to
// an HTTP/1.1 keep-alive request keeps the connection when it ended well (the last chunk went).
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends `data` as one chunk; false once the client is gone (the stream should return).
  virtual boost::asio::awaitable<bool> Write(std::string_view data) = 0;
  virtual bool closed() const = 0;
  // `on_close` runs once, on the connection's thread, when the client goes away or the server
  // drains: a stream waiting on a timer cancels it there.
  virtual void OnClose(std::function<void()> on_close) = 0;
  // Cuts the connection without the last chunk: the client sees an incomplete answer, never a
  // well-formed truncated one (what was passed on broke off). A stream that throws is aborted.
  virtual void Abort() = 0;
};
using StreamBody = std::function<boost::asio::awaitable<void>(StreamWriter&)>;

struct Request {
  RawRequest& raw;
  std::string_view path;
  std::string_view query;
  std::vector<std::pair<std::string_view, std::string_view>> params;  // path parameters
  std::optional<auth::Identity> identity;
  std::string request_id;
  boost::asio::ip::address remote;  // the socket peer (a proxy, behind one)
  // The client the server answers for: the peer, or the address a trusted proxy reports for it
  // (ServerOptions::trusted_proxies, client_address.hpp). Throttles and the access log use this.
  boost::asio::ip::address client;
  std::chrono::steady_clock::time_point deadline;
  // Set when the request carried a valid W3C `traceparent`: pass trace->Traceparent() to a next
  // hop.
  std::optional<TraceContext> trace;
  // Set by a streaming handler (see StreamWriter); empty for ordinary answers.
  StreamBody stream{};
  // The stream ends by itself (a body of some length, not an event stream): a drain lets it
  // finish rather than cut it.
  bool stream_ends = false;

  std::string_view Header(std::string_view name) const;
  std::string_view Body() const { return raw.body(); }
  // A path parameter that must be a positive 63-bit integer.
  Result<std::int64_t> IdParam(std::string_view name) const;
  // A decoded query parameter, if present.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // A query parameter that must be a decimal integer in [min, max]; `fallback` when absent.
  // kValidationFailed naming the parameter otherwise ("limit must be between 1 and 100").
  Result<std::int64_t> IntQueryParam(std::string_view name, std::int64_t min, std::int64_t max,
                                     std::int64_t fallback) const;
  // The member id of an authenticated caller (routes with Access::kMember/kAdmin always have one).
  std::int64_t MemberId() const { return identity ? identity->member_id : 0; }
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// What a route accepts as a body. The server enforces it before the handler runs.
enum class BodyRule : std::uint8_t {
  kByMethod,  // kNone for GET, HEAD and DELETE, kJson for the others (resolved by Router::Add)
  kJson,      // a JSON body, decoded by the handler
  // No body: an empty body or `{}` (JSON whitespace allowed, whatever the Content-Type) is
  // accepted and handed to the handler as empty; anything else answers 400 VALIDATION_FAILED.
  kNone,
};

struct RouteOptions {
  Access access = Access::kPublic;
  // Requests with a body must declare application/json.
  bool json_body = true;
  // A tighter body limit than the server's, 0 = server default (kNoBodyLimit for kNone routes).
  std::size_t max_body_bytes = 0;
  BodyRule body = BodyRule::kByMethod;
  // The query parameters the route accepts (raw names, compared before decoding), each at most
  // once. Any other, or one given twice, answers 400 VALIDATION_FAILED naming it. At most 64.
  std::vector<std::string_view> query;
  // Web pages only: any query is accepted and left to the page (a link shared with tracking
  // parameters must still open), and `query` is not checked.
  bool page = false;
  // Never asked of the server's RequestGate (the gateway's rate limits): health checks, metrics
  // and the storefront's static files, which cost nothing and must answer under any load.
  bool exempt_from_limits = false;
};

// Response helpers. Every JSON answer goes through these so headers are uniform.
Response JsonResponse(Status status, const boost::json::value& body);
Response JsonText(Status status, std::string body);
Response NoContent();
Response ErrorResponse(const Error& error);
Response TextResponse(Status status, std::string body, std::string_view content_type);

}  // namespace rocketmart::http
