#include "infra/http/server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <random>
#include <unordered_set>

#include "core/thread_name.hpp"
#include "infra/http/error_mapping.hpp"
#include "infra/log/log.hpp"

namespace rocketmart::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxTargetBytes = 2048;

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct RouteMetrics {
  std::array<metrics::Counter*, 6> by_class{};  // index = status / 100
  metrics::Histogram* latency = nullptr;
};

bool IsSafeRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Behind the gateway: the caller's remaining time (X-Request-Deadline-Ms, whole milliseconds)
// shortens the request's deadline, never lengthens it. A malformed value is ignored.
void ApplyCallerDeadline(Request& req) {
  const std::string_view text = req.Header("X-Request-Deadline-Ms");
  if (text.empty() || text.size() > 9) return;
  std::int64_t ms = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return;
    ms = ms * 10 + (c - '0');
  }
  const auto caller = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  if (caller < req.deadline) req.deadline = caller;
}

bool IsJsonContentType(std::string_view ct) {
  const std::size_t semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (type.size() != 16) return false;
  static constexpr std::string_view kJson = "application/json";
  for (std::size_t i = 0; i < type.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != kJson[i]) return false;
  }
  return true;
}

std::string_view BearerToken(std::string_view authorization) {
  if (authorization.size() < 7) return {};
  static constexpr std::string_view kScheme = "bearer ";
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

// RFC 9112 message framing, checked on the parsed head before any body byte is read. A request
// whose body length two parties could read differently is refused (400, connection closed), so a
// proxy in front can never make us read its body as a second request (request smuggling):
// Transfer-Encoding must be exactly `chunked` (§6.1: the only coding we decode; anything else, or
// a list, would leave the body unframed), never repeated, never with Content-Length (§6.3) and
// never in HTTP/1.0 (§6.1); HTTP/1.1 needs exactly one Host, and no request may carry two (§3.2).
// Returns why the request is refused, or nullptr. Lookups only: no allocation on the hot path.
const char* FramingError(const RawRequest& req) {
  const std::size_t hosts = req.count(beast_http::field::host);
  if (hosts > 1) return "more than one Host header";
  if (hosts == 0 && req.version() >= 11) return "request without a Host header";
  const auto te = req.find(beast_http::field::transfer_encoding);
  if (te == req.end()) return nullptr;
  if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  if (req.count(beast_http::field::transfer_encoding) > 1) return "more than one Transfer-Encoding";
  if (req.count(beast_http::field::content_length) > 0) {
    return "both Transfer-Encoding and Content-Length";
  }
  std::string_view coding = te->value();
  while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
    coding.remove_prefix(1);
  while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
    coding.remove_suffix(1);
  static constexpr std::string_view kChunked = "chunked";
  if (coding.size() != kChunked.size()) return "Transfer-Encoding other than chunked";
  for (std::size_t i = 0; i < kChunked.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(coding[i])) != kChunked[i]) {
      return "Transfer-Encoding other than chunked";
    }
  }
  return nullptr;
}

}  // namespace

struct Server::Worker {
  using Clock = std::chrono::steady_clock;

  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  // One timer per worker closes the connections whose deadline passed, instead of a timer armed
  // and cancelled around every read and write of every connection.
  asio::steady_timer sweeper{ioc};
  bool sweeper_parked = false;  // No connections: the sweeper sleeps until one arrives.
  // Sessions of this worker; touched only on this worker's thread.
  struct SessionState {
    tcp::socket* socket;
    Clock::time_point deadline;  // max(): none (a request is being handled)
    bool busy;
    bool streaming = false;  // a long-lived answer (StreamWriter): drained like an idle one
  };
  std::unordered_set<SessionState*> sessions;
  std::uint64_t request_counter = 0;
  std::string request_id_prefix;
};

