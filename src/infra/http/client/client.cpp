#include "infra/http/client/client.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <deque>
#include <random>
#include <string_view>

namespace rocketmart::http::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Outcomes of a call, the `outcome` label of http_client_requests_total.
enum Outcome : std::size_t {
  kOk,
  k5xx,
  kTimedOut,
  kUnavailableOutcome,
  kOverloadedOutcome,
  kEjectedOutcome,
  kInvalid,
  kOutcomeCount
};
constexpr std::array<const char*, kOutcomeCount> kOutcomeNames = {
    "ok", "5xx", "timeout", "unavailable", "overloaded", "all_ejected", "invalid_response"};

// Unique across the process: an idle-timer completion closes a connection only if it is still in
// the same idle period it was armed for (a pointer alone could name a newer connection).
std::atomic<std::uint64_t> idle_periods{0};

}  // namespace

bool IsTransient(Errc code) noexcept {
  return code == Errc::kTimeout || code == Errc::kUnavailable || code == Errc::kOverloaded;
}

struct Client::Shared {
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::size_t> outstanding{0};
  std::array<metrics::Counter*, kOutcomeCount> outcomes{};
  metrics::Counter* retries = nullptr;
  metrics::Counter* retries_denied = nullptr;
  metrics::Counter* ejections = nullptr;
  metrics::Counter* connections_opened = nullptr;
  metrics::Counter* connection_waits = nullptr;
  metrics::Counter* bodies_cut = nullptr;
  metrics::Histogram* latency = nullptr;
};

struct Connection {
  Connection(const asio::any_io_executor& executor, std::shared_ptr<Client::Shared> s)
      : stream(executor),
        idle_timer(executor),
        context(&asio::query(executor, asio::execution::context)),
        shared(std::move(s)) {}
  ~Connection() {
    if (counted) shared->open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Opened() {
    counted = true;
    shared->open_connections.fetch_add(1, std::memory_order_relaxed);
    shared->connections_opened->Add();
  }
  // False when the peer closed it (or sent bytes nobody asked for) while it sat idle.
  bool StillUsable() {
    pollfd p{stream.socket().native_handle(), POLLIN | POLLRDHUP, 0};
    return buffer.size() == 0 && ::poll(&p, 1, 0) == 0;
  }

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::string head;  // the request head being written, kept for its capacity
  asio::steady_timer idle_timer;
  asio::execution_context* context;  // the loop it belongs to
  std::uint64_t idle_period = 0;
  bool counted = false;
  std::shared_ptr<Client::Shared> shared;
};

// A call of a loop waiting for a connection of that loop (its limit reached): a release hands it
// a connection, or a discarded connection hands it the freed slot; the timer ends the wait at the
// call's deadline. Lives in the waiting call's frame; touched only on that loop.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::unique_ptr<Connection> conn;  // a connection handed over
  bool granted = false;              // a slot handed over: open a new connection
};

// One event loop's connections to one endpoint, under the endpoint's pool_mutex. Invariant:
// `waiters` is empty whenever `idle` is not (a release serves a waiter before the idle list).
struct LoopPool {
  explicit LoopPool(asio::execution_context* c) : context(c) {}
  asio::execution_context* const context;
  std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
  std::size_t open = 0;                           // in use, idle or connecting
  std::deque<Waiter*> waiters;                    // oldest first
};

class StreamedBody;

EndpointState::EndpointState(Endpoint e)
    : endpoint(std::move(e)), id_hash(EndpointIdHash(endpoint.id)) {}
EndpointState::~EndpointState() = default;

struct Client::Attempt {
  enum class Kind {
    kResponse,            // a complete answer, any status
    kConnectFailed,       // nothing was sent
    kLostBeforeResponse,  // the request may have been sent; no byte of an answer came
    kLostInResponse,      // the answer broke off
    kTimeout,             // the deadline passed
    kTooLarge,            // the answer's header or body is over the limit
    kMalformed,           // not HTTP
    kNoConnection,        // the deadline passed waiting for a connection of this loop
  };
  Kind kind = Kind::kResponse;
  Response response;
  std::string detail;
  std::shared_ptr<StreamedBody> body;  // kResponse whose body follows (Send's `whole_up_to`)
};

