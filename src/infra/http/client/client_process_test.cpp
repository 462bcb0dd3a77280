// The service-to-service client against real peers: the project's own http::Server instances on
// port 0 (several = several endpoints) whose handlers answer, wait, fail with 503 or answer too
// much, a port nobody listens on, and a TCP relay in front of a server that counts connections
// (or takes a request and closes without answering). Cool-downs and the retry budget's window
// run on a FakeClock; waits for other threads are bounded conditions.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "infra/http/client/client.hpp"
#include "infra/http/router.hpp"
#include "infra/http/server.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/latch.hpp"
#include "support/loopback_server.hpp"
#include "support/wait.hpp"

namespace rocketmart::http::client {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> Pause(std::chrono::milliseconds d) {
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, d);
  co_await timer.async_wait(kNoThrow);
}

// A real http::Server on 127.0.0.1:0 with the routes a peer needs for these tests. Counts the
// requests each route received.
class Peer {
 public:
  explicit Peer(std::string name) : name_(std::move(name)) {
    router_.Add(Method::get, "/ok", {}, [this](Request&) -> asio::awaitable<Response> {
      ++ok_;
      co_return TextResponse(Status::ok, "ok:" + name_, "text/plain");
    });
    router_.Add(Method::get, "/slow", RouteOptions{.query = {"ms"}},
                [this](Request& r) -> asio::awaitable<Response> {
                  ++slow_;
                  const auto ms = r.IntQueryParam("ms", 0, 60000, 0);
                  const std::chrono::milliseconds wait(ms.ok() ? *ms : 0);
                  co_await Pause(wait);
                  co_return TextResponse(Status::ok, "slow:" + name_, "text/plain");
                });
    const auto fail = [this](Request&) -> asio::awaitable<Response> {
      ++fail_;
      co_return ErrorResponse(MakeError(Errc::kUnavailable, "failing on purpose"));
    };
    router_.Add(Method::get, "/fail", {}, fail);
    router_.Add(Method::post, "/fail", {}, fail);
    router_.Add(Method::get, "/flaky", {}, [this](Request&) -> asio::awaitable<Response> {
      ++flaky_;
      if (failing_.load()) co_return ErrorResponse(MakeError(Errc::kUnavailable, "flaky"));
      co_return TextResponse(Status::ok, "flaky:" + name_, "text/plain");
    });
    // Answers only once Release() was called: a peer that is slower than a caller's deadline
    // for as long as a test needs, or one that never answers.
    router_.Add(Method::get, "/held", {}, [this](Request&) -> asio::awaitable<Response> {
      ++held_;
      const std::chrono::milliseconds tick(1);
      while (!released_.load()) co_await Pause(tick);
      co_return TextResponse(Status::ok, "held:" + name_, "text/plain");
    });
    router_.Add(Method::post, "/echo", {}, [this](Request& r) -> asio::awaitable<Response> {
      ++echo_;
      boost::json::object o;
      o["deadline_ms"] = std::string(r.Header("X-Request-Deadline-Ms"));
      o["traceparent"] = std::string(r.Header("traceparent"));
      o["request_id"] = std::string(r.Header("X-Request-Id"));
      o["body"] = std::string(r.Body());
      o["peer"] = name_;
      o["injected"] = std::string(r.Header("X-Injected"));
      o["caller"] = std::string(r.Header("X-Caller"));
      co_return JsonResponse(Status::ok, o);
    });
    router_.Add(Method::get, "/big", RouteOptions{.query = {"bytes"}},
                [this](Request& r) -> asio::awaitable<Response> {
                  ++big_;
                  const auto n = r.IntQueryParam("bytes", 0, 10'000'000, 0);
                  co_return TextResponse(Status::ok, std::string(n.ok() ? *n : 0, 'x'),
                                         "text/plain");
                });
    router_.Add(Method::get, "/bigheader", {}, [](Request&) -> asio::awaitable<Response> {
      Response res = TextResponse(Status::ok, "small body", "text/plain");
      res.set("X-Padding", std::string(32 * 1024, 'p'));
      co_return res;
    });
    server_ = std::make_unique<Server>(testing::LoopbackServerOptions("peer-" + name_), router_,
                                       auth_, registry_);
    server_->Bind();
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~Peer() {
    released_ = true;
    server_->Shutdown();
    thread_.join();
  }

  Endpoint endpoint() const { return {name_, "127.0.0.1", server_->port()}; }
  std::uint16_t port() const { return server_->port(); }
  void SetFailing(bool failing) { failing_ = failing; }
  void Release() { released_ = true; }

  std::atomic<int> ok_{0}, slow_{0}, fail_{0}, flaky_{0}, echo_{0}, big_{0}, held_{0};

 private:
  std::string name_;
  Router router_;
  http::NoMemberIdentities auth_;
  metrics::Registry registry_;
  std::atomic<bool> failing_{true};
  std::atomic<bool> released_{false};
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

// A TCP relay on 127.0.0.1:0 in front of `upstream` that counts the connections it accepts. In
// kCloseAfterRequest mode it forwards nothing: it reads a request head, counts it and closes the
// connection without a byte of answer.
class Relay {
 public:
  enum class Mode { kForward, kCloseAfterRequest };
  Relay(std::uint16_t upstream, Mode mode)
      : upstream_(upstream),
        mode_(mode),
        acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, Accept(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Relay() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      CloseAll();
    });
    work_.reset();
    thread_.join();
  }
  Endpoint endpoint(std::string id) const { return {std::move(id), "127.0.0.1", port()}; }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_.load(); }
  int active() const { return active_.load(); }
  int swallowed() const { return swallowed_.load(); }
  // Closes every relayed connection, as a peer restarting or timing idle connections out would.
  void DropAll() {
    std::promise<void> done;
    asio::post(ioc_, [&] {
      CloseAll();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  struct Pair {
    explicit Pair(Relay& r, tcp::socket c) : relay(r), client(std::move(c)), server(r.ioc_) {
      ++relay.active_;
    }
    ~Pair() { --relay.active_; }
    void Close() {
      boost::system::error_code ignored;
      client.close(ignored);
      server.close(ignored);
    }
    Relay& relay;
    tcp::socket client;
    tcp::socket server;
  };

  void CloseAll() {
    for (const auto& weak : pairs_) {
      if (auto p = weak.lock()) p->Close();
    }
    pairs_.clear();
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      ++accepted_;
      auto pair = std::make_shared<Pair>(*this, std::move(socket));
      pairs_.push_back(pair);
      if (mode_ == Mode::kCloseAfterRequest) {
        asio::co_spawn(ioc_, Swallow(pair), asio::detached);
      } else {
        asio::co_spawn(ioc_, Connect(pair), asio::detached);
      }
    }
  }
  asio::awaitable<void> Swallow(std::shared_ptr<Pair> pair) {
    std::string seen;
    char buf[4096];
    while (seen.find("\r\n\r\n") == std::string::npos) {
      auto [ec, n] = co_await pair->client.async_read_some(asio::buffer(buf), kNoThrow);
      if (ec) co_return;
      seen.append(buf, n);
    }
    ++swallowed_;
    pair->Close();
  }
  asio::awaitable<void> Connect(std::shared_ptr<Pair> pair) {
    const tcp::endpoint target(asio::ip::make_address("127.0.0.1"), upstream_);
    auto [ec] = co_await pair->server.async_connect(target, kNoThrow);
    if (ec) {
      pair->Close();
      co_return;
    }
    asio::co_spawn(ioc_, Pump(pair, pair->server, pair->client), asio::detached);
    co_await Pump(pair, pair->client, pair->server);
  }
  static asio::awaitable<void> Pump(std::shared_ptr<Pair> pair, tcp::socket& from,
                                    tcp::socket& to) {
    char buf[16384];
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kNoThrow);
      if (ec) break;
      auto [wec, written] = co_await asio::async_write(to, asio::buffer(buf, n), kNoThrow);
      if (wec) break;
    }
    pair->Close();
  }

  std::uint16_t upstream_;
  Mode mode_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<Pair>> pairs_;
  std::atomic<int> accepted_{0}, active_{0}, swallowed_{0};
  std::thread thread_;
};