namespace {

constexpr auto kNoDeadline = std::chrono::steady_clock::time_point::max();

// The status line and header block of `res`, as the bytes to put on the wire before its body.
// Written by hand: Beast's serializer walks a buffers_cat view of every field per write, which
// was the largest user-space cost of a small answer.
void AppendHead(const Response& res, std::string_view request_id, std::string& out) {
  out.clear();
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  const unsigned status = res.result_int();
  const char digits[3] = {static_cast<char>('0' + status / 100 % 10),
                          static_cast<char>('0' + status / 10 % 10),
                          static_cast<char>('0' + status % 10)};
  out.append(digits, 3);
  out += ' ';
  out += beast_http::obsolete_reason(res.result());
  out += "\r\n";
  for (const auto& field : res) {
    out += field.name_string();
    out += ": ";
    out += field.value();
    out += "\r\n";
  }
  out += "X-Request-Id: ";
  out += request_id;
  out += "\r\n\r\n";
}

}  // namespace
struct Server::Impl {
  Impl(Server& owner, ServerOptions opts, const Router& r, const Authenticator& a,
       metrics::Registry& m)
      : self(owner), options(std::move(opts)), router(r), authenticator(a), registry(m) {}

  Server& self;
  ServerOptions options;
  const Router& router;
  const Authenticator& authenticator;
  metrics::Registry& registry;
  const RequestGate* gate = nullptr;
  std::vector<std::function<void()>> drained_hooks;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<RouteMetrics> route_metrics;
  bool routes_sealed = false;
  RouteMetrics unmatched_metrics;
  metrics::Counter* connections_rejected = nullptr;
  std::unique_ptr<asio::signal_set> signals;

  std::atomic<bool> draining{false};
  std::mutex mutex;
  std::condition_variable cv;
  bool shutdown_requested = false;
  std::size_t workers_running = 0;

  RouteMetrics MakeRouteMetrics(const std::string& route, const std::string& method) {
    RouteMetrics rm;
    const std::string base =
        "route=\"" + metrics::EscapeLabel(route) + "\",method=\"" + method + "\"";
    for (int c = 1; c <= 5; ++c) {
      rm.by_class[c] = &registry.GetCounter("http_requests_total", "HTTP requests answered",
                                            base + ",status=\"" + std::to_string(c) + "xx\"");
    }
    rm.latency = &registry.GetHistogram("http_request_duration_seconds",
                                        "Time from full request read to response ready", base);
    return rm;
  }

  asio::awaitable<void> Accept(Worker& w) {
    for (;;) {
      auto [ec, socket] = co_await w.acceptor.async_accept(kNoThrow);
      if (draining.load()) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of descriptors or a transient network error: back off briefly instead of spinning.
        asio::steady_timer backoff(w.ioc, std::chrono::milliseconds(10));
        co_await backoff.async_wait(kNoThrow);
        continue;
      }
      if (self.active_connections_.load(std::memory_order_relaxed) >= options.max_connections) {
        connections_rejected->Add();
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(w.ioc, Session(w, std::move(socket)), asio::detached);
    }
  }

  // Ticks often enough that a connection outlives its deadline by at most a quarter of the
  // shortest timeout (and never by more than 250 ms).
  std::chrono::milliseconds SweepInterval() const {
    const auto shortest = std::min(options.header_timeout, options.idle_timeout);
    return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
  }

  asio::awaitable<void> Sweep(Worker& w) {
    const auto interval = SweepInterval();
    for (;;) {
      // Drained (also when the drain began before this loop ran): the hooks, and the loop may end.
      if (draining.load(std::memory_order_relaxed) && w.sessions.empty()) {
        for (const auto& hook : drained_hooks) hook();
        co_return;
      }
      // An idle server must not wake up just to find nothing to sweep.
      w.sweeper_parked = w.sessions.empty();
      if (w.sweeper_parked) {
        w.sweeper.expires_at(Worker::Clock::time_point::max());
      } else {
        w.sweeper.expires_after(interval);
      }
      auto [ec] = co_await w.sweeper.async_wait(kNoThrow);
      w.sweeper_parked = false;
      if (draining.load(std::memory_order_relaxed) && w.sessions.empty()) continue;
      const auto now = Worker::Clock::now();
      for (Worker::SessionState* s : w.sessions) {
        if (s->deadline <= now) {
          // The pending read or write ends with operation_aborted and the session closes.
          s->deadline = kNoDeadline;
          boost::system::error_code ignored;
          s->socket->cancel(ignored);
        }
      }
    }
  }

