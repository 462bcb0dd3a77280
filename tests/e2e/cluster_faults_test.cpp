// The services apart under stress (issue 15, battery A1 and C1-lite, discovery with etcd down), on
// a local cluster with two gateways and two instances of catalog, checkout and orders
// (support/cluster.hpp: real etcd, Redis and PostgreSQL):
//   - A1: 10,000 purchase attempts from 2,000 members through both gateways on a stock of 100
//     with a limit of 1 -> exactly 100 paid, 0 oversold, 0 members over the limit, 0 5xx;
//   - C1-lite: during a drop, a random service instance is killed with SIGKILL and restarted
//     over and over for 15 s -> 0 oversold, every acknowledged purchase has its order, paid =
//     orders = captures once the outboxes drained, and every unknown outcome (a 5xx or a dropped
//     connection) settles to a definite answer when retried with its Idempotency-Key;
//   - etcd stopped: the gateways keep routing to the instances they knew, and catch up (a dead
//     instance leaves, a restarted one joins) when etcd returns;
//   - every catalog instance shows a product created, changed and retired through a gateway, and
//     exact like counts and likedByMe after concurrent likes through both gateways.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/internal_identity.hpp"
#include "support/cluster.hpp"
#include "support/http_client.hpp"
#include "support/local_postgres.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

using namespace std::chrono_literals;

std::int64_t Count(Cluster& cluster, const std::string& service, const std::string& sql) {
  const std::string text = SharedLocalPostgres().QueryValue(cluster.DatabaseName(service), sql);
  return text.empty() ? -1 : std::stoll(text);
}

// A product with `stock` units on sale now with a per-member `limit`, known to every checkout
// instance (the sale reaches each through checkout's own event) and with its inventory row.
std::int64_t ProductOnSale(Cluster& cluster, std::int64_t stock, std::int64_t limit) {
  HttpClient c(cluster.gateway_port());
  const std::string admin = cluster.Token(1, true);
  auto created = c.PostJson(
      "/products", R"({"name":"Drop","price":1000,"stock":)" + std::to_string(stock) + "}", admin);
  EXPECT_EQ(created.status, 201) << created.body;
  const std::int64_t id = created.Json().at("id").as_int64();
  const std::string path = "/payment/" + std::to_string(id) + "/sale";
  EXPECT_TRUE(WaitUntil([&] {
    return Count(cluster, "checkout",
                 "SELECT count(*) FROM inventory WHERE product_id = " + std::to_string(id)) == 1;
  }));
  EXPECT_TRUE(WaitUntil([&] {
    auto sale = c.PutJson(
        path,
        R"({"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","perMemberLimit":)" +
            std::to_string(limit) + "}",
        admin);
    return sale.status == 200;
  }));
  // Every checkout instance answers "live" (asked directly, as the gateway would).
  for (std::size_t i = 0; i < cluster.instance_count("checkout"); ++i) {
    EXPECT_TRUE(WaitUntil([&] {
      HttpClient direct(cluster.instance("checkout", i).port());
      auto s = direct.Request("GET", path, "",
                              {{std::string(auth::kInternalIdentityHeader),
                                cluster.InternalIdentity(auth::SyntheticMemberId(1), true)}});
      return s.status == 200 && s.Json().at("state").as_string() == "live";
    })) << "checkout instance "
        << i << " never learnt the sale";
  }
  return id;
}

std::string PurchaseBody(std::int64_t product) {
  return R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
}