// An event loop on its own thread, as a service's I/O thread would be.
class Loop {
 public:
  Loop() : thread_([this] { ioc_.run(); }) {}
  ~Loop() { Stop(); }
  void Stop() {
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  asio::io_context& context() { return ioc_; }

  // Runs `task` on the loop and waits for its value.
  template <class T>
  T Run(asio::awaitable<T> task) {
    std::optional<T> out;
    std::promise<void> done;
    auto wrapper = [](std::optional<T>& out, asio::awaitable<T> task) -> asio::awaitable<void> {
      T value = co_await std::move(task);
      out.emplace(std::move(value));
    };
    asio::co_spawn(ioc_, wrapper(out, std::move(task)), [&done](std::exception_ptr e) {
      if (e) {
        done.set_exception(e);
      } else {
        done.set_value();
      }
    });
    done.get_future().get();
    return std::move(*out);
  }

 private:
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::thread thread_;
};

// A dead endpoint: a port that was just bound and closed, so nothing listens there.
Endpoint Refusing(std::string id) {
  return {std::move(id), "127.0.0.1", testing::FreeLoopbackPort()};
}

CallRequest Get(std::string target, Millis timeout = Millis{5000}) {
  CallRequest r;
  r.method = Method::get;
  r.target = std::move(target);
  r.deadline = SteadyClock::now() + timeout;
  return r;
}

CallRequest Post(std::string target, std::string body = "{}") {
  CallRequest r;
  r.method = Method::post;
  r.target = std::move(target);
  r.body = std::move(body);
  r.deadline = SteadyClock::now() + Millis{5000};
  return r;
}

std::uint64_t Metric(const metrics::Registry& registry, const std::string& series) {
  const std::string text = registry.RenderPrometheus();
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + series.size() + 2));
}

class HttpClientTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // The client goes after its loops stopped and before their io_contexts (client.hpp).
    loop.Stop();
    second.Stop();
    client.reset();
  }
  Client& Make(ClientOptions options = {}) {
    options.peer = "test";
    client = std::make_unique<Client>(std::move(options), clock, registry);
    return *client;
  }
  Result<Reply> Call(CallRequest r) { return loop.Run(client->Call(std::move(r))); }

  FakeClock clock;
  metrics::Registry registry;
  Loop loop;
  Loop second;  // another event loop of the same process, for tests that use two
  std::unique_ptr<Client> client;
};

TEST_F(HttpClientTest, SequentialCallsReuseOneKeepAliveConnection) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  Make().endpoints().Update({relay.endpoint("a")});
  for (int i = 0; i < 50; ++i) {
    const auto reply = Call(Get("/ok"));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(reply->response.result_int(), 200U);
    EXPECT_EQ(reply->response.body(), "ok:a");
  }
  EXPECT_EQ(peer.ok_.load(), 50);
  EXPECT_EQ(relay.accepted(), 1) << "every call after the first reused the connection";
  EXPECT_EQ(client->open_connections(), 1U);
  EXPECT_EQ(Metric(registry, "http_client_connections_opened_total{peer=\"test\"}"), 1U);
  EXPECT_EQ(Metric(registry, "http_client_requests_total{peer=\"test\",outcome=\"ok\"}"), 50U);
}

TEST_F(HttpClientTest, AConnectionThePeerClosedWhileIdleIsNotReused) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  Make().endpoints().Update({relay.endpoint("a")});
  ASSERT_TRUE(Call(Get("/ok")).ok());
  relay.DropAll();
  ASSERT_TRUE(testing::WaitUntil([&] { return relay.active() == 0; }));
  // A POST is never retried once sent: it succeeds only because the closed connection was
  // noticed before it was used.
  const auto reply = Call(Post("/echo"));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->response.result_int(), 200U);
  EXPECT_EQ(reply->attempts, 1U);
  EXPECT_EQ(relay.accepted(), 2);
  EXPECT_EQ(peer.echo_.load(), 1);
}

TEST_F(HttpClientTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  ClientOptions options;
  options.idle_timeout = Millis{100};
  Make(options).endpoints().Update({relay.endpoint("a")});
  ASSERT_TRUE(Call(Get("/ok")).ok());
  EXPECT_EQ(client->open_connections(), 1U);
  ASSERT_TRUE(testing::WaitUntil([&] { return relay.active() == 0; }, std::chrono::seconds{5}));
  EXPECT_EQ(client->open_connections(), 0U);
  ASSERT_TRUE(Call(Get("/ok")).ok());
  EXPECT_EQ(relay.accepted(), 2);
}

// `n` calls of GET `target` at once on `loop`; returns how many answered 200.
int ConcurrentCalls(Client& client, asio::io_context& loop, int n, const std::string& target,
                    Millis timeout = Millis{5000}) {
  std::atomic<int> ok{0};
  testing::Counter finished;
  auto one = [](Client& client, std::string target, Millis timeout, std::atomic<int>& ok,
                testing::Counter& finished) -> asio::awaitable<void> {
    const auto reply = co_await client.Call(Get(std::move(target), timeout));
    if (reply.ok() && reply->response.result_int() == 200) ++ok;
    finished.Add();
  };
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(loop, one(client, target, timeout, ok, finished), asio::detached);
  }
  EXPECT_TRUE(finished.WaitFor(n, std::chrono::seconds{30}));
  return ok.load();
}