  static void ExpireIn(Worker::SessionState& state, std::chrono::milliseconds timeout) {
    state.deadline = Worker::Clock::now() + timeout;
  }

  // Sends `res` (head, then body, in one gathered write) with `timeout` to finish.
  asio::awaitable<boost::system::error_code> Write(Worker::SessionState& state, std::string& head,
                                                   const Response& res, std::string_view request_id,
                                                   std::chrono::milliseconds timeout) {
    AppendHead(res, request_id, head);
    const std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(res.body())};
    ExpireIn(state, timeout);
    auto [ec, written] = co_await asio::async_write(*state.socket, wire, kNoThrow);
    co_return ec;
  }

  asio::awaitable<void> WriteAndClose(Worker& w, Worker::SessionState& state, std::string& head,
                                      Response res) {
    res.keep_alive(false);
    co_await Write(state, head, res, NextRequestId(w), options.header_timeout);
  }

  asio::awaitable<void> Session(Worker& w, tcp::socket socket) {
    self.active_connections_.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec).address();
    // Decided once per connection: from an untrusted peer, forwarding headers are never read.
    const bool peer_is_proxy = options.trusted_proxies.Contains(remote);
    Worker::SessionState state{&socket, kNoDeadline, true};
    w.sessions.insert(&state);
    if (w.sweeper_parked) w.sweeper.cancel();
    beast::flat_buffer buffer(8192);
    std::string head;
    head.reserve(512);
    bool first = true;
    for (;;) {
      state.busy = false;
      if (draining.load(std::memory_order_relaxed)) break;
      beast_http::request_parser<beast_http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      ExpireIn(state, first ? options.header_timeout : options.idle_timeout);
      auto [read_ec, header_bytes] =
          co_await beast_http::async_read_header(socket, buffer, parser, kNoThrow);
      state.busy = true;
      if (read_ec) {
        if (read_ec == beast_http::error::header_limit) {
          co_await WriteAndClose(
              w, state, head,
              ErrorResponse(MakeError(Errc::kHeadersTooLarge, "request headers too large")));
        } else if (read_ec == beast_http::error::body_limit) {
          co_await WriteAndClose(
              w, state, head,
              ErrorResponse(MakeError(Errc::kPayloadTooLarge, "request body too large")));
        } else if (read_ec.category() ==
                       beast_http::make_error_code(beast_http::error::bad_target).category() &&
                   read_ec != beast_http::error::end_of_stream &&
                   read_ec != beast_http::error::partial_message) {
          co_await WriteAndClose(
              w, state, head,
              ErrorResponse(MakeError(Errc::kValidationFailed, "malformed HTTP request")));
        }
        break;
      }
      if (const char* framing = FramingError(parser.get())) {
        co_await WriteAndClose(
            w, state, head,
            ErrorResponse(MakeError(Errc::kValidationFailed,
                                    std::string("malformed HTTP request: ") + framing)));
        break;
      }
      // Per-route body limits are tighter than the server's; check the declared length first so
      // an oversized body is refused before a byte of it is read.
      std::vector<std::pair<std::string_view, std::string_view>> params;
      std::string_view target = parser.get().target();
      const Match match =
          router.Find(parser.get().method(), target.substr(0, target.find('?')), params);
      std::size_t body_limit = options.max_body_bytes;
      if (match.route && match.route->options.max_body_bytes != 0) {
        body_limit = std::min(body_limit, match.route->options.max_body_bytes);
      }
      if (const auto length = parser.content_length(); length && *length > body_limit) {
        co_await WriteAndClose(
            w, state, head,
            ErrorResponse(MakeError(Errc::kPayloadTooLarge, "request body too large")));
        break;
      }
      parser.body_limit(body_limit);
      if (!parser.is_done()) {
        ExpireIn(state, options.header_timeout);
        auto [body_ec, body_bytes] =
            co_await beast_http::async_read(socket, buffer, parser, kNoThrow);
        if (body_ec) {
          if (body_ec == beast_http::error::body_limit) {
            co_await WriteAndClose(
                w, state, head,
                ErrorResponse(MakeError(Errc::kPayloadTooLarge, "request body too large")));
          } else if (body_ec != beast_http::error::end_of_stream &&
                     body_ec != beast_http::error::partial_message &&
                     body_ec != asio::error::operation_aborted) {  // aborted = timed out
            co_await WriteAndClose(
                w, state, head,
                ErrorResponse(MakeError(Errc::kValidationFailed, "malformed HTTP request")));
          }
          break;
        }
      }
      state.deadline = kNoDeadline;  // Handlers are bounded by their own deadlines, not here.
      // Not released: the path parameters found above are views into this message, and it stays
      // where it is until the next request, so the route is matched once.
      RawRequest& raw = parser.get();
      std::string request_id;
      StreamBody stream;
      bool stream_ends = false;
      Response res = co_await Dispatch(w, raw, remote, peer_is_proxy, match, std::move(params),
                                       request_id, stream, stream_ends);
      if (stream) {
        // HEAD gets the head only.
        if (raw.method() == Method::head)
          stream = [](StreamWriter&) -> asio::awaitable<void> { co_return; };
        // A stream that ends by itself may keep the connection (HTTP/1.1, not HEAD: its empty
        // stream still ends with a last chunk), with what the client sent meanwhile in `buffer`.
        const bool may_keep =
            stream_ends && raw.keep_alive() && raw.version() >= 11 && raw.method() != Method::head;
        const bool kept =
            co_await Stream(state, head, std::move(res), request_id, raw.version(),
                            std::move(stream), stream_ends, may_keep ? &buffer : nullptr);
        if (!kept) break;
        first = false;
        continue;
      }
      const bool keep_alive = raw.keep_alive() && !draining.load(std::memory_order_relaxed);
      res.keep_alive(keep_alive);
      const auto write_ec = co_await Write(state, head, res, request_id, options.idle_timeout);
      if (write_ec || !keep_alive) break;
      first = false;
    }
    w.sessions.erase(&state);
    if (draining.load(std::memory_order_relaxed) && w.sessions.empty()) w.sweeper.cancel();
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    self.active_connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  // The client a trusted proxy reports (client_address.hpp). Only for requests from such a peer.
  asio::ip::address ForwardedClient(const RawRequest& raw, const asio::ip::address& peer) const {
    std::vector<std::string_view> xff;
    std::vector<std::string_view> fwd;
    for (const auto& f : raw) {
      if (beast::iequals(f.name_string(), "x-forwarded-for")) xff.push_back(f.value());
      if (f.name() == beast_http::field::forwarded) fwd.push_back(f.value());
    }
    return ClientAddress(peer, options.trusted_proxies, xff, fwd);
  }

  // The connection's side of a StreamWriter: chunked framing (HTTP/1.1) or raw bytes until close
  // (HTTP/1.0), each write bounded by the idle timeout, and a read that notices the client
  // leaving (or the sweeper/drain cancelling the socket) while the stream waits. With `keep` (a
  // stream that ends, on a connection that stays), bytes the client sends meanwhile are its next
  // request: kept there, they stop the watch instead of ending the stream.
  class SocketStreamWriter final : public StreamWriter {
   public:
    SocketStreamWriter(Worker::SessionState& state, std::chrono::milliseconds write_timeout,
                       bool chunked, beast::flat_buffer* keep)
        : state_(state), write_timeout_(write_timeout), chunked_(chunked), keep_(keep) {}

    asio::awaitable<bool> Write(std::string_view data) override {
      if (closed_ || data.empty()) co_return !closed_;
      char size_line[24];
      const int n =
          chunked_ ? std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size()) : 0;
      const std::array<asio::const_buffer, 3> wire{
          asio::buffer(size_line, static_cast<std::size_t>(n)), asio::buffer(data),
          asio::buffer("\r\n", chunked_ ? 2 : 0)};
      ExpireIn(state_, write_timeout_);
      auto [ec, written] = co_await asio::async_write(*state_.socket, wire, kNoThrow);
      state_.deadline = kNoDeadline;
      if (ec) Close();
      co_return !closed_;
    }
    bool closed() const override { return closed_; }
    void OnClose(std::function<void()> on_close) override { on_close_ = std::move(on_close); }
    void Abort() override { Close(); }  // the session then closes the socket: no last chunk

    void WatchForClose() {
      const auto into = keep_ != nullptr ? keep_->prepare(4096) : asio::buffer(discard_);
      state_.socket->async_read_some(
          into, [this](const boost::system::error_code& ec, std::size_t n) {
            watching_ = false;
            if (keep_ != nullptr && !ec) {
              keep_->commit(n);  // the next request, read early: the stream goes on
              return;
            }
            // A client says nothing on an event stream: data or an error both end it.
            if (!stopping_) Close();
          });
      watching_ = true;
    }
    bool watching() const { return watching_; }
    // Ends the watch of a stream that ended well, leaving the connection open.
    void StopWatching() {
      if (!watching_) return;
      stopping_ = true;
      boost::system::error_code ignored;
      state_.socket->cancel(ignored);
    }
    void Close() {
      if (closed_) return;
      closed_ = true;
      boost::system::error_code ignored;
      state_.socket->cancel(ignored);
      if (on_close_) on_close_();
    }

   private:
    Worker::SessionState& state_;
    std::chrono::milliseconds write_timeout_;
    bool chunked_;
    beast::flat_buffer* keep_;
    bool closed_ = false;
    bool watching_ = false;
    bool stopping_ = false;
    std::function<void()> on_close_;
    std::array<char, 64> discard_{};
  };

  // Sends the head of a streaming answer, runs the stream, then ends the body. True when the
  // connection stays for a next request: `keep` (the session's read buffer) was given, the stream
  // ended well and the server is not draining.
  asio::awaitable<bool> Stream(Worker::SessionState& state, std::string& head, Response res,
                               std::string_view request_id, unsigned version, StreamBody body,
                               bool ends, beast::flat_buffer* keep) {
    state.streaming = !ends;  // one that ends by itself is let finish by a drain
    const bool chunked = version >= 11;
    res.keep_alive(keep != nullptr);
    res.erase(beast_http::field::content_length);
    if (chunked) res.set(beast_http::field::transfer_encoding, "chunked");
    res.body().clear();
    auto ec = co_await Write(state, head, res, request_id, options.idle_timeout);
    state.deadline = kNoDeadline;
    if (ec || (!ends && draining.load(std::memory_order_relaxed))) co_return false;
    SocketStreamWriter writer(state, options.idle_timeout, chunked, keep);
    writer.WatchForClose();
    try {
      co_await body(writer);
    } catch (const std::exception& e) {
      spdlog::error("rid={} stream failed: {}", request_id, e.what());
      writer.Abort();
    }
    bool ended_well = false;
    if (!writer.closed() && chunked) {
      static constexpr std::string_view kLastChunk = "0\r\n\r\n";
      ExpireIn(state, options.idle_timeout);
      auto [end_ec, end_written] =
          co_await asio::async_write(*state.socket, asio::buffer(kLastChunk), kNoThrow);
      state.deadline = kNoDeadline;
      ended_well = !end_ec;
    }
    writer.OnClose({});
    const bool kept = keep != nullptr && ended_well && !writer.closed() &&
                      !draining.load(std::memory_order_relaxed);
    if (kept) {
      writer.StopWatching();
    } else {
      writer.Close();
    }
    // The close watcher's read holds a reference to `writer`: wait until it has completed.
    while (writer.watching())
      co_await asio::post(state.socket->get_executor(), asio::use_awaitable);
    state.streaming = false;
    co_return kept && !writer.closed();
  }

  std::string NextRequestId(Worker& w) {
    return w.request_id_prefix + std::to_string(++w.request_counter);
  }

  // Handles one request; `request_id` receives the id the answer carries (X-Request-Id).
  asio::awaitable<Response> Dispatch(
      Worker& w, RawRequest& raw, const asio::ip::address& remote, bool peer_is_proxy,
      const Match& match, std::vector<std::pair<std::string_view, std::string_view>> params,
      std::string& request_id, StreamBody& stream, bool& stream_ends) {
    const auto started = std::chrono::steady_clock::now();
    const std::string_view target = raw.target();
    const std::size_t q = target.find('?');
    Request req{raw,
                target.substr(0, q),
                q == std::string_view::npos ? std::string_view{} : target.substr(q + 1),
                std::move(params),
                std::nullopt,
                {},
                remote,
                remote,
                started + options.request_timeout};
    if (peer_is_proxy) req.client = ForwardedClient(raw, remote);
    if (!options.identity_header.empty()) ApplyCallerDeadline(req);
    const std::string_view incoming_id = req.Header("X-Request-Id");
    req.request_id = IsSafeRequestId(incoming_id) ? std::string(incoming_id) : NextRequestId(w);
    // A lookup only, unless the caller traces: then its trace continues in our answer and log.
    if (const std::string_view traceparent = req.Header("traceparent");
        !traceparent.empty() && raw.count("traceparent") == 1) {
      req.trace = ContinueTrace(traceparent);
    }

    Response res = co_await Handle(req, match);
    if (req.trace) res.set("traceparent", req.trace->Traceparent());
    const auto micros =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count());
    RouteMetrics& rm = match.route ? route_metrics[match.route->index] : unmatched_metrics;
    const unsigned status_class = std::min(5u, res.result_int() / 100);
    if (rm.by_class[status_class]) rm.by_class[status_class]->Add();
    rm.latency->ObserveMicros(micros);
    if (options.access_log) {
      const std::string client = req.client.to_string();
      log::Access({.request_id = req.request_id,
                   .method = raw.method_string(),
                   .route = match.route ? std::string_view(match.route->pattern) : "-",
                   .path = req.path,
                   .status = res.result_int(),
                   .bytes = res.body().size(),
                   .micros = micros,
                   .member_id = req.identity ? req.identity->member_id : 0,
                   .client = client,
                   .trace_id = req.trace ? req.trace->TraceId() : std::string_view(),
                   .span_id = req.trace ? req.trace->SpanId() : std::string_view()});
    }
    request_id = std::move(req.request_id);
    stream = std::move(req.stream);
    stream_ends = req.stream_ends;
    co_return res;
  }

  asio::awaitable<Response> Handle(Request& req, const Match& match) {
    if (req.raw.target().size() > kMaxTargetBytes) {
      co_return ErrorResponse(MakeError(Errc::kValidationFailed, "request target too long"));
    }
    if (!match.route) {
      if (match.path_known) {
        Response res = ErrorResponse(MakeError(Errc::kMethodNotAllowed, "method not allowed"));
        res.set(beast_http::field::allow, match.allowed_methods);
        co_return res;
      }
      co_return ErrorResponse(MakeError(Errc::kNotFound, "no such route"));
    }
    const Route& route = *match.route;
    const bool behind_gateway = !options.identity_header.empty();
    const std::string_view token = behind_gateway ? req.Header(options.identity_header)
                                                  : BearerToken(req.Header("Authorization"));
    bool bad_credential = false;
    if (!token.empty()) {
      auto identity = authenticator.Authenticate(token);
      if (identity.ok()) {
        req.identity = std::move(identity.value());
      } else if (behind_gateway || route.options.access != Access::kPublic) {
        bad_credential = true;
      }
    }
    // Admission (rate limits) before anything else happens: a refused request reaches nothing.
    if (gate != nullptr && !route.options.exempt_from_limits) {
      std::optional<Response> refusal;
      if (!gate->AdmitNow(req, refusal)) refusal = co_await gate->Admit(req);
      if (refusal) co_return std::move(*refusal);
    }
    if (bad_credential) {
      co_return ErrorResponse(MakeError(Errc::kUnauthenticated, "invalid or expired access token"));
    }
    if (route.options.access != Access::kPublic && !req.identity) {
      Response res = ErrorResponse(MakeError(Errc::kUnauthenticated, "access token required"));
      res.set(beast_http::field::www_authenticate, "Bearer");
      co_return res;
    }
    if (route.options.access == Access::kAdmin && req.identity->role != auth::Role::kAdmin) {
      co_return ErrorResponse(MakeError(Errc::kForbidden, "admin role required"));
    }
    // The route rules (router.hpp), once here so no handler repeats them.
    if (!req.query.empty()) {
      if (auto st = CheckQuery(route.options, req.query); !st.ok()) {
        co_return ErrorResponse(st.error());
      }
    }
    if (route.options.body == BodyRule::kNone) {
      if (auto st = CheckBody(route.options, req.raw.body()); !st.ok()) {
        co_return ErrorResponse(st.error());
      }
      // "" and "{}" are the same request, for the handler and for an idempotency fingerprint.
      req.raw.body().clear();
    } else if (route.options.json_body && !req.raw.body().empty() &&
               !IsJsonContentType(req.Header("Content-Type"))) {
      co_return ErrorResponse(
          MakeError(Errc::kUnsupportedMediaType, "Content-Type must be application/json"));
    }
    try {
      co_return co_await route.handler(req);
    } catch (const std::exception& e) {
      spdlog::error("rid={} {} {} failed: {}", req.request_id, req.raw.method_string(),
                    route.pattern, e.what());
    }
    co_return ErrorResponse(MakeError(Errc::kInternal, "internal error"));
  }

  void BeginDrain() {
    if (draining.exchange(true)) return;
    spdlog::info("shutdown: draining connections");
    for (auto& w : workers) {
      asio::post(w->ioc, [this, worker = w.get()] {
        boost::system::error_code ec;
        worker->acceptor.close(ec);
        for (Worker::SessionState* s : worker->sessions) {
          if (!s->busy || s->streaming) s->socket->cancel(ec);
        }
        if (worker->sessions.empty()) worker->sweeper.cancel();
      });
    }
    if (signals) {
      asio::post(workers[0]->ioc, [this] {
        boost::system::error_code ec;
        signals->cancel(ec);
      });
    }
  }
};