// paid = orders = captures for `product`, once the outboxes drained; no unit oversold.
void ExpectSettled(Cluster& cluster, std::int64_t product, std::int64_t stock) {
  const std::string p = std::to_string(product);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Count(cluster, "checkout",
                     "SELECT count(*) FROM holds h JOIN hold_lines l ON l.hold_id = h.id "
                     "WHERE l.product_id = " +
                         p + " AND h.status = 'PAYING'") == 0;
      },
      60s))
      << "a payment left in flight was never settled";
  const std::int64_t sold =
      Count(cluster, "checkout", "SELECT sold FROM inventory WHERE product_id = " + p);
  EXPECT_LE(sold, stock) << "oversold";
  EXPECT_EQ(Count(cluster, "checkout",
                  "SELECT available + held + sold - restocked - initial + refunded "
                  "FROM inventory WHERE product_id = " +
                      p),
            0)
      << "stock not conserved";
  const std::string payments_of_product =
      "SELECT p.id FROM payments p JOIN hold_lines l ON l.hold_id = p.hold_id "
      "WHERE l.product_id = " +
      p + " AND p.status = 'CAPTURED'";
  EXPECT_EQ(Count(cluster, "checkout", "SELECT count(*) FROM (" + payments_of_product + ") x"),
            sold);
  EXPECT_EQ(Count(cluster, "checkout",
                  "SELECT count(*) FROM charges c JOIN hold_lines l ON l.hold_id = c.hold_id "
                  "WHERE l.product_id = " +
                      p + " AND c.status = 'CAPTURED'"),
            sold)
      << "a charge without a payment (or a payment without its charge)";
  const std::string ids = SharedLocalPostgres().QueryValue(
      cluster.DatabaseName("checkout"),
      "SELECT COALESCE(string_agg(id::text, ','), '0') FROM (" + payments_of_product + ") x");
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Count(cluster, "orders",
                     "SELECT count(*) FROM orders WHERE payment_id IN (" + ids + ")") == sold;
      },
      60s))
      << "a paid purchase has no order";
}

class ClusterFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.instances = {{"catalog", 2}, {"checkout", 2}, {"orders", 2}};
    options.gateways = 2;
    // A payment whose instance died mid-charge is settled by another after 2 s (default 60).
    options.env = {{"ROCKETMART_CHECKOUT_STALE_PAYMENT_AFTER_S", "2"}};
    cluster_ = new Cluster(options);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    for (const char* service : {"catalog", "checkout", "orders"}) {
      ASSERT_TRUE(cluster_->WaitForInstances(service, 2, 20s)) << service;
    }
  }
  static Cluster* cluster_;
};
Cluster* ClusterFaults::cluster_ = nullptr;