// The pool of one loop grows to the loop's concurrency and keeps it: bursts of concurrent calls
// and sequential calls after them open no connection beyond the largest burst, however many
// idle connections another loop holds to the same endpoint.
TEST_F(HttpClientTest, ALoopOpensNoMoreConnectionsThanItsConcurrencyAcrossBursts) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  Make().endpoints().Update({relay.endpoint("a")});
  constexpr int kOtherLoop = 40;
  constexpr int kBurst = 48;
  EXPECT_EQ(ConcurrentCalls(*client, second.context(), kOtherLoop, "/slow?ms=50"), kOtherLoop);
  const int other = relay.accepted();
  EXPECT_LE(other, kOtherLoop);
  for (int round = 0; round < 10; ++round) {
    EXPECT_EQ(ConcurrentCalls(*client, loop.context(), kBurst, "/slow?ms=20"), kBurst);
  }
  for (int i = 0; i < 100; ++i) {
    const auto reply = Call(Get("/ok"));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
  }
  EXPECT_EQ(peer.slow_.load(), kOtherLoop + 10 * kBurst);
  EXPECT_EQ(peer.ok_.load(), 100);
  EXPECT_LE(relay.accepted(), other + kBurst) << "connections were opened per call, not reused";
  EXPECT_EQ(Metric(registry, "http_client_connections_opened_total{peer=\"test\"}"),
            static_cast<std::uint64_t>(relay.accepted()));
  EXPECT_EQ(client->open_connections(), static_cast<std::size_t>(relay.accepted()))
      << "every connection opened is still pooled (the idle timeout is 15 s)";
}

TEST_F(HttpClientTest, ALoopAtItsConnectionLimitWaitsForAConnectionInsteadOfOpeningOne) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  ClientOptions options;
  options.max_connections_per_loop = 4;
  Make(options).endpoints().Update({relay.endpoint("a")});
  EXPECT_EQ(ConcurrentCalls(*client, loop.context(), 20, "/slow?ms=30"), 20);
  EXPECT_EQ(peer.slow_.load(), 20);
  EXPECT_EQ(relay.accepted(), 4);
  EXPECT_EQ(client->open_connections(), 4U);
  EXPECT_EQ(Metric(registry, "http_client_connection_waits_total{peer=\"test\"}"), 16U);
  // Another loop has a limit of its own.
  EXPECT_EQ(ConcurrentCalls(*client, second.context(), 6, "/slow?ms=30"), 6);
  EXPECT_EQ(relay.accepted(), 8);
}

// A waiting call ends at its deadline (a timeout that does not count against the endpoint), and
// a connection that is closed instead of returned hands its slot to the next waiting call.
TEST_F(HttpClientTest, AWaitForAConnectionEndsAtTheDeadlineOrWithTheSlotOfAClosedOne) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  ClientOptions options;
  options.max_connections_per_loop = 1;
  options.breaker.consecutive_failures = 1;
  Make(options).endpoints().Update({relay.endpoint("a")});

  std::promise<Result<Reply>> slow, waiting;
  auto call = [](Client& client, CallRequest r,
                 std::promise<Result<Reply>>& out) -> asio::awaitable<void> {
    auto reply = co_await client.Call(std::move(r));
    out.set_value(std::move(reply));
  };
  asio::co_spawn(loop.context(), call(*client, Get("/slow?ms=400"), slow), asio::detached);
  asio::co_spawn(loop.context(), call(*client, Get("/ok", Millis{100}), waiting), asio::detached);
  const auto late = waiting.get_future().get();
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kTimeout);
  EXPECT_EQ(peer.ok_.load(), 0);
  const auto answered = slow.get_future().get();
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  EXPECT_EQ(client->RetryAfter(), Millis{0}) << "our own wait ejected the endpoint";
  EXPECT_EQ(relay.accepted(), 1);

  // The holder times out (its connection is closed, never reused half-read): the waiting call
  // gets its slot and opens a new connection.
  std::promise<Result<Reply>> cut, next;
  asio::co_spawn(loop.context(), call(*client, Get("/slow?ms=400", Millis{100}), cut),
                 asio::detached);
  asio::co_spawn(loop.context(), call(*client, Get("/ok"), next), asio::detached);
  const auto timed_out = cut.get_future().get();
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().code, Errc::kTimeout);
  const auto served = next.get_future().get();
  ASSERT_TRUE(served.ok()) << served.error().message;
  EXPECT_EQ(served->response.body(), "ok:a");
  EXPECT_EQ(relay.accepted(), 2);
  EXPECT_EQ(client->open_connections(), 1U);
}

