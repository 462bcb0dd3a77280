// The Redis client against a real redis-server (tests/support/local_redis.*): answers, pipelining
// from its own loop and from foreign executors, the command timeout, fail-fast and reconnect
// across a server restart and a kill -9, EVALSHA with NOSCRIPT after SCRIPT FLUSH, the
// maxmemory-policy check, and the subscriber connection.
#include "infra/redis/client.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "infra/async/run.hpp"
#include "support/local_redis.hpp"
#include "support/wait.hpp"

namespace rocketmart::redis {
namespace {

namespace asio = boost::asio;
using rocketmart::testing::LocalRedis;
using rocketmart::testing::WaitUntil;
using namespace std::chrono_literals;

Endpoint Tcp(const LocalRedis& server) {
  return ParseEndpoint(server.tcp_url()).value();
}

ReplyResult Cmd(Client& client, std::vector<std::string> args) {
  return async::RunToCompletion(client.Command(std::move(args)));
}

TEST(RedisEndpoint, ParsesTheTwoSchemesAndRefusesTheRest) {
  auto tcp = ParseEndpoint("redis://cache.local:7000");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->host, "cache.local");
  EXPECT_EQ(tcp->port, 7000);
  EXPECT_EQ(ParseEndpoint("redis://h")->port, 6379);
  EXPECT_EQ(ParseEndpoint("redis://h:1/0")->port, 1);
  EXPECT_EQ(ParseEndpoint("redis://h:1/3")->db, 3);
  EXPECT_EQ(ParseEndpoint("redis://h:1/3")->ToString(), "redis://h:1/3");
  EXPECT_EQ(ParseEndpoint("unix:///run/redis.sock")->unix_path, "/run/redis.sock");
  for (const char* bad : {"http://h", "redis://", "redis://h:0", "redis://h:70000", "redis://h:x",
                          "redis://u:p@h", "redis://h/16", "redis://h/x", "unix://relative"}) {
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
  }
}

TEST(RedisClient, AnswersEveryKindOfReply) {
  LocalRedis server;
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));
  auto set = Cmd(client, {"SET", "k", "v"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");
  EXPECT_EQ(Cmd(client, {"GET", "k"})->str, "v");
  EXPECT_TRUE(Cmd(client, {"GET", "missing"})->is_nil());
  EXPECT_EQ(Cmd(client, {"INCRBY", "n", "41"})->integer, 41);
  auto list = Cmd(client, {"RPUSH", "l", "a", std::string("b\0c", 3)});
  auto range = Cmd(client, {"LRANGE", "l", "0", "-1"});
  ASSERT_EQ(range->elements.size(), 2u);
  EXPECT_EQ(range->elements[1].str, std::string("b\0c", 3)) << "binary safe";
  auto wrong = Cmd(client, {"INCR", "k"});
  ASSERT_TRUE(wrong.ok()) << "an error reply is a reply";
  EXPECT_TRUE(wrong->is_error());
  EXPECT_TRUE(Cmd(client, {"LPUSH", "k", "x"})->IsErrorCode("WRONGTYPE"));
}

TEST(RedisClient, PipelinesCommandsFromItsOwnLoopAndFromOtherThreads) {
  LocalRedis server;
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));
  // 2,000 INCRs started together on the connection's own loop (one pipeline) ...
  constexpr int kOnLoop = 2000;
  std::atomic<int> ok{0};
  std::promise<void> all_done;
  for (int i = 0; i < kOnLoop; ++i) {
    asio::co_spawn(
        loop.executor(),
        [&]() -> asio::awaitable<void> {
          std::vector<std::string> args = {"INCR", "n"};
          ReplyResult r = co_await client.Command(std::move(args));
          if (r.ok() && r->type == Reply::Type::kInteger && ok.fetch_add(1) + 1 == kOnLoop) {
            all_done.set_value();
          }
        },
        asio::detached);
  }
  ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
  // ... and from four threads that run none of the client's loops.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) {
        if (client.CommandSync({"INCR", "n"}).ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kOnLoop + 1000);
  EXPECT_EQ(Cmd(client, {"GET", "n"})->str, std::to_string(kOnLoop + 1000));
}