namespace {

using Kind = Client::Attempt::Kind;

// What a read of an answer that failed with `ec` means; `got_some`: a byte of it had come.
Kind ReadFailure(const boost::system::error_code& ec, bool got_some) {
  if (ec == beast::error::timeout) return Kind::kTimeout;
  if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit) return Kind::kTooLarge;
  if (!got_some) return Kind::kLostBeforeResponse;
  if (ec == bhttp::error::partial_message || ec == asio::error::eof ||
      ec == asio::error::connection_reset) {
    return Kind::kLostInResponse;
  }
  return Kind::kMalformed;
}

// The pool of `context` at `state` (created on the loop's first call). Under pool_mutex.
LoopPool& PoolOf(EndpointState& state, asio::execution_context* context) {
  for (const auto& pool : state.pools) {
    if (pool->context == context) return *pool;
  }
  return *state.pools.emplace_back(std::make_unique<LoopPool>(context));
}

// A slot of `pool` freed (its connection closed or never opened): it goes to the oldest waiter,
// which opens a connection in its place, else the pool has one connection less. Under
// pool_mutex, on the pool's loop (or with no waiter possible).
void FreeSlot(LoopPool& pool) {
  if (pool.waiters.empty()) {
    --pool.open;
    return;
  }
  Waiter* waiter = pool.waiters.front();
  pool.waiters.pop_front();
  waiter->granted = true;
  waiter->timer.cancel();
}

// The slot a call holds in its loop's pool while it uses (or opens) a connection; freed on every
// path that does not give the connection back.
struct Slot {
  EndpointState* state = nullptr;
  LoopPool* pool = nullptr;
  Slot() = default;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() { Free(); }
  void Free() {
    if (pool == nullptr) return;
    std::lock_guard lock(state->pool_mutex);
    FreeSlot(*pool);
    pool = nullptr;
  }
};

// What a call gets from its loop's pool without waiting.
enum class Take { kIdle, kSlot, kWait };

// The most recently used idle connection of `pool` that is still usable, else a slot to open one
// (under the limit), else kWait (the caller queues `waiter` under the same lock).
Take TakeFromPool(EndpointState& state, LoopPool& pool, std::size_t max_connections,
                  std::unique_ptr<Connection>& conn, Waiter* waiter) {
  for (;;) {
    {
      std::lock_guard lock(state.pool_mutex);
      if (pool.idle.empty()) {
        if (pool.open < max_connections) {
          ++pool.open;
          return Take::kSlot;
        }
        if (waiter != nullptr) pool.waiters.push_back(waiter);
        return Take::kWait;
      }
      conn = std::move(pool.idle.back());
      pool.idle.pop_back();
    }
    conn->idle_period = 0;
    conn->idle_timer.cancel();
    if (conn->StillUsable()) return Take::kIdle;
    conn.reset();  // the peer closed it while it sat idle: its slot is free again
    std::lock_guard lock(state.pool_mutex);
    FreeSlot(pool);
  }
}

// After a complete answer that allows keep-alive: to the oldest call of this loop waiting for a
// connection, else idle in the pool until `idle_timeout` (the timer runs on the connection's own
// loop). False when the endpoint left the set (the caller closes it and frees its slot).
bool Release(const std::shared_ptr<EndpointState>& state, LoopPool& pool,
             std::unique_ptr<Connection>& conn, Millis idle_timeout) {
  conn->stream.expires_never();
  Connection* raw = conn.get();
  const std::uint64_t period = idle_periods.fetch_add(1, std::memory_order_relaxed) + 1;
  {
    std::lock_guard lock(state->pool_mutex);
    if (state->removed.load()) return false;
    if (!pool.waiters.empty()) {
      Waiter* waiter = pool.waiters.front();
      pool.waiters.pop_front();
      waiter->conn = std::move(conn);
      waiter->timer.cancel();
      return true;
    }
    raw->idle_period = period;
    pool.idle.push_back(std::move(conn));
  }
  // Only this loop's calls, idle timers and posted closes touch `raw` from here on, and they run
  // after this function returns.
  raw->idle_timer.expires_after(idle_timeout);
  raw->idle_timer.async_wait([weak = std::weak_ptr<EndpointState>(state), pool = &pool, raw,
                              period](boost::system::error_code ec) {
    if (ec) return;
    const auto s = weak.lock();
    if (!s) return;
    std::unique_ptr<Connection> doomed;
    std::lock_guard lock(s->pool_mutex);
    for (auto it = pool->idle.begin(); it != pool->idle.end(); ++it) {
      if (it->get() == raw && (*it)->idle_period == period) {
        doomed = std::move(*it);
        pool->idle.erase(it);
        FreeSlot(*pool);
        break;
      }
    }
  });
  return true;
}