TEST_F(HttpClientTest, ASlowPeerTimesOutAtTheDeadlineAndItsConnectionIsNotReused) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  Make().endpoints().Update({relay.endpoint("a")});
  ASSERT_TRUE(Call(Get("/ok")).ok());  // one pooled connection
  const auto started = SteadyClock::now();
  const auto reply = Call(Get("/slow?ms=1500", Millis{200}));
  const auto took = SteadyClock::now() - started;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::kTimeout);
  EXPECT_GE(took, Millis{195});
  EXPECT_LT(took, Millis{200 + 150}) << "the deadline bounds the call";
  EXPECT_EQ(client->open_connections(), 0U) << "the half-read connection was closed";
  const auto next = Call(Get("/ok"));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->response.body(), "ok:a");
  EXPECT_EQ(relay.accepted(), 2) << "the next call opened a fresh connection";
  EXPECT_EQ(peer.slow_.load(), 1) << "a GET past its deadline is not retried";
}

TEST_F(HttpClientTest, TheRemainingTimeTheTraceAndTheRequestIdGoToThePeer) {
  Peer peer("a");
  Make().endpoints().Update({peer.endpoint()});
  CallRequest r = Post("/echo", R"({"x":1})");
  r.deadline = SteadyClock::now() + Millis{2000};
  r.request_id = "req-42";
  r.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const auto reply = Call(std::move(r));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  const auto echo = boost::json::parse(reply->response.body()).as_object();
  const int deadline_ms = std::stoi(std::string(echo.at("deadline_ms").as_string()));
  EXPECT_GT(deadline_ms, 1500);
  EXPECT_LE(deadline_ms, 2000);
  EXPECT_EQ(echo.at("traceparent").as_string(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(echo.at("request_id").as_string(), "req-42");
  EXPECT_EQ(echo.at("body").as_string(), R"({"x":1})");
}

// The head the client writes itself: the caller's headers cannot replace its framing, Host or
// remaining time, nor add a line of their own.
TEST_F(HttpClientTest, TheCallersHeadersCannotChangeTheFramingOrSplitTheRequest) {
  Peer peer("a");
  Relay relay(peer.port(), Relay::Mode::kForward);
  Make().endpoints().Update({relay.endpoint("a")});
  CallRequest r = Post("/echo", R"({"n":1})");
  r.headers = {{"Content-Length", "2"},
               {"Host", "elsewhere.example"},
               {"X-Request-Deadline-Ms", "999999"},
               {"X-Caller", "kept"},
               {"X-Split", "x\r\nX-Injected: yes"},
               {"X-Injected\r\nX-Other", "yes"}};
  for (int i = 0; i < 2; ++i) {  // the second on the same connection: the framing held
    const auto reply = Call(r);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    ASSERT_EQ(reply->response.result_int(), 200U) << reply->response.body();
    const auto echo = boost::json::parse(reply->response.body()).as_object();
    EXPECT_EQ(echo.at("body").as_string(), R"({"n":1})");
    EXPECT_EQ(echo.at("caller").as_string(), "kept");
    EXPECT_EQ(echo.at("injected").as_string(), "");
    EXPECT_LE(std::stoi(std::string(echo.at("deadline_ms").as_string())), 5000);
  }
  EXPECT_EQ(peer.echo_.load(), 2);
  EXPECT_EQ(relay.accepted(), 1);
}

TEST_F(HttpClientTest, ACallIsRetriedOnAnotherEndpointAfterConnectionRefused) {
  Peer live("live");
  // Ties go round robin from the first endpoint: the first call meets the dead one first.
  Make().endpoints().Update({Refusing("dead"), live.endpoint()});
  const auto first = Call(Get("/ok"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->attempts, 2U);
  EXPECT_EQ(first->endpoint_id, "live");
  std::uint32_t attempts = first->attempts;
  for (int i = 0; i < 9; ++i) {
    const auto reply = Call(Get("/ok"));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(reply->endpoint_id, "live");
    attempts += reply->attempts;
  }
  EXPECT_GT(attempts, 10U);
  EXPECT_EQ(live.ok_.load(), 10);
  EXPECT_EQ(Metric(registry, "http_client_retries_total{peer=\"test\"}"), attempts - 10);
}

TEST_F(HttpClientTest, APostIsRetriedAfterConnectionRefusedSinceNothingWasSent) {
  Peer live("live");
  Make().endpoints().Update({Refusing("dead"), live.endpoint()});
  const auto reply = Call(Post("/echo"));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->attempts, 2U);
  EXPECT_EQ(live.echo_.load(), 1);
}

TEST_F(HttpClientTest, APostWithoutIdempotencyIsNeverSentTwice) {
  Peer a("a"), b("b");
  Make().endpoints().Update({a.endpoint(), b.endpoint()});
  const auto post = Call(Post("/fail"));
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->response.result_int(), 503U);
  EXPECT_EQ(post->attempts, 1U);
  EXPECT_EQ(a.fail_.load() + b.fail_.load(), 1);

  // The same call marked idempotent (an Idempotency-Key) is tried again, on the other endpoint.
  CallRequest keyed = Post("/fail");
  keyed.headers.emplace_back("Idempotency-Key", "k-1");
  const auto retried = Call(std::move(keyed));
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->attempts, 3U);
  EXPECT_EQ(a.fail_.load() + b.fail_.load(), 4);
  EXPECT_GE(a.fail_.load(), 1);
  EXPECT_GE(b.fail_.load(), 1);
}