Server::Server(ServerOptions options, const Router& router, const Authenticator& authenticator,
               metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(*this, std::move(options), router, authenticator, metrics)) {}

Server::~Server() = default;

namespace {

// "127.0.0.1:8080", "[::1]:8080".
std::string EndpointText(const asio::ip::address& address, std::uint16_t port) {
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(port);
}

// One line an operator can act on, instead of a library's error with its source location.
[[noreturn]] void ThrowBindError(const asio::ip::address& address, std::uint16_t port,
                                 const boost::system::error_code& ec) {
  std::string why;
  namespace errc = boost::system::errc;
  if (ec == errc::address_in_use) {
    why = "the port is already in use (another rocketmart or another program listens there)";
  } else if (ec == errc::permission_denied) {
    why = "permission denied (ports below 1024 need privileges)";
  } else if (ec == errc::address_not_available) {
    why = "the address is not one of this machine's";
  } else {
    why = ec.message();
  }
  throw std::runtime_error("cannot listen on " + EndpointText(address, port) + ": " + why);
}

}  // namespace

void Server::Bind() {
  Impl& im = *impl_;
  int threads = im.options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::random_device rd;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(im.options.host, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on \"" + im.options.host +
                             "\": not an IPv4 or IPv6 address");
  }
  std::uint16_t port = im.options.port;
  // Every worker binds the port with SO_REUSEPORT, which would also let a second process (another
  // rocketmart, with another database) join the port and take half of its connections. So a
  // named port is first bound once without SO_REUSEPORT: that fails while anyone listens there.
  // (SO_REUSEADDR stays on: connections of a previous run in TIME_WAIT do not block a restart.)
  // The caller serializes this check and the binds below across processes (ADR 0003).
  if (port != 0) {
    asio::io_context probe_ioc{1};
    tcp::acceptor probe(probe_ioc);
    const tcp::endpoint endpoint(address, port);
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) ThrowBindError(address, port, ec);
    probe.close(ec);
  }
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->request_id_prefix = std::to_string(rd() % 100000) + "-" + std::to_string(i) + "-";
    tcp::endpoint endpoint(address, port);
    w->acceptor.open(endpoint.protocol(), ec);
    if (!ec) w->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) w->acceptor.set_option(ReusePort(true), ec);
    if (!ec) w->acceptor.bind(endpoint, ec);
    if (!ec) w->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) ThrowBindError(address, port, ec);
    port = w->acceptor.local_endpoint().port();
    im.workers.push_back(std::move(w));
  }
  port_ = port;
  const std::string listener = "listener=\"" + metrics::EscapeLabel(im.options.name) + "\"";
  im.connections_rejected =
      &im.registry.GetCounter("http_connections_rejected_total",
                              "Connections closed at accept: max_connections reached", listener);
  im.registry.AddGauge("http_connections_active", "Open client connections", listener,
                       [this] { return static_cast<double>(active_connections()); });
}

