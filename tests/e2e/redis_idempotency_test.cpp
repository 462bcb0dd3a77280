// The idempotency in-flight gate across processes (issue 14, docs/redis.md "The idempotency
// gate"): two `rocketmart serve` processes on the same PostgreSQL databases and one Redis. The
// same member and Idempotency-Key sent at the same moment to both processes must buy once and
// answer both requests identically: the request that lands second waits (in Redis's gate) for the
// first, wherever it runs, then answers from its record. (With a gate per process the durable
// record alone also gives one purchase and identical answers, by admission's key check and the
// record claimed in the effect's transaction; what shows Redis's gate at work here is its series
// on /metrics, present and never counting a request let through.)
//
// The sale is set before the second process starts (it reads sales at start only: docs/redis.md
// "Several instances"), so this test does not depend on sales reaching other instances.
#include <gtest/gtest.h>

#include <barrier>
#include <cctype>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.hpp"
#include "support/local_postgres.hpp"
#include "support/local_redis.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

// A counter's value on a process's /metrics (admin listener); -1 when it is not there.
double Metric(const ServerProcess& server, const std::string& series) {
  const std::string text = HttpClient(server.admin_port()).Get("/metrics").body;
  std::size_t at = 0;
  while ((at = text.find(series + ' ', at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
    at += series.size();
  }
  return -1;
}

TEST(RedisIdempotency, TheSameKeySentToTwoProcessesAtOnceBuysOnceWithIdenticalAnswers) {
  LocalPostgres& pg = SharedLocalPostgres();
  std::map<std::string, std::string> shared = {{"ROCKETMART_EVENTS_TRANSPORT", "redis-streams"},
                                               {"ROCKETMART_REDIS_KEY_PREFIX", NewKeyPrefix()},
                                               // The first request is in flight for a while.
                                               {"ROCKETMART_PAYMENT_LATENCY_MS", "50"}};
  shared["ROCKETMART_REDIS_URL"] = SharedLocalRedis().tcp_url();
  for (const char* service : {"members", "catalog", "checkout", "orders"}) {
    std::string upper(service);
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    shared["ROCKETMART_" + upper + "_DATABASE_URL"] =
        "postgresql://rocketmart@127.0.0.1:" + std::to_string(pg.port()) + "/" +
        pg.NewDatabase(service);
  }
  ServerOptions first_options;
  first_options.env = shared;
  ServerProcess first(first_options);
  constexpr int kMembers = 20;
  // A limit of 2: a second purchase by the same member would be admitted, so only the key stops it.
  const std::int64_t product = CreateProductOnSale(first, 100, 2);
  ServerOptions second_options;
  second_options.env = shared;
  second_options.env["ROCKETMART_AUTH_SECRET_FILE"] =
      (first.data_dir() / "secrets" / "jwt.key").string();
  second_options.env["ROCKETMART_MEMBERS_DATA_KEY_FILE"] =
      (first.data_dir() / "secrets" / "members.key").string();
  ServerProcess second(second_options);
  HttpClient c1(first.port()), c2(second.port());
  const std::string sale = "/payment/" + std::to_string(product) + "/sale";
  ASSERT_TRUE(WaitUntil([&] {
    auto s = c2.Get(sale);
    return s.status == 200 && s.Json().at("state").as_string() == "live";
  })) << c2.Get(sale).body;

  const std::string body = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  for (int m = 1; m <= kMembers; ++m) {
    const std::string token = first.FastToken(100 + m);
    const std::map<std::string, std::string> key = {
        {"Idempotency-Key", "both-" + std::to_string(m)}};
    HttpResponse answers[2];
    std::barrier together(2);
    std::thread to_second([&] {
      together.arrive_and_wait();
      answers[1] = c2.PostJson("/payment/request", body, token, key);
    });
    together.arrive_and_wait();
    answers[0] = c1.PostJson("/payment/request", body, token, key);
    to_second.join();
    EXPECT_EQ(answers[0].status, 201) << "member " << m << ": " << answers[0].body;
    EXPECT_EQ(answers[1].status, answers[0].status) << "member " << m << ": " << answers[1].body;
    EXPECT_EQ(answers[1].body, answers[0].body) << "member " << m;
  }
  // One purchase per member (each paid on one process, the other answered from its record), and
  // Redis's gate ordered them (the series exists only with it; never let through unordered).
  const std::string paid = "checkout_purchases_total{outcome=\"paid\"}";
  EXPECT_EQ(Metric(first, paid) + Metric(second, paid), kMembers);
  const std::string replays = "checkout_idempotent_replays_total";
  EXPECT_EQ(Metric(first, replays) + Metric(second, replays), kMembers);
  for (const ServerProcess* server : {&first, &second}) {
    EXPECT_EQ(Metric(*server, "checkout_idempotency_gate_unavailable_total"), 0);
    EXPECT_EQ(Metric(*server, "checkout_admission_db_rejections_total"), 0);
  }
  for (int m = 1; m <= kMembers; ++m) {
    const std::string token = first.FastToken(100 + m);
    EXPECT_TRUE(WaitUntil([&] {
      auto mine = c2.Get("/order", token);
      return mine.status == 200 && mine.Json().at("items").as_array().size() == 1;
    })) << "member "
        << m << ": " << c2.Get("/order", token).body;
  }
}

}  // namespace
}  // namespace rocketmart::testing