TEST_F(HttpClientTest, AConnectionLostBeforeAnyAnswerIsRetriedOnlyForIdempotentCalls) {
  Peer live("live");
  Relay mute(live.port(), Relay::Mode::kCloseAfterRequest);
  // The mute relay is first, so each call below meets it first.
  Make().endpoints().Update({mute.endpoint("mute"), live.endpoint()});
  const auto post = Call(Post("/echo"));
  ASSERT_FALSE(post.ok());
  EXPECT_EQ(post.error().code, Errc::kUnavailable);
  EXPECT_TRUE(IsTransient(post.error().code));
  EXPECT_EQ(mute.swallowed(), 1);
  EXPECT_EQ(live.echo_.load(), 0) << "a POST that may have been sent is not sent again";

  Make().endpoints().Update({mute.endpoint("mute"), live.endpoint()});
  const auto get = Call(Get("/ok"));
  ASSERT_TRUE(get.ok()) << get.error().message;
  EXPECT_EQ(get->attempts, 2U);
  EXPECT_EQ(get->endpoint_id, "live");
  EXPECT_EQ(mute.swallowed(), 2);
}

TEST_F(HttpClientTest, TheRetryBudgetKeepsRetriesFromAmplifyingAnOutage) {
  Peer a("a"), b("b");
  ClientOptions options;
  options.breaker.consecutive_failures = 1'000'000;  // this test is about the budget alone
  options.backoff_base = Millis{1};
  options.backoff_cap = Millis{2};
  options.retry_budget = RetryBudgetOptions{0.1, 5, 10};
  Make(options).endpoints().Update({a.endpoint(), b.endpoint()});
  constexpr int kCalls = 100;
  for (int i = 0; i < kCalls; ++i) {
    const auto reply = Call(Get("/fail"));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->response.result_int(), 503U);
  }
  const int arrivals = a.fail_.load() + b.fail_.load();
  // Without the budget each call would be sent 3 times (300 arrivals).
  EXPECT_EQ(arrivals, kCalls + 5 + kCalls / 10) << "retries ≤ 10 % of the calls + a floor of 5";
  EXPECT_EQ(Metric(registry, "http_client_retries_total{peer=\"test\"}"), 15U);
  EXPECT_GT(Metric(registry, "http_client_retries_denied_total{peer=\"test\"}"), 0U);
}

TEST_F(HttpClientTest, FailuresEjectAnEndpointCallsThenFailFastAndAProbeLetsItBack) {
  Peer flaky("flaky");
  ClientOptions options;
  options.max_attempts = 1;
  options.breaker = BreakerOptions{3, Millis{1000}, Millis{8000}};
  Make(options).endpoints().Update({flaky.endpoint()});
  for (int i = 0; i < 3; ++i) {
    const auto reply = Call(Get("/flaky"));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->response.result_int(), 503U);
  }
  EXPECT_EQ(Metric(registry, "http_client_ejections_total{peer=\"test\"}"), 1U);
  const auto started = SteadyClock::now();
  const auto refused = Call(Get("/flaky"));
  EXPECT_LT(SteadyClock::now() - started, Millis{50}) << "no waiting when all are ejected";
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kOverloaded);
  EXPECT_EQ(flaky.flaky_.load(), 3) << "the ejected endpoint got nothing";
  EXPECT_EQ(client->RetryAfter(), Millis{1000});

  // The probe after the cool-down fails: ejected again for twice as long.
  clock.Advance(std::chrono::milliseconds{1000});
  const auto failed_probe = Call(Get("/flaky"));
  ASSERT_TRUE(failed_probe.ok());
  EXPECT_EQ(failed_probe->response.result_int(), 503U);
  EXPECT_EQ(client->RetryAfter(), Millis{2000});
  clock.Advance(std::chrono::milliseconds{1000});
  EXPECT_FALSE(Call(Get("/flaky")).ok());

  // The peer recovers: the next probe lets it back, and calls flow again.
  flaky.SetFailing(false);
  clock.Advance(std::chrono::milliseconds{1000});
  for (int i = 0; i < 3; ++i) {
    const auto reply = Call(Get("/flaky"));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(reply->response.result_int(), 200U);
  }
  EXPECT_EQ(flaky.flaky_.load(), 7);
  EXPECT_EQ(client->RetryAfter(), Millis{0});
}

