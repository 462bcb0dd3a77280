// The HTTP/1.1 server: Boost.Beast on Asio with one C++20 coroutine per connection.
//
// Threading: one io_context per worker thread, each with its own SO_REUSEPORT acceptor, so a
// connection lives on one thread for its whole life and needs no locks; shared state (routes,
// services, metrics) is immutable or thread-safe. Limits (connections, header and body bytes,
// header/idle timeouts) are enforced here, before any handler runs. Request::deadline is computed
// from server.request_timeout_ms for handlers to honour (a purchase not yet started by then is
// not started: 503 TIMEOUT); nothing cancels work already under way.
// Shutdown (SIGTERM/SIGINT or Shutdown()) stops accepting, lets in-flight requests finish and
// closes idle keep-alive connections, then stops after the grace period at the latest.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "infra/http/client_address.hpp"
#include "infra/http/router.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;
  int threads = 0;  // 0 = one per core
  std::size_t max_connections = 10000;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds shutdown_grace{10000};
  bool access_log = true;
  bool handle_signals = true;
  // The `listener` label of this server's connection metrics ("public", "admin").
  std::string name = "public";
  // Peers whose X-Forwarded-For / Forwarded names the client (Request::client). Empty: every
  // request's client is its peer, and the headers are ignored.
  TrustedProxies trusted_proxies;
  // Where a request's credential is read. Empty (a public server): `Authorization: Bearer`, and an
  // invalid token on a public route is ignored. Non-empty (a service behind the gateway, issue 15):
  // the credential is that header's value alone (Authorization is never read), one that does not
  // authenticate answers 401 on every route, and `X-Request-Deadline-Ms` (the time the gateway
  // or a peer has left) shortens the request's deadline.
  std::string identity_header;
};

// Turns a credential (a bearer token, or ServerOptions::identity_header's value) into a verified
// identity. Implemented by the gateway (member tokens) and by the internal identity check.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Result<auth::Identity> Authenticate(std::string_view bearer_token) const = 0;
};

// A listener that serves no member (the admin listener, whose /metrics checks its own operator
// token; a test's stand-in peer): every credential is refused, so member routes answer 401.
class NoMemberIdentities final : public Authenticator {
 public:
  Result<auth::Identity> Authenticate(std::string_view) const override {
    return MakeError(Errc::kUnauthenticated, "no member tokens here");
  }
};

// Admission control before a route's handler (the gateway's rate limits, issue 15): asked once
// per request, after its credential was read (Request::identity set when it was valid; an invalid
// one is refused after the gate, so it counts too) and before the route's own checks. Routes with
// RouteOptions::exempt_from_limits are never asked. Thread-safe.
class RequestGate {
 public:
  virtual ~RequestGate() = default;
  // Decided without suspending (the hot path: no coroutine frame): true, with `refusal` set to
  // the answer when the request is refused; false when the gate must wait (then await Admit).
  virtual bool AdmitNow(const Request& req, std::optional<Response>& refusal) const = 0;
  // nullopt: go ahead; otherwise the answer.
  virtual boost::asio::awaitable<std::optional<Response>> Admit(const Request& req) const = 0;
};

class Server {
 public:
  Server(ServerOptions options, const Router& router, const Authenticator& authenticator,
         metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's acceptor; connections queue until Run(). Refuses a named port that any
  // socket listens on, even one that allows SO_REUSEPORT (another rocketmart). Throws
  // std::runtime_error with a one-line message on failure (port in use, bad address). Callers
  // that may race another process for the same port hold a lock around this call (EmbeddedApp).
  void Bind();
  std::uint16_t port() const { return port_; }
  // Takes the router's routes as final and registers their metrics series, so a scrape right
  // after start lists every route. Call it once every route is registered (before announcing the
  // server as ready); Run() does it if nobody did. Not thread-safe with Run().
  void SealRoutes();
  // Serves until Shutdown() (or a signal) and the drain completes. Blocks the caller. Routes may
  // be registered between Bind() and SealRoutes()/Run().
  void Run();
  // Thread-safe and idempotent.
  void Shutdown();
  // Before Run(): every request of a route not exempt passes `gate` (which outlives the server).
  void SetGate(const RequestGate* gate);
  // After Bind(): the executors of the worker loops (one thread each while Run() runs). Objects a
  // caller puts on them (a Redis connection per loop) must be destroyed before the server is.
  std::vector<boost::asio::io_context::executor_type> loop_executors() const;
  // Before Run(): `hook` runs on each worker loop's thread once that loop has drained (shutdown
  // began and its last connection closed), so what the caller keeps on the loop (a connection
  // waiting for replies) can be closed there and the loop can end. Not run for a loop the grace
  // period stopped.
  void OnLoopDrained(std::function<void()> hook);

  std::size_t active_connections() const { return active_connections_.load(); }

 private:
  struct Worker;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> active_connections_{0};
};

}  // namespace rocketmart::http