// The per-loop form a service's server uses: a command awaited on one of the loops goes over that
// loop's connection (no hop), any other caller over the `others` connection; once each loop's
// connection is closed there, nothing keeps the loop running, and after ReleaseLoops the loops
// can be destroyed before the client, which still serves other callers.
TEST(RedisClient, LoopConnectionsServeTheirLoopsAndAreLetGoBeforeTheLoopsGo) {
  LocalRedis server;
  IoThread others("redis-others");
  auto loops = std::make_unique<std::array<asio::io_context, 2>>();
  auto guards = std::make_unique<std::vector<asio::executor_work_guard<Client::Executor>>>();
  std::vector<Client::Executor> executors;
  for (auto& loop : *loops) {
    executors.push_back(loop.get_executor());
    guards->push_back(asio::make_work_guard(loop));
  }
  auto client = std::make_unique<Client>(executors, others.executor(), Tcp(server));
  std::vector<std::future<void>> ran;
  for (auto& loop : *loops) ran.push_back(std::async(std::launch::async, [&loop] { loop.run(); }));
  for (std::size_t i = 0; i < executors.size(); ++i) {
    std::promise<std::pair<std::string, bool>> answer;
    asio::co_spawn(
        executors[i],
        [&]() -> asio::awaitable<void> {
          std::vector<std::string> args = {"INCR", "n"};
          ReplyResult r = co_await client->Command(std::move(args));
          answer.set_value({client->ConnectionForThisThread().name(), r.ok()});
        },
        asio::detached);
    const auto [name, ok] = answer.get_future().get();
    EXPECT_TRUE(ok);
    EXPECT_EQ(name, "client-loop-" + std::to_string(i)) << "the loop's own connection";
  }
  EXPECT_EQ(client->ConnectionForThisThread().name(), "client-others");
  EXPECT_EQ(client->CommandSync({"INCR", "n"})->integer, 3);
  // Each loop drains: its connection is closed there; with the work guards gone the loops end.
  for (auto& loop : *loops) asio::post(loop, [&client] { client->CloseOnThisThread(); });
  guards.reset();
  for (auto& r : ran) {
    ASSERT_EQ(r.wait_for(10s), std::future_status::ready) << "a closed connection kept its loop";
  }
  client->ReleaseLoops();
  loops.reset();  // the loops go before the client
  EXPECT_EQ(client->CommandSync({"INCR", "n"})->integer, 4) << "the others' connection serves";
  client.reset();
}

TEST(RedisClient, ACommandTheServerDoesNotAnswerTimesOutWithinTheTimeoutAndTheClientRecovers) {
  LocalRedis server;
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));  // the default timeout: 1 s
  ASSERT_TRUE(Cmd(client, {"PING"}).ok());
  std::thread sleeper([&] { server.Command({"DEBUG", "SLEEP", "2.5"}); });
  // Lets the sleeper's command reach the server first (nothing can observe a sleeping server).
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  auto r = Cmd(client, {"PING"});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout) << r.error().message;
  EXPECT_GE(took, 900ms);
  EXPECT_LE(took, 1500ms) << "answered at its deadline, not when the server woke up";
  sleeper.join();
  EXPECT_TRUE(WaitUntil([&] { return Cmd(client, {"PING"}).ok(); }, 5s));
}

TEST(RedisClient, AClientPauseTimesOutToo) {
  LocalRedis server;
  IoThread loop("redis-test");
  ClientOptions options;
  options.command_timeout = 300ms;
  Client client({loop.executor()}, Tcp(server), options);
  ASSERT_TRUE(Cmd(client, {"PING"}).ok());
  server.Command({"CLIENT", "PAUSE", "1500", "ALL"});
  auto r = Cmd(client, {"SET", "a", "1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
  EXPECT_TRUE(WaitUntil([&] { return Cmd(client, {"PING"}).ok(); }, 5s));
}

TEST(RedisClient, WhileTheServerIsDownCommandsFailFastAndItReconnectsWhenItIsBack) {
  LocalRedis server({.appendonly = true, .appendfsync = "always"});
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));
  ASSERT_TRUE(Cmd(client, {"SET", "k", "before"}).ok());
  server.Stop();
  // The loss is noticed; then every command fails at once, none waits for its deadline.
  ASSERT_TRUE(WaitUntil([&] { return !client.ConnectionForThisThread().connected(); }, 5s));
  for (int i = 0; i < 20; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = Cmd(client, {"GET", "k"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kUnavailable) << r.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);
  }
  server.Start();
  // Back within the longest backoff (2 s) plus a connect.
  EXPECT_TRUE(WaitUntil([&] { return Cmd(client, {"GET", "k"}).ok(); }, 4s));
  EXPECT_EQ(Cmd(client, {"GET", "k"})->str, "before");
  EXPECT_GE(client.ConnectionForThisThread().connects(), 2u);
}