// Issue 15: a catalog instance learns the products and likes another instance took (catalog's own
// product.* and like.changed, a cache refresh on every instance), read directly on each instance.
TEST_F(ClusterFaults, EveryCatalogInstanceShowsProductsAndLikesTakenOnAnother) {
  Cluster& cluster = *cluster_;
  HttpClient gateway(cluster.gateway_port(0));
  const std::string admin = cluster.Token(1, true);
  auto read_on = [&](std::size_t i, const std::string& path, std::int64_t member = 0) {
    HttpClient direct(cluster.instance("catalog", i).port());
    std::map<std::string, std::string> headers;
    if (member != 0) {
      headers[std::string(auth::kInternalIdentityHeader)] =
          cluster.InternalIdentity(auth::SyntheticMemberId(member));
    }
    return direct.Request("GET", path, "", headers);
  };
  // Waits until every catalog instance answers `path` as `ok` says; the slowest instance's delay.
  auto on_every_instance = [&](const std::string& path, auto ok, const char* what) {
    const auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < cluster.instance_count("catalog"); ++i) {
      EXPECT_TRUE(WaitUntil([&] { return ok(read_on(i, path)); }, 5s))
          << "catalog instance " << i << ": " << what << "; last: " << read_on(i, path).body;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started);
  };

  auto created = gateway.PostJson(
      "/products", R"({"name":"Everywhere","description":"Seen by all","price":700,"stock":5})",
      admin);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::int64_t id = created.Json().at("id").as_int64();
  const std::string path = "/products/" + std::to_string(id);
  const auto seen = on_every_instance(
      path,
      [](const HttpResponse& r) {
        return r.status == 200 && r.Json().at("description").as_string() == "Seen by all";
      },
      "the created product");
  EXPECT_LT(seen, 1000ms) << "a product created on one instance is readable on every instance "
                             "within the bus latency";

  auto updated = gateway.PutJson(path, R"({"name":"Everywhere II","price":650})", admin);
  ASSERT_EQ(updated.status, 200) << updated.body;
  // An instance that holds the product learns of the update only by its event: the bus latency.
  const auto updated_everywhere = on_every_instance(
      path,
      [](const HttpResponse& r) {
        return r.status == 200 && r.Json().at("price").as_int64() == 650 &&
               r.Json().at("name").as_string() == "Everywhere II";
      },
      "the update");

  // Likes and unlikes through both gateways (each routes to either catalog instance).
  constexpr int kMembers = 8;
  std::vector<std::thread> likers;
  std::atomic<int> refused{0};
  for (int m = 1; m <= kMembers; ++m) {
    likers.emplace_back([&, m] {
      HttpClient c(cluster.gateway_port(m % 2));
      const std::string token = cluster.Token(500'000 + m);
      for (int i = 0; i < 6; ++i) {
        // Members 1..5 end liked (last call a like), the others unliked.
        const bool like = m <= 5 ? i % 2 == 1 : i % 2 == 0;
        auto r = like ? c.PutJson(path + "/like", "", token) : c.Delete(path + "/like", token);
        if (r.status != 200) ++refused;
      }
    });
  }
  for (auto& t : likers) t.join();
  EXPECT_EQ(refused.load(), 0);
  for (std::size_t i = 0; i < cluster.instance_count("catalog"); ++i) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto r = read_on(i, path);
          return r.status == 200 && r.Json().at("likes").as_int64() == 5;
        },
        5s))
        << "catalog instance " << i << " shows " << read_on(i, path).body;
    for (int m = 1; m <= kMembers; ++m) {
      // The count can pass through 5 before the last change arrives: wait for each member too.
      EXPECT_TRUE(WaitUntil(
          [&] {
            auto r = read_on(i, path, 500'000 + m);
            return r.status == 200 && r.Json().at("likedByMe").as_bool() == (m <= 5);
          },
          5s))
          << "catalog instance " << i << " member " << m << ": "
          << read_on(i, path, 500'000 + m).body;
    }
    EXPECT_EQ(read_on(i, path).Json().at("likes").as_int64(), 5) << "catalog instance " << i;
  }

  ASSERT_EQ(gateway.Delete(path, admin).status, 204);
  on_every_instance(
      path, [](const HttpResponse& r) { return r.status == 404; }, "the retirement");
  std::printf(
      "[cluster catalog] a product created through gateway 0 was readable on every "
      "catalog instance after %lld ms (read through on a miss), its update after %lld ms (by "
      "its event)\n",
      static_cast<long long>(seen.count()), static_cast<long long>(updated_everywhere.count()));
}