// The idle connections of an endpoint that left the set, each closed on its own loop.
void CloseIdle(const std::shared_ptr<EndpointState>& state) {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    std::lock_guard lock(state->pool_mutex);
    for (auto& pool : state->pools) {
      pool->open -= pool->idle.size();  // no waiter while there are idle connections
      for (auto& conn : pool->idle) idle.push_back(std::move(conn));
      pool->idle.clear();
    }
  }
  for (auto& conn : idle) {
    const auto executor = conn->stream.get_executor();
    asio::post(executor, [doomed = std::shared_ptr<Connection>(std::move(conn))] {});
  }
}

bool IdempotentByDefault(const CallRequest& r) {
  switch (r.method) {
    case Method::get:
    case Method::head:
    case Method::put:
    case Method::delete_:
    case Method::options:
      return true;
    default:
      break;
  }
  return std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
    return beast::iequals(h.first, "idempotency-key") && !h.second.empty();
  });
}

// Retry n (1-based) waits in [b/2, b], b = min(base × 2^(n-1), cap): spread, never zero.
Millis Backoff(std::uint32_t retry, Millis base, Millis cap) {
  Millis b = base;
  for (std::uint32_t i = 1; i < retry && b < cap; ++i) b *= 2;
  b = std::min(b, cap);
  thread_local std::minstd_rand random{std::random_device{}()};
  std::uniform_int_distribution<Millis::rep> half(0, b.count() / 2);
  return b - b / 2 + Millis{half(random)};
}

// The addresses of `endpoint`: the literal itself, or a lookup bounded by `by`.
asio::awaitable<std::pair<boost::system::error_code, std::vector<tcp::endpoint>>> Resolve(
    const asio::any_io_executor& executor, const Endpoint& endpoint, Deadline by) {
  std::vector<tcp::endpoint> out;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    out.emplace_back(address, endpoint.port);
    co_return std::pair{ec, std::move(out)};
  }
  auto resolver = std::make_shared<tcp::resolver>(executor);
  asio::steady_timer guard(executor);
  guard.expires_at(by);
  guard.async_wait([resolver](boost::system::error_code e) {
    if (!e) resolver->cancel();
  });
  const std::string port = std::to_string(endpoint.port);
  auto [rec, results] = co_await resolver->async_resolve(endpoint.host, port, kNoThrow);
  guard.cancel();
  if (rec) {
    if (rec == asio::error::operation_aborted) rec = beast::error::timeout;
    co_return std::pair{rec, std::move(out)};
  }
  for (const auto& r : results) out.push_back(r.endpoint());
  co_return std::pair{rec, std::move(out)};
}

// The parts of a request this client writes itself (AppendHead): the same names in
// `CallRequest::headers` are left out (case-insensitive).
bool IsOwnHeader(std::string_view name, const CallRequest& r) {
  return beast::iequals(name, "host") || beast::iequals(name, "content-length") ||
         beast::iequals(name, "transfer-encoding") || beast::iequals(name, "connection") ||
         beast::iequals(name, "x-request-deadline-ms") ||
         (!r.request_id.empty() && beast::iequals(name, "x-request-id")) ||
         (!r.traceparent.empty() && beast::iequals(name, "traceparent")) ||
         (!r.body.empty() && beast::iequals(name, "content-type"));
}