// Callers with a few milliseconds left cannot eject a healthy endpoint: their timeouts say
// nothing of it (ADR 0044, min_attempt_for_ejection). The peer holds every answer until the test
// releases it, so each short call surely times out; once released the endpoint answers at once.
// The same number of calls given the fair time against a peer that never answers still ejects it.
TEST_F(HttpClientTest, ShortCallerDeadlinesNeverEjectAHealthyEndpoint) {
  Peer held("held");
  Make().endpoints().Update({held.endpoint()});
  constexpr int kCalls = 20;  // four times the 5 consecutive failures that eject
  for (int i = 0; i < kCalls; ++i) {
    const auto reply = Call(Get("/held", Millis{1 + i % 5}));
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.error().code, Errc::kTimeout) << "call " << i << ": " << reply.error().message;
  }
  EXPECT_EQ(Metric(registry, "http_client_ejections_total{peer=\"test\"}"), 0U);
  EXPECT_EQ(Metric(registry, "http_client_requests_total{peer=\"test\",outcome=\"timeout\"}"),
            static_cast<std::uint64_t>(kCalls));
  EXPECT_EQ(client->RetryAfter(), Millis{0});
  EXPECT_GT(held.held_.load(), 0) << "short calls are still sent";
  held.Release();
  const auto served = Call(Get("/held"));
  ASSERT_TRUE(served.ok()) << served.error().message;
  EXPECT_EQ(served->response.body(), "held:held");
}

TEST_F(HttpClientTest, TimeoutsOfFairAttemptsStillEjectAPeerThatNeverAnswers) {
  Peer mute("mute");
  ClientOptions options;
  Make(options).endpoints().Update({mute.endpoint()});
  const int calls = static_cast<int>(options.breaker.consecutive_failures);
  // At once, each given a little more than the fair time: the test takes one timeout, not five.
  EXPECT_EQ(ConcurrentCalls(*client, loop.context(), calls, "/held",
                            options.min_attempt_for_ejection + Millis{100}),
            0);
  EXPECT_EQ(Metric(registry, "http_client_requests_total{peer=\"test\",outcome=\"timeout\"}"),
            static_cast<std::uint64_t>(calls));
  EXPECT_EQ(Metric(registry, "http_client_ejections_total{peer=\"test\"}"), 1U);
  const auto refused = Call(Get("/held"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kOverloaded) << refused.error().message;
  EXPECT_EQ(mute.held_.load(), calls) << "the ejected endpoint got nothing more";
  EXPECT_EQ(client->RetryAfter(), Millis{1000});
  mute.Release();
}

TEST_F(HttpClientTest, EndpointUpdatesWhileCallsAreInFlightOnTwoLoops) {
  Peer a("a"), b("b"), c("c");
  Make().endpoints().Update({a.endpoint(), b.endpoint(), c.endpoint()});
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, unexpected{0};
  testing::Counter finished;
  constexpr int kWorkersPerLoop = 16;
  auto worker = [](Client& client, std::atomic<bool>& stop, std::atomic<int>& ok,
                   std::atomic<int>& failed, std::atomic<int>& unexpected,
                   testing::Counter& finished, int n) -> asio::awaitable<void> {
    for (int i = 0; !stop.load(); ++i) {
      CallRequest r = Get((i + n) % 3 == 0 ? "/slow?ms=2" : "/ok", Millis{2000});
      const auto reply = co_await client.Call(std::move(r));
      if (reply.ok()) {
        ++ok;
      } else if (IsTransient(reply.error().code)) {
        ++failed;  // the set was empty for a moment, or every endpoint left mid-call
      } else {
        ++unexpected;
      }
    }
    finished.Add();
  };
  for (int n = 0; n < kWorkersPerLoop; ++n) {
    asio::co_spawn(loop.context(), worker(*client, stop, ok, failed, unexpected, finished, n),
                   asio::detached);
    asio::co_spawn(second.context(), worker(*client, stop, ok, failed, unexpected, finished, n),
                   asio::detached);
  }
  const std::vector<std::vector<Endpoint>> sets = {{a.endpoint(), b.endpoint(), c.endpoint()},
                                                   {b.endpoint()},
                                                   {},
                                                   {c.endpoint(), a.endpoint()},
                                                   {a.endpoint()}};
  for (int round = 0; round < 300; ++round) {
    client->endpoints().Update(sets[round % sets.size()]);
    const int seen = ok.load() + failed.load();
    ASSERT_TRUE(testing::WaitUntil([&] { return ok.load() + failed.load() > seen; }));
  }
  stop = true;
  ASSERT_TRUE(finished.WaitFor(2 * kWorkersPerLoop, std::chrono::seconds{30}));
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(ok.load(), 300);
  EXPECT_GT(failed.load(), 0) << "some calls met the empty set";

  client->endpoints().Update({b.endpoint()});
  const int before = b.ok_.load();
  for (int i = 0; i < 10; ++i) {
    const auto reply = Call(Get("/ok"));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(reply->endpoint_id, "b");
  }
  EXPECT_EQ(b.ok_.load(), before + 10);
}

TEST_F(HttpClientTest, AnswersOverTheSizeLimitsAreRefusedAndNotRetried) {
  Peer peer("a");
  ClientOptions options;
  options.max_response_body_bytes = 64 * 1024;
  options.max_response_header_bytes = 16 * 1024;
  Make(options).endpoints().Update({peer.endpoint()});
  const auto big = Call(Get("/big?bytes=100000"));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::kInternal);
  EXPECT_FALSE(IsTransient(big.error().code));
  EXPECT_EQ(peer.big_.load(), 1);
  const auto header = Call(Get("/bigheader"));
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.error().code, Errc::kInternal);
  const auto fits = Call(Get("/big?bytes=65536"));
  ASSERT_TRUE(fits.ok()) << fits.error().message;
  EXPECT_EQ(fits->response.body().size(), 65536U);
  EXPECT_EQ(
      Metric(registry, "http_client_requests_total{peer=\"test\",outcome=\"invalid_response\"}"),
      2U);
}