void Server::SealRoutes() {
  Impl& im = *impl_;
  if (im.routes_sealed) return;
  im.routes_sealed = true;
  // Routes may be added after Bind() (the port is bound first, so a taken port stops the start
  // before anything else happens); they are final now.
  for (const auto& route : im.router.routes()) {
    im.route_metrics.push_back(
        im.MakeRouteMetrics(route->pattern, std::string(beast_http::to_string(route->method))));
  }
  im.unmatched_metrics = im.MakeRouteMetrics("unmatched", "any");
}

void Server::Run() {
  Impl& im = *impl_;
  SealRoutes();
  for (auto& w : im.workers) {
    asio::co_spawn(w->ioc, im.Accept(*w), asio::detached);
    asio::co_spawn(w->ioc, im.Sweep(*w), asio::detached);
  }
  if (im.options.handle_signals) {
    im.signals = std::make_unique<asio::signal_set>(im.workers[0]->ioc, SIGINT, SIGTERM);
    im.signals->async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) Shutdown();
    });
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(im.mutex);
    im.workers_running = im.workers.size();
  }
  for (auto& w : im.workers) {
    threads.emplace_back([&im, worker = w.get(), n = threads.size()] {
      NameThisThread((im.options.name == "public" ? "http" : im.options.name) + "-" +
                     std::to_string(n));
      worker->ioc.run();
      std::lock_guard lock(im.mutex);
      --im.workers_running;
      im.cv.notify_all();
    });
  }
  {
    std::unique_lock lock(im.mutex);
    im.cv.wait(lock, [&] { return im.shutdown_requested || im.workers_running == 0; });
    const auto deadline = std::chrono::steady_clock::now() + im.options.shutdown_grace;
    if (!im.cv.wait_until(lock, deadline, [&] { return im.workers_running == 0; })) {
      spdlog::warn("shutdown: grace period over, closing remaining connections");
    }
  }
  for (auto& w : im.workers) w->ioc.stop();
  for (auto& t : threads) t.join();
  spdlog::info("shutdown: server stopped");
}

void Server::SetGate(const RequestGate* gate) {
  impl_->gate = gate;
}

std::vector<asio::io_context::executor_type> Server::loop_executors() const {
  std::vector<asio::io_context::executor_type> out;
  for (const auto& w : impl_->workers) out.push_back(w->ioc.get_executor());
  return out;
}

void Server::OnLoopDrained(std::function<void()> hook) {
  impl_->drained_hooks.push_back(std::move(hook));
}

void Server::Shutdown() {
  Impl& im = *impl_;
  im.BeginDrain();
  std::lock_guard lock(im.mutex);
  im.shutdown_requested = true;
  im.cv.notify_all();
}

}  // namespace rocketmart::http