// Text that would end a header line early (request splitting): such a header is not sent.
bool BreaksLine(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void AppendNumber(std::string& out, std::int64_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, end);
}

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// The head of `r` for `to` as HTTP/1.1 keep-alive, appended to `out` (the connection's buffer, so
// a call allocates nothing here once it has grown): the request line, the caller's headers, Host,
// X-Request-Id and traceparent when given, the remaining time, Content-Type with a body, and
// Content-Length as Beast's prepare_payload sets it (a body, or a POST, PUT or OPTIONS).
void AppendHead(std::string& out, const CallRequest& r, const Endpoint& to, Millis remaining) {
  out.append(bhttp::to_string(r.method)).append(" ").append(r.target).append(" HTTP/1.1\r\n");
  for (const auto& [name, value] : r.headers) {
    if (IsOwnHeader(name, r) || BreaksLine(name) || BreaksLine(value) || name.empty()) continue;
    AppendField(out, name, value);
  }
  out.append("Host: ").append(to.host).append(":");
  AppendNumber(out, to.port);
  out.append("\r\n");
  if (!r.request_id.empty() && !BreaksLine(r.request_id)) {
    AppendField(out, "X-Request-Id", r.request_id);
  }
  if (!r.traceparent.empty() && !BreaksLine(r.traceparent)) {
    AppendField(out, "traceparent", r.traceparent);
  }
  out.append("X-Request-Deadline-Ms: ");
  AppendNumber(out, std::max<Millis::rep>(remaining.count(), 1));
  out.append("\r\n");
  if (!r.body.empty() && !BreaksLine(r.content_type)) {
    AppendField(out, "Content-Type", r.content_type);
  }
  if (!r.body.empty() || r.method == Method::post || r.method == Method::put ||
      r.method == Method::options) {
    out.append("Content-Length: ");
    AppendNumber(out, static_cast<std::int64_t>(r.body.size()));
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace

// A body read after its head (BodyReader): owns the call's connection and its slot in the loop's
// pool until the body ends; then the call's end (balancer report, outstanding count) happens.
class StreamedBody final : public BodyReader {
 public:
  StreamedBody(std::shared_ptr<Client::Shared> shared, Pick pick, Deadline deadline,
               Millis idle_timeout, const std::string& peer)
      : shared_(std::move(shared)),
        pick_(std::move(pick)),
        deadline_(deadline),
        idle_timeout_(idle_timeout),
        where_(peer + " (" + pick_.state->endpoint.id + ")") {}
  ~StreamedBody() override {
    conn_.reset();  // dropped before its end: closed, before its slot is freed
    slot_.Free();
    End(false);  // not the endpoint's failure (a body that ended or failed has ended already)
  }
  StreamedBody(const StreamedBody&) = delete;
  StreamedBody& operator=(const StreamedBody&) = delete;

  // Takes the call's connection, its slot and the parser that has read the head.
  void Take(std::unique_ptr<Connection>& conn, Slot& slot,
            bhttp::response_parser<bhttp::string_body>&& head_parser) {
    conn_ = std::move(conn);
    slot_.state = slot.state;
    slot_.pool = slot.pool;
    slot.pool = nullptr;
    parser_.emplace(std::move(head_parser));
    parser_->body_limit(boost::none);  // bounded memory, not bounded size
  }
  const Response::header_type& head() { return parser_->get().base(); }
  // The call ends with the body (Client::Call): `failed` is what the head alone says (a 5xx),
  // `outstanding` whether this body holds the call's place in max_outstanding.
  void Adopt(Balancer& balancer, bool failed, bool outstanding) {
    balancer_ = &balancer;
    failed_ = failed;
    outstanding_ = outstanding;
  }

  asio::awaitable<Result<std::size_t>> Read(std::span<char> into) override {
    if (error_) co_return *error_;
    if (done_) co_return std::size_t{0};
    auto& parser = *parser_;
    for (;;) {
      parser.get().body().data = into.data();
      parser.get().body().size = into.size();
      conn_->stream.expires_at(deadline_);
      auto [read_ec, read] =
          co_await bhttp::async_read_some(conn_->stream, conn_->buffer, parser, kNoThrow);
      const std::size_t got = into.size() - parser.get().body().size;
      if (read_ec && read_ec != bhttp::error::need_buffer) co_return Fail(read_ec);
      if (parser.is_done()) Finish();
      if (got > 0 || done_) co_return got;
    }
  }

  void Cancel() override {
    cancelled_ = true;
    if (conn_) conn_->stream.cancel();
  }

 private:
  // The whole body came: the connection goes back to its pool when the answer allows it.
  void Finish() {
    done_ = true;
    if (parser_->keep_alive() && conn_->buffer.size() == 0 &&
        Release(pick_.state, *slot_.pool, conn_, idle_timeout_)) {
      slot_.pool = nullptr;  // the slot went with the connection
    } else {
      conn_.reset();
      slot_.Free();
    }
    End(failed_);
  }

  // The body broke off (or was cancelled): the connection is closed, never reused half-read.
  Error Fail(const boost::system::error_code& ec) {
    conn_.reset();
    slot_.Free();
    if (cancelled_) {
      error_ = MakeError(Errc::kUnavailable, "the answer of " + where_ + " was abandoned");
    } else if (ec == beast::error::timeout) {
      error_ = MakeError(Errc::kTimeout, where_ + " did not finish its answer within the deadline");
    } else if (ReadFailure(ec, true) == Kind::kMalformed) {
      error_ = MakeError(Errc::kInternal, "invalid answer from " + where_ + ": " + ec.message());
    } else {
      error_ = MakeError(Errc::kUnavailable, where_ + " cut its answer: " + ec.message());
    }
    if (!cancelled_) shared_->bodies_cut->Add();
    End(!cancelled_);
    return *error_;
  }

  void End(bool failed) {
    if (balancer_ != nullptr && balancer_->Finish(pick_, failed)) shared_->ejections->Add();
    balancer_ = nullptr;
    if (outstanding_) shared_->outstanding.fetch_sub(1, std::memory_order_relaxed);
    outstanding_ = false;
  }

  std::shared_ptr<Client::Shared> shared_;
  Pick pick_;  // keeps the endpoint and its pools alive
  Deadline deadline_;
  Millis idle_timeout_;
  std::string where_;
  Balancer* balancer_ = nullptr;
  bool failed_ = false;
  bool outstanding_ = false;
  Slot slot_;
  std::unique_ptr<Connection> conn_;  // after slot_: closed before its slot is freed
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::optional<Error> error_;
  bool done_ = false;
  bool cancelled_ = false;
};

Client::Client(ClientOptions options, const Clock& clock, metrics::Registry& registry)
    : options_(std::move(options)),
      shared_(std::make_shared<Shared>()),
      balancer_(clock, options_.breaker),
      budget_(clock, options_.retry_budget) {
  options_.max_attempts = std::max<std::uint32_t>(options_.max_attempts, 1);
  const std::string peer = "peer=\"" + metrics::EscapeLabel(options_.peer) + "\"";
  Shared& s = *shared_;
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    s.outcomes[i] =
        &registry.GetCounter("http_client_requests_total", "Calls to a peer service, by outcome",
                             peer + ",outcome=\"" + kOutcomeNames[i] + "\"");
  }
  s.retries = &registry.GetCounter("http_client_retries_total", "Retries sent to a peer", peer);
  s.retries_denied = &registry.GetCounter("http_client_retries_denied_total",
                                          "Retries the retry budget refused", peer);
  s.ejections = &registry.GetCounter("http_client_ejections_total",
                                     "Endpoints ejected by the circuit breaker", peer);
  s.connections_opened = &registry.GetCounter("http_client_connections_opened_total",
                                              "Connections opened to a peer", peer);
  s.connection_waits = &registry.GetCounter(
      "http_client_connection_waits_total",
      "Calls that waited for a connection: their loop had max_connections_per_loop open", peer);
  s.bodies_cut = &registry.GetCounter(
      "http_client_bodies_cut_total",
      "Streamed answers that broke off mid-body (peer closed, malformed, deadline)", peer);
  s.latency = &registry.GetHistogram("http_client_request_duration_seconds",
                                     "Calls to a peer, retries included", peer);
  registry.AddGauge(
      "http_client_connections_open", "Open connections to a peer", peer, [shared = shared_] {
        return static_cast<double>(shared->open_connections.load(std::memory_order_relaxed));
      });
  balancer_.OnRemoved(&CloseIdle);
}

Client::~Client() {
  DropIdleConnections();
}

void Client::DropIdleConnections() {
  for (const auto& state : balancer_.Snapshot()) {
    std::lock_guard lock(state->pool_mutex);
    for (auto& pool : state->pools) pool->idle.clear();
  }
}

void Client::DropIdleConnectionsOf(asio::execution_context* loop) {
  for (const auto& state : balancer_.Snapshot()) {
    std::lock_guard lock(state->pool_mutex);
    for (auto& pool : state->pools) {
      if (pool->context == loop) pool->idle.clear();
    }
  }
}

std::size_t Client::open_connections() const {
  return static_cast<std::size_t>(
      std::max<std::int64_t>(0, shared_->open_connections.load(std::memory_order_relaxed)));
}

asio::awaitable<Client::Attempt> Client::Send(const Pick& pick, const CallRequest& request,
                                              Deadline deadline, std::size_t whole_up_to) {
  EndpointState& state = *pick.state;
  const auto executor = co_await asio::this_coro::executor;
  LoopPool* pool = nullptr;
  {
    std::lock_guard lock(state.pool_mutex);
    pool = &PoolOf(state, &asio::query(executor, asio::execution::context));
  }
  Slot slot;  // declared before the connection: the connection closes before its slot is freed
  std::unique_ptr<Connection> conn;
  Take take = TakeFromPool(state, *pool, options_.max_connections_per_loop, conn, nullptr);
  if (take == Take::kWait) {
    // Every connection this loop may have to the endpoint is busy: wait for one (or for a slot)
    // until the deadline rather than open more.
    shared_->connection_waits->Add();
    Waiter waiter(executor);
    take = TakeFromPool(state, *pool, options_.max_connections_per_loop, conn, &waiter);
    if (take == Take::kWait) {
      waiter.timer.expires_at(deadline);
      co_await waiter.timer.async_wait(kNoThrow);
      std::lock_guard lock(state.pool_mutex);
      if (waiter.conn) {
        conn = std::move(waiter.conn);
        take = Take::kIdle;
      } else if (waiter.granted) {
        take = Take::kSlot;
      } else {
        pool->waiters.erase(std::find(pool->waiters.begin(), pool->waiters.end(), &waiter));
      }
    }
    if (take == Take::kWait) {
      co_return Attempt{Kind::kNoConnection, {}, "every connection of this loop stayed busy"};
    }
  }
  slot.state = &state;
  slot.pool = pool;
  if (take == Take::kSlot) {
    conn = std::make_unique<Connection>(executor, shared_);
    const Deadline connect_by = std::min(deadline, SteadyClock::now() + options_.connect_timeout);
    auto [resolve_ec, addresses] = co_await Resolve(executor, state.endpoint, connect_by);
    boost::system::error_code ec = resolve_ec;
    if (!ec) {
      conn->stream.expires_at(connect_by);
      auto [connect_ec, connected] = co_await conn->stream.async_connect(addresses, kNoThrow);
      ec = connect_ec;
    }
    if (ec) {
      const bool out_of_time = ec == beast::error::timeout && SteadyClock::now() >= deadline;
      co_return Attempt{out_of_time ? Kind::kTimeout : Kind::kConnectFailed, {}, ec.message()};
    }
    conn->stream.socket().set_option(tcp::no_delay(true), ec);
    conn->Opened();
  }

  conn->head.clear();
  AppendHead(conn->head, request, state.endpoint,
             std::chrono::ceil<Millis>(deadline - SteadyClock::now()));
  conn->stream.expires_at(deadline);
  const std::array<asio::const_buffer, 2> message{asio::buffer(conn->head),
                                                  asio::buffer(request.body)};
  auto [write_ec, written] = co_await asio::async_write(conn->stream, message, kNoThrow);
  if (write_ec) {
    co_return Attempt{
        write_ec == beast::error::timeout ? Kind::kTimeout : Kind::kLostBeforeResponse,
        {},
        write_ec.message()};
  }

  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options_.max_response_header_bytes));
  // A caller that takes long bodies streamed reads whole only those within both limits.
  const bool may_stream = whole_up_to != kAlwaysWhole;
  whole_up_to = std::min(whole_up_to, options_.max_response_body_bytes);
  if (may_stream) {
    parser.body_limit(boost::none);  // a longer one is streamed, not refused
  } else {
    parser.body_limit(options_.max_response_body_bytes);
  }
  if (request.method == Method::head) parser.skip(true);
  auto [head_ec, head_read] =
      co_await bhttp::async_read_header(conn->stream, conn->buffer, parser, kNoThrow);
  boost::system::error_code ec = head_ec;
  if (!ec && !parser.is_done()) {
    const auto length = parser.content_length();
    if (may_stream && (!length || *length > whole_up_to)) {
      // A long body (or one of unknown length): the head goes back now, the body follows.
      auto body = std::make_shared<StreamedBody>(shared_, pick, deadline, options_.idle_timeout,
                                                 options_.peer);
      body->Take(conn, slot, std::move(parser));
      Attempt streamed{Kind::kResponse, Response{body->head()}, {}};
      streamed.body = std::move(body);
      co_return streamed;
    }
    // A short body came with its head almost always: parsed where it is, read only if it did not.
    while (!parser.is_done() && conn->buffer.size() > 0) {
      const std::size_t used = parser.put(conn->buffer.data(), ec);
      conn->buffer.consume(used);
      if (ec || used == 0) break;
    }
    if (ec == bhttp::error::need_more) ec = {};
    if (!ec && !parser.is_done()) {
      auto [body_ec, body_read] =
          co_await bhttp::async_read(conn->stream, conn->buffer, parser, kNoThrow);
      ec = body_ec;
    }
  }
  if (ec) {
    // The connection closes here.
    co_return Attempt{ReadFailure(ec, parser.got_some()), {}, ec.message()};
  }
  Response response = parser.release();
  if (response.keep_alive() && conn->buffer.size() == 0 &&
      Release(pick.state, *pool, conn, options_.idle_timeout)) {
    slot.pool = nullptr;  // the slot went with the connection
  }
  co_return Attempt{Kind::kResponse, std::move(response), {}};
}