TEST_F(ClusterFaults, A1TenThousandAttemptsThroughBothGatewaysSellExactlyTheStock) {
  Cluster& cluster = *cluster_;
  constexpr std::int64_t kStock = 100;
  constexpr int kMembers = 2'000;
  constexpr int kAttempts = 10'000;
  const std::int64_t product = ProductOnSale(cluster, kStock, 1);
  std::vector<std::string> tokens(kMembers + 1);
  for (int m = 1; m <= kMembers; ++m) tokens[m] = cluster.Token(100'000 + m);
  const std::string body = PurchaseBody(product);
  std::mutex mu;
  std::map<int, int> wins;
  std::map<int, int> statuses;
  std::vector<std::string> server_errors;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(cluster.gateway_port(t % 2));
      for (int i = next++; i < kAttempts; i = next++) {
        const int member = 1 + static_cast<int>((static_cast<std::int64_t>(i) * 7919) % kMembers);
        HttpResponse r;
        try {
          r = c.PostJson("/payment/request", body, tokens[member]);
        } catch (const std::exception& e) {
          r.status = 0;
          r.body = e.what();
        }
        std::lock_guard lock(mu);
        ++statuses[r.status];
        if (r.status == 201) ++wins[member];
        if (r.status == 0 || r.status >= 500) server_errors.push_back(r.body);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string seen;
  for (const auto& [status, n] : statuses) {
    seen += " " + std::to_string(status) + "x" + std::to_string(n);
  }
  std::printf("[cluster A1] %d attempts through 2 gateways in %.1f s (%.0f/s):%s\n", kAttempts,
              seconds, kAttempts / seconds, seen.c_str());
  EXPECT_EQ(statuses[201], kStock) << seen;
  EXPECT_EQ(static_cast<std::int64_t>(wins.size()), kStock);
  int over = 0;
  for (const auto& [member, n] : wins) over += n > 1 ? 1 : 0;
  EXPECT_EQ(over, 0) << "members over the limit";
  EXPECT_TRUE(server_errors.empty())
      << server_errors.size() << " 5xx, first: " << server_errors.front();
  ExpectSettled(cluster, product, kStock);
}

TEST_F(ClusterFaults, C1LiteInstancesKilledAndRestartedDuringADropLoseAndOversellNothing) {
  Cluster& cluster = *cluster_;
  constexpr std::int64_t kStock = 300;
  const std::int64_t product = ProductOnSale(cluster, kStock, 1);
  const std::string body = PurchaseBody(product);

  // Buyers: each member one attempt with its own key; an unknown outcome (5xx, no answer) is kept
  // and retried with the same key until it is definite.
  std::atomic<bool> chaos_over{false};
  std::atomic<int> next_member{1};
  std::mutex mu;
  std::map<int, std::int64_t> paid;  // member -> order id
  std::set<int> unknown;
  std::map<std::string, int> statuses;
  // True when the answer is definite: a 201, or a refusal that is final. No answer, a 5xx, or 409
  // REQUEST_IN_FLIGHT (the key's purchase is still running, e.g. its instance died mid-payment and
  // another settles it) says "ask again with the same key".
  auto attempt = [&](HttpClient& c, int member) -> bool {
    HttpResponse r;
    try {
      r = c.PostJson("/payment/request", body, cluster.Token(200'000 + member),
                     {{"Idempotency-Key", "c1-" + std::to_string(member)}});
    } catch (const std::exception& e) {
      r.status = 0;
    }
    const std::string code = r.status == 0 ? "" : r.ErrorCode();
    std::lock_guard lock(mu);
    ++statuses[std::to_string(r.status) + (code.empty() ? "" : " " + code)];
    if (r.status == 201) {
      const std::int64_t order = r.Json().at("orderId").as_int64();
      auto [it, fresh] = paid.emplace(member, order);
      EXPECT_TRUE(fresh || it->second == order) << "member " << member << " paid twice";
      unknown.erase(member);
      return true;
    }
    if (r.status == 0 || r.status >= 500 || code == "REQUEST_IN_FLIGHT") {
      unknown.insert(member);
      return false;
    }
    unknown.erase(member);
    return true;
  };
  std::vector<std::thread> buyers;
  for (int t = 0; t < 8; ++t) {
    buyers.emplace_back([&, t] {
      HttpClient c(cluster.gateway_port(t % 2));
      while (!chaos_over) {
        const int member = next_member++;
        attempt(c, member);
      }
    });
  }

  // Chaos: a random instance of catalog, checkout or orders, SIGKILL, restarted at once.
  std::mt19937 rng(20261130);
  const std::vector<std::string> services = {"catalog", "checkout", "orders"};
  int kills = 0;
  const auto chaos_end = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < chaos_end) {
    const std::string& service = services[rng() % services.size()];
    ServerProcess& victim = cluster.instance(service, rng() % 2);
    victim.Kill();
    ++kills;
    victim.Restart();
    std::this_thread::sleep_for(500ms);
  }
  chaos_over = true;
  for (auto& t : buyers) t.join();
  for (const std::string& service : services) {
    ASSERT_TRUE(cluster.WaitForInstances(service, 2, 20s)) << service;
  }

  // Every unknown outcome settles: retried with its key, it gets a definite answer.
  {
    HttpClient c(cluster.gateway_port());
    std::set<int> pending;
    {
      std::lock_guard lock(mu);
      pending = unknown;
    }
    const std::size_t unknown_after_chaos = pending.size();
    EXPECT_TRUE(WaitUntil(
        [&] {
          for (int member : std::set<int>(pending)) {
            if (attempt(c, member)) pending.erase(member);
          }
          return pending.empty();
        },
        60s))
        << pending.size() << " outcomes never settled";
    std::printf(
        "[cluster C1-lite] %d instances killed and restarted in 15 s; %d members tried, %zu "
        "paid, %zu outcomes unknown until retried\n",
        kills, next_member.load() - 1, paid.size(), unknown_after_chaos);
  }
  std::string seen;
  for (const auto& [status, n] : statuses) seen += " [" + status + "] x" + std::to_string(n);
  std::printf("[cluster C1-lite] answers:%s\n", seen.c_str());
  EXPECT_GT(kills, 5);
  EXPECT_LE(static_cast<std::int64_t>(paid.size()), kStock);
  ExpectSettled(cluster, product, kStock);
  // Every acknowledged purchase has its order, readable by its member.
  HttpClient c(cluster.gateway_port(1));
  for (const auto& [member, order] : paid) {
    EXPECT_TRUE(WaitUntil([&] {
      return c.Get("/order/" + std::to_string(order), cluster.Token(200'000 + member)).status ==
             200;
    })) << "order "
        << order << " of member " << member;
  }
  const std::int64_t sold =
      Count(cluster, "checkout",
            "SELECT sold FROM inventory WHERE product_id = " + std::to_string(product));
  EXPECT_EQ(sold, static_cast<std::int64_t>(paid.size()))
      << "a unit sold that no buyer was told of (or told of a sale that did not happen)";
}

TEST_F(ClusterFaults, WithEtcdDownTheGatewaysKeepRoutingAndCatchUpWhenItReturns) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = ProductOnSale(cluster, 1'000, 1);
  const std::string body = PurchaseBody(product);
  cluster.etcd().Stop();
  // Past every lease's TTL (3 s): the gateways route from what they last knew.
  std::this_thread::sleep_for(4s);
  int member = 300'000;
  for (std::size_t g = 0; g < 2; ++g) {
    HttpClient c(cluster.gateway_port(g));
    for (int i = 0; i < 10; ++i) {
      auto bought = c.PostJson("/payment/request", body, cluster.Token(++member));
      EXPECT_EQ(bought.status, 201) << "gateway " << g << ": " << bought.body;
      auto read = c.Get("/products/" + std::to_string(product));
      EXPECT_EQ(read.status, 200) << "gateway " << g << ": " << read.body;
    }
  }
  // An instance dies while etcd is down; the gateways keep serving from the other.
  ServerProcess& doomed = cluster.instance("checkout", 1);
  doomed.Kill();
  for (std::size_t g = 0; g < 2; ++g) {
    HttpClient c(cluster.gateway_port(g));
    int served = 0;
    for (int i = 0; i < 10; ++i) {
      auto bought = c.PostJson("/payment/request", body, cluster.Token(++member));
      served += bought.status == 201 ? 1 : 0;
    }
    // A purchase already sent to the dead instance is not resent (not idempotent without a key).
    EXPECT_GE(served, 8) << "gateway " << g;
  }
  cluster.etcd().Start();
  // The dead instance's lease lapses; its restart registers again: both gateways follow.
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 1, 15s));
  doomed.Restart();
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 2, 15s));
  HttpClient c(cluster.gateway_port(1));
  EXPECT_EQ(c.PostJson("/payment/request", body, cluster.Token(++member)).status, 201);
}

}  // namespace
}  // namespace rocketmart::testing
