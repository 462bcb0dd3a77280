// The service-to-service HTTP/1.1 client (Boost.Beast on Asio C++20 coroutines), one per peer
// service: what a service root puts behind a client port when the services run apart (ADR 0044).
//
//   Client catalog(executor-independent options, clock, metrics);
//   catalog.endpoints().Update({{"catalog-1", "10.0.0.5", 8081}, ...});   // discovery feeds it
//   auto reply = co_await catalog.Call(CallRequest{.method = Method::get,
//                                                   .target = "/products/7",
//                                                   .deadline = request.deadline});
//
// What a call promises:
// - Keep-alive pool per endpoint and event loop: a connection goes back to its loop's pool only
//   after a complete response that allows keep-alive; one that broke, timed out or was closed by
//   the peer is discarded (checked before each reuse). A returned connection goes first to a call
//   of that loop waiting for one, else it waits idle (most recently used first) until
//   `idle_timeout` closes it: the pool grows to the loop's concurrency and shrinks by time, never
//   by dropping a healthy connection. A loop opens at most `max_connections_per_loop` connections
//   to one endpoint (in use, idle or connecting); at that limit a call waits, within its
//   deadline, for one of them (kTimeout when none comes back in time). Open connections of the
//   process: at most endpoints × loops × `max_connections_per_loop`.
// - One deadline per call (the caller's; `default_timeout` when it gives none) bounds resolve,
//   connect, write, read, backoff and retries together. When it passes the call answers
//   kTimeout and the connection is closed (never reused half-read). The remaining time goes to the
//   peer as `X-Request-Deadline-Ms`; `traceparent` and `X-Request-Id` are passed when given.
// - Least outstanding requests over the endpoints (ties round robin), skipping ejected ones.
// - Retries: a connect failure is tried again on another endpoint for any call (nothing was
//   sent); a 502/503/504 answer or a connection that ended before any response byte is tried
//   again only for idempotent calls (GET, HEAD, PUT, DELETE, OPTIONS, a call with an
//   Idempotency-Key header, or one marked `idempotent`). A non-idempotent call is never sent
//   twice. Retries go to an endpoint not yet tried when there is one, after a jittered
//   exponential backoff, within the deadline, `max_attempts` and the retry budget.
// - Breaker per endpoint: `consecutive_failures` failures (connect errors, 5xx, timeouts, resets)
//   eject it for a cool-down that doubles after each failed half-open probe (capped). With every
//   endpoint ejected a call fails at once with kOverloaded (RetryAfter() says for how long). A
//   timeout is a failure only when the attempt had `min_attempt_for_ejection` or more before the
//   deadline; a shorter one counts neither way, so callers with little time left cannot eject a
//   healthy endpoint.
// - Limits: response header and body size (kInternal: the peer misbehaves, not retried), calls
//   outstanding for the peer (kOverloaded at once).
// - Streamed bodies (the gateway, ADR 0046): a caller that passes `whole_up_to` gets a long
//   answer as soon as its head arrived and reads the body through a BodyReader, in bounded
//   memory; the connection stays the call's until the body ends (see BodyReader).
//
// Errors are values (Result), never exceptions: kTimeout, kUnavailable (no endpoint, connect
// failure, connection lost), kOverloaded (all ejected, too many outstanding) are transient
// (IsTransient); kInternal (a response over a limit or malformed) is permanent. An HTTP answer of
// any status, 5xx included, is a Reply, not an error.
//
// Thread-safety: a Client is shared by every event loop of the process; Call may run on any
// io_context concurrently. A connection belongs to the io_context of the call that opened it and
// is reused only by calls running on that same io_context (a socket never changes threads).
// Endpoint updates are thread-safe. Destroy the client after the calls have finished and the
// loops that made them stopped running (or from the only such loop), before their io_contexts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/http/client/balancer.hpp"
#include "infra/http/client/endpoint.hpp"
#include "infra/http/client/retry_budget.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::http::client {

using Method = boost::beast::http::verb;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct ClientOptions {
  std::string peer = "peer";  // the `peer` label of the metrics: the service called
  Millis default_timeout{5000};
  Millis connect_timeout{500};  // per connect, within the deadline: a dead host yields to a retry
  Millis idle_timeout{15000};   // below the server's idle timeout (60 s), so we close first
  // Connections one event loop keeps to one endpoint (in use, idle or connecting).
  std::size_t max_connections_per_loop = 256;
  std::size_t max_outstanding = 1024;  // calls in flight for the peer
  std::size_t max_response_header_bytes = 16 * 1024;
  std::size_t max_response_body_bytes = 1024 * 1024;
  std::uint32_t max_attempts = 3;  // first attempt + retries
  Millis backoff_base{25};         // retry n waits in [b/2, b], b = min(base × 2^(n-1), cap)
  Millis backoff_cap{250};
  // A timeout counts against the endpoint (breaker, ejection) only when the attempt was given at
  // least this long from its start to the call's deadline: a caller's short deadline says nothing
  // about the endpoint's health (ADR 0044). Shorter attempts are still sent.
  Millis min_attempt_for_ejection{500};
  BreakerOptions breaker;
  RetryBudgetOptions retry_budget;
};