asio::awaitable<Result<Reply>> Client::Call(CallRequest request, std::size_t whole_up_to) {
  const auto started = SteadyClock::now();
  const Deadline deadline =
      request.deadline == kNoDeadline ? started + options_.default_timeout : request.deadline;
  Shared& shared = *shared_;
  const auto finish = [&](Outcome outcome) {
    shared.outcomes[outcome]->Add();
    shared.latency->ObserveMicros(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started)
            .count()));
  };
  if (deadline <= started) {
    finish(kTimedOut);
    co_return MakeError(Errc::kTimeout, "no time left to call " + options_.peer);
  }
  if (shared.outstanding.fetch_add(1, std::memory_order_relaxed) >= options_.max_outstanding) {
    shared.outstanding.fetch_sub(1, std::memory_order_relaxed);
    finish(kOverloadedOutcome);
    co_return MakeError(Errc::kOverloaded, "too many calls in flight to " + options_.peer);
  }
  struct Outstanding {
    std::atomic<std::size_t>& n;
    bool held = true;  // false once a streamed body holds it (StreamedBody::Adopt)
    ~Outstanding() {
      if (held) n.fetch_sub(1, std::memory_order_relaxed);
    }
  } outstanding{shared.outstanding};
  budget_.OnRequest();
  const bool idempotent = request.idempotent.value_or(IdempotentByDefault(request));

  std::vector<std::shared_ptr<EndpointState>> tried;  // keeps the pointers below unique
  std::vector<const EndpointState*> tried_ids;
  Attempt a;
  std::uint32_t attempts = 0;
  for (;;) {
    const Pick pick = balancer_.Choose(tried_ids, request.affinity);
    if (!pick.state) {
      if (attempts > 0) break;  // a retry found every endpoint ejected: the last answer stands
      if (pick.failure == PickFailure::kAllEjected) {
        finish(kEjectedOutcome);
        co_return MakeError(Errc::kOverloaded,
                            "every endpoint of " + options_.peer + " is ejected; retry in " +
                                std::to_string(pick.retry_after.count()) + " ms");
      }
      finish(kUnavailableOutcome);
      co_return MakeError(Errc::kUnavailable, "no endpoint of " + options_.peer + " is known");
    }
    ++attempts;
    const auto attempt_started = SteadyClock::now();
    a = co_await Send(pick, request, deadline, whole_up_to);
    const unsigned status = a.kind == Kind::kResponse ? a.response.result_int() : 0;
    Verdict verdict = Verdict::kHealthy;
    if (status >= 500 || a.kind == Kind::kConnectFailed || a.kind == Kind::kLostBeforeResponse ||
        a.kind == Kind::kLostInResponse) {
      verdict = Verdict::kFailed;
    } else if (a.kind == Kind::kTimeout) {
      // Only an attempt given a fair time judges the endpoint, not the caller's short deadline.
      verdict = deadline - attempt_started >= options_.min_attempt_for_ejection
                    ? Verdict::kFailed
                    : Verdict::kInconclusive;
    } else if (a.kind == Kind::kNoConnection) {
      verdict = Verdict::kInconclusive;  // this process's own connection limit
    }
    tried.push_back(pick.state);
    tried_ids.push_back(pick.state.get());
    const bool retryable =
        a.kind == Kind::kConnectFailed ||
        (idempotent &&
         (a.kind == Kind::kLostBeforeResponse ||
          (a.kind == Kind::kResponse && (status == 502 || status == 503 || status == 504))));
    bool again = retryable && attempts < options_.max_attempts;
    const Millis wait =
        again ? Backoff(attempts, options_.backoff_base, options_.backoff_cap) : Millis{0};
    if (again && SteadyClock::now() + wait >= deadline) again = false;
    if (again && !budget_.TryRetry()) {
      shared.retries_denied->Add();
      again = false;
    }
    if (a.body && !again) {
      // The answer's body follows: the call ends with it (StreamedBody).
      a.body->Adopt(balancer_, verdict == Verdict::kFailed, true);
      outstanding.held = false;
    } else if (balancer_.Finish(pick, verdict)) {
      shared.ejections->Add();
    }
    if (!again) break;
    shared.retries->Add();
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer pause(executor, wait);
    co_await pause.async_wait(kNoThrow);
  }
  const std::string& id = tried.back()->endpoint.id;
  switch (a.kind) {
    case Kind::kResponse: {
      finish(a.response.result_int() >= 500 ? k5xx : kOk);
      co_return Reply{std::move(a.response), id, attempts, std::move(a.body)};
    }
    case Kind::kTimeout:
      finish(kTimedOut);
      co_return MakeError(Errc::kTimeout, options_.peer + " did not answer within the deadline");
    case Kind::kNoConnection:
      finish(kTimedOut);
      co_return MakeError(Errc::kTimeout, "no connection to " + options_.peer +
                                              " came free within the deadline (" + a.detail + ")");
    case Kind::kTooLarge:
    case Kind::kMalformed:
      finish(kInvalid);
      co_return MakeError(Errc::kInternal,
                          "invalid answer from " + options_.peer + " (" + id + "): " + a.detail);
    case Kind::kConnectFailed:
    case Kind::kLostBeforeResponse:
    case Kind::kLostInResponse:
      break;
  }
  finish(kUnavailableOutcome);
  co_return MakeError(Errc::kUnavailable, options_.peer + " (" + id + ") unreachable: " + a.detail);
}

}  // namespace rocketmart::http::client