TEST_F(HttpClientTest, CallsOverTheOutstandingLimitFailAtOnce) {
  Peer peer("a");
  ClientOptions options;
  options.max_outstanding = 2;
  Make(options).endpoints().Update({peer.endpoint()});
  std::atomic<int> ok{0};
  std::atomic<int> overloaded{0};
  testing::Counter finished;
  auto one = [](Client& client, std::atomic<int>& ok, std::atomic<int>& overloaded,
                testing::Counter& finished) -> asio::awaitable<void> {
    CallRequest r = Get("/slow?ms=300");
    const auto reply = co_await client.Call(std::move(r));
    if (reply.ok()) ++ok;
    if (!reply.ok() && reply.error().code == Errc::kOverloaded) ++overloaded;
    finished.Add();
  };
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(loop.context(), one(*client, ok, overloaded, finished), asio::detached);
  }
  ASSERT_TRUE(finished.WaitFor(3, std::chrono::seconds{10}));
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(overloaded.load(), 1);
  EXPECT_EQ(peer.slow_.load(), 2);
}

TEST_F(HttpClientTest, NoEndpointsIsUnavailableAndPastDeadlinesAreTimeouts) {
  Make();
  const auto none = Call(Get("/ok"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kUnavailable);
  Peer peer("a");
  client->endpoints().Update({peer.endpoint()});
  CallRequest late = Get("/ok");
  late.deadline = SteadyClock::now() - Millis{1};
  const auto reply = Call(std::move(late));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::kTimeout);
  EXPECT_EQ(peer.ok_.load(), 0);
}

// Not asserted: the cost of a pooled call next to the test-side blocking client.
TEST_F(HttpClientTest, KeepAliveThroughputAgainstOneLocalPeer) {
  Peer peer("a");
  Make().endpoints().Update({peer.endpoint()});
  constexpr int kCalls = 5000;
  auto loop_calls = [](Client& client, int n) -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      CallRequest r;
      r.target = "/ok";
      const auto reply = co_await client.Call(std::move(r));
      ok += reply.ok() ? 1 : 0;
    }
    co_return ok;
  };
  const auto t0 = SteadyClock::now();
  const int ok = loop.Run(loop_calls(*client, kCalls));
  const double client_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  EXPECT_EQ(ok, kCalls);

  testing::HttpClient reference(peer.port());
  const auto t1 = SteadyClock::now();
  int ref_ok = 0;
  for (int i = 0; i < kCalls; ++i) ref_ok += reference.Get("/ok").status == 200 ? 1 : 0;
  const double reference_s = std::chrono::duration<double>(SteadyClock::now() - t1).count();
  EXPECT_EQ(ref_ok, kCalls);

  const double client_rate = kCalls / client_s;
  const double reference_rate = kCalls / reference_s;
  std::printf(
      "keep-alive GET, one local peer: service client %.0f calls/s, test client %.0f "
      "calls/s\n",
      client_rate, reference_rate);
  RecordProperty("service_client_calls_per_s", static_cast<int>(client_rate));
  RecordProperty("test_client_calls_per_s", static_cast<int>(reference_rate));
}

}  // namespace
}  // namespace rocketmart::http::client