struct CallRequest {
  Method method = Method::get;
  std::string target;  // path and query
  std::string body;
  std::string content_type = "application/json";             // sent when the body is not empty
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
  Deadline deadline = kNoDeadline;  // the incoming request's; kNoDeadline: default_timeout
  std::optional<bool> idempotent;   // unset: by method, or an Idempotency-Key header
  std::string request_id;           // X-Request-Id for the peer, when not empty
  std::string traceparent;          // W3C traceparent for the peer, when not empty
  // Not 0: calls with the same key go to the same endpoint while it is available (Balancer::
  // Choose); a retry still goes elsewhere.
  std::uint64_t affinity = 0;
};

// The rest of an answer's body, read piece by piece (Client::Call with `whole_up_to`). Its head
// is already in Reply::response. The reader holds the call's connection: read to the end, the
// connection goes back to its pool (when the answer allows keep-alive); a reader dropped before
// the end, or a read that fails, closes it (never reused half-read). The call's deadline bounds
// every read. The call counts as outstanding at its endpoint until the body ends, and a body that
// breaks off (the peer closed mid-body, a malformed chunk, the deadline) counts against the
// endpoint as a failure (breaker). Use and drop it on the loop that made the call, before the
// Client goes.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // The next bytes of the body, at most into.size() (> 0); 0 at the end. Errors: kTimeout (the
  // deadline passed), kUnavailable (the peer cut the answer, or Cancel), kInternal (not HTTP).
  // After an error or the end every read answers the same.
  virtual boost::asio::awaitable<Result<std::size_t>> Read(std::span<char> into) = 0;
  // Ends a Read in progress with kUnavailable and closes the connection (whoever wanted the body
  // went away); not counted against the endpoint.
  virtual void Cancel() = 0;
};

struct Reply {
  Response response;
  std::string endpoint_id;  // the endpoint that answered
  std::uint32_t attempts = 1;
  // Null: response.body() is the whole body. Set (only with `whole_up_to`): the body follows
  // here, response.body() is empty.
  std::shared_ptr<BodyReader> body;
};

// Call's default: every body is read whole (within max_response_body_bytes).
inline constexpr std::size_t kAlwaysWhole = static_cast<std::size_t>(-1);

// kTimeout, kUnavailable, kOverloaded: trying again later may work.
bool IsTransient(Errc code) noexcept;

class Client {
 public:
  Client(ClientOptions options, const Clock& clock, metrics::Registry& metrics);
  ~Client();
  // Closes every idle pooled connection. Their timers and sockets belong to the event loops that
  // opened them: call it once those loops stopped and before their io_contexts are destroyed (a
  // server's, after Run() returned). ~Client does it again, harmlessly.
  void DropIdleConnections();
  // The same for the idle connections of one event loop, on that loop's thread while it runs (a
  // server's loop as it drains: their idle timers would keep it running until the grace period).
  void DropIdleConnectionsOf(boost::asio::execution_context* loop);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The set the calls balance over (feed it from discovery or configuration).
  EndpointSet& endpoints() { return balancer_; }

  // `whole_up_to`: an answer whose body is declared (Content-Length) at most this long (and
  // within max_response_body_bytes) is read whole, as by default; a longer one, or one of unknown
  // length (chunked, until close), comes back as soon as its head has arrived, with Reply::body to
  // read the rest (no size limit: the reader's caller bounds its memory). Retries happen only
  // before a head arrived.
  boost::asio::awaitable<Result<Reply>> Call(CallRequest request,
                                             std::size_t whole_up_to = kAlwaysWhole);

  // Until the first ejected endpoint may be probed again; 0 when an endpoint is available.
  Millis RetryAfter() const { return balancer_.RetryAfter(); }
  // Open connections (in use and idle) to every endpoint of the peer.
  std::size_t open_connections() const;

  // Implementation details (client.cpp).
  struct Shared;
  struct Attempt;

 private:
  boost::asio::awaitable<Attempt> Send(const Pick& pick, const CallRequest& request,
                                       Deadline deadline, std::size_t whole_up_to);

  ClientOptions options_;
  std::shared_ptr<Shared> shared_;  // counters the metrics registry reads after we are gone
  Balancer balancer_;
  RetryBudget budget_;
};

}  // namespace rocketmart::http::client