TEST(RedisClient, CommandsInFlightWhenTheServerIsKilledAnswerUnavailable) {
  LocalRedis server;
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));
  ASSERT_TRUE(Cmd(client, {"PING"}).ok());
  std::thread sleeper([&] {
    try {
      server.Command({"DEBUG", "SLEEP", "5"});
    } catch (...) {
    }
  });
  std::this_thread::sleep_for(200ms);
  std::future<ReplyResult> in_flight =
      client.ConnectionForThisThread().AsyncCommand({"PING"}, std::nullopt, asio::use_future);
  std::this_thread::sleep_for(100ms);
  server.Kill9();
  ASSERT_EQ(in_flight.wait_for(2s), std::future_status::ready);
  ReplyResult r = in_flight.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnavailable) << r.error().message;
  sleeper.join();
  server.Start();
  EXPECT_TRUE(WaitUntil([&] { return Cmd(client, {"PING"}).ok(); }, 4s));
}

TEST(RedisClient, NoServerAtAllMeansFastUnavailableNeverAHang) {
  std::uint16_t port = 0;
  {
    LocalRedis gone;
    port = gone.port();
  }
  IoThread loop("redis-test");
  Client client({loop.executor()}, Endpoint{"127.0.0.1", port, ""});
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = Cmd(client, {"PING"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kUnavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1100ms);
  }
  auto st = async::RunToCompletion(client.CheckServer());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("not reachable"), std::string::npos) << st.error().message;
}

TEST(RedisClient, ScriptsRunByShaAndAreSentAgainAfterNoscript) {
  LocalRedis server;
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));
  const Script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  EXPECT_EQ(server.Command({"SCRIPT", "EXISTS", add.sha1()}), "0");
  EXPECT_EQ(async::RunToCompletion(client.Eval(add, {"n"}, {"5"}))->integer, 5);
  EXPECT_EQ(server.Command({"SCRIPT", "EXISTS", add.sha1()}), "1") << "the SHA-1 is Redis's";
  EXPECT_EQ(server.Command({"SCRIPT", "FLUSH"}), "OK");
  auto after = async::RunToCompletion(client.Eval(add, {"n"}, {"2"}));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->integer, 7) << after->str;
  EXPECT_EQ(server.Command({"SCRIPT", "EXISTS", add.sha1()}), "1") << "cached again";
  EXPECT_EQ(client.EvalSync(add, {"n"}, {"1"})->integer, 8);
  // An error inside the script is an error reply, not a transport failure.
  const Script bad("return redis.call('INCR', KEYS[1])");
  server.Command({"SET", "s", "text"});
  auto err = async::RunToCompletion(client.Eval(bad, {"s"}, {}));
  ASSERT_TRUE(err.ok());
  EXPECT_TRUE(err->is_error());
}

TEST(RedisClient, TheStartUpCheckRefusesAnEvictingServer) {
  LocalRedis server;
  IoThread loop("redis-test");
  Client client({loop.executor()}, Tcp(server));
  EXPECT_TRUE(async::RunToCompletion(client.CheckServer()).ok());
  EXPECT_TRUE(client.CheckServerSync().ok());
  server.Command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  Status st = async::RunToCompletion(client.CheckServer());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("allkeys-lru"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("noeviction"), std::string::npos);
  EXPECT_FALSE(client.CheckServerSync().ok());
}

TEST(RedisClient, ASubscriberHearsMessagesAndResubscribesAfterARestart) {
  LocalRedis server;
  IoThread loop("redis-test");
  std::mutex mu;
  std::vector<std::string> heard;
  std::atomic<int> subscribed{0};
  auto sub = Connection::Create(loop.executor(), Tcp(server), {}, "sub");
  sub->Subscribe(
      "news",
      [&](std::string m) {
        std::lock_guard lock(mu);
        heard.push_back(std::move(m));
      },
      [&] { subscribed.fetch_add(1); });
  sub->Start();
  ASSERT_TRUE(WaitUntil([&] { return subscribed.load() == 1; }, 5s));
  server.Command({"PUBLISH", "news", "one"});
  server.Command({"PUBLISH", "other", "not for us"});
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return heard.size() == 1;
  }));
  server.Kill9();
  server.Start();
  ASSERT_TRUE(WaitUntil([&] { return subscribed.load() == 2; }, 5s)) << "subscribed again";
  server.Command({"PUBLISH", "news", "two"});
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return heard.size() == 2;
  }));
  std::lock_guard lock(mu);
  EXPECT_EQ(heard, (std::vector<std::string>{"one", "two"}));
  sub->Close();
}

}  // namespace
}  // namespace rocketmart::redis
