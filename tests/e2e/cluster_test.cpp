// The services apart (issue 15): a local cluster (support/cluster.hpp: real etcd, Redis and
// PostgreSQL, the binary as a gateway and one process per service instance) driven over the
// gateway as a shopper and an operator would, the services' refusal of anything the gateway did
// not sign, spoofed identity headers (battery G11), and what discovery promises: a killed instance
// leaves the rotation within 3 s, a clean SIGTERM under load loses no request.
#include "support/cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "auth/internal_identity.hpp"
#include "infra/http/types.hpp"
#include "support/http_client.hpp"
#include "support/local_postgres.hpp"
#include "support/mail_folder.hpp"
#include "support/smtp_server.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

using namespace std::chrono_literals;

std::int64_t CreateProductOnSale(Cluster& cluster, std::int64_t stock, std::int64_t limit) {
  HttpClient c(cluster.gateway_port());
  const std::string admin = cluster.Token(1, true);
  auto created = c.PostJson(
      "/products", R"({"name":"Drop","price":1000,"stock":)" + std::to_string(stock) + "}", admin);
  EXPECT_EQ(created.status, 201) << created.body;
  const std::int64_t id = created.Json().at("id").as_int64();
  const std::string path = "/payment/" + std::to_string(id) + "/sale";
  EXPECT_TRUE(WaitUntil([&] {
    // Checkout learns the product from the catalog's event (Redis Streams); until then a sale for
    // it may be refused as unknown.
    auto sale = c.PutJson(
        path,
        R"({"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","perMemberLimit":)" +
            std::to_string(limit) + "}",
        admin);
    return sale.status == 200;
  }));
  EXPECT_TRUE(WaitUntil([&] {
    auto s = c.Get(path);
    return s.status == 200 && s.Json().at("state").as_string() == "live";
  }));
  // Apart, "live" is the checkout instance's memory (the catalog event's cache refresh); the
  // inventory row is the event's effect, a separate consumer that may commit a moment later
  // (docs/cluster.md, "Known gaps"). A purchase before it answers SOLD_OUT.
  const std::string db = cluster.DatabaseName("checkout");
  EXPECT_TRUE(WaitUntil([&] {
    return SharedLocalPostgres().QueryValue(
               db, "SELECT count(*) FROM inventory WHERE product_id = " + std::to_string(id)) ==
           "1";
  }));
  return id;
}

// The verification link of the one mail in `dir` addressed to `email`.
std::string VerificationToken(const std::filesystem::path& dir, const std::string& email) {
  std::string token;
  WaitUntil([&] {
    for (const auto& mail : MailsIn(dir, email)) {
      const std::string link = FindLink(PlainTextPart(mail), "/member/verify?token=");
      if (!link.empty()) token = link.substr(link.find("token=") + 6);
    }
    return !token.empty();
  });
  return token;
}

std::string Bearer(const std::string& token) {
  return "Bearer " + token;
}

// A checkout instance started for one test and stopped (SIGTERM) at its end, whatever happens.
// It loads the sales at start and hears of every later change (sale.changed).
struct ExtraCheckout {
  explicit ExtraCheckout(Cluster& c) : cluster(c), process(c.AddInstance("checkout")) {}
  ~ExtraCheckout() {
    process.Terminate();
    cluster.WaitForInstances("checkout", 1);
  }
  Cluster& cluster;
  ServerProcess& process;
};

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(); }
  void SetUp() override { ASSERT_TRUE(cluster_->WaitForInstances("checkout", 1)); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static Cluster* cluster_;
};
Cluster* ClusterTest::cluster_ = nullptr;

TEST_F(ClusterTest, AShopperSignsUpBuysAndCancelsThroughTheGateway) {
  Cluster& cluster = *cluster_;
  HttpClient c(cluster.gateway_port());
  const std::int64_t product = CreateProductOnSale(cluster, 10, 2);
  ExtraCheckout second(cluster);  // purchases and refunds go to either of two instances
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 2));

  const std::string email = "shopper@example.com", password = "Shopper-pass-123";
  auto signup = c.PostJson("/member/signup", R"({"email":")" + email + R"(","password":")" +
                                                 password + R"(","name":"Shopper"})");
  ASSERT_EQ(signup.status, 202) << signup.body;
  const std::string token = VerificationToken(cluster.mail_dir(), email);
  ASSERT_FALSE(token.empty()) << "no verification mail in " << cluster.mail_dir();
  auto verified = c.PostJson("/member/verify", R"({"token":")" + token + R"("})");
  ASSERT_EQ(verified.status, 200) << verified.body;
  auto login =
      c.PostJson("/auth/login", R"({"email":")" + email + R"(","password":")" + password + R"("})");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string access = std::string(login.Json().at("accessToken").as_string());

  auto bought = c.PostJson("/payment/request",
                           R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", access,
                           {{"Idempotency-Key", "cluster-journey-1"}});
  ASSERT_EQ(bought.status, 201) << bought.body;
  const std::int64_t order = bought.Json().at("orderId").as_int64();

  // The order: read at once (read-your-writes over orders' PaymentsClient, HTTP to checkout),
  // then from order.paid through Redis Streams.
  auto read = c.Get("/order/" + std::to_string(order), access);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.Json().at("status").as_string(), "PAID");
  // My page: members' OrdersClient (HTTP to orders) sees it.
  ASSERT_TRUE(WaitUntil([&] {
    auto page = c.Get("/member/mypage", access);
    return page.status == 200 && page.Json().at("orders").at("items").as_array().size() == 1;
  })) << c.Get("/member/mypage", access).body;

  auto cancelled = c.Delete("/order/" + std::to_string(order), access);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  // order.cancelled reaches checkout (one of two instances) through Redis: refunded, restocked.
  EXPECT_TRUE(WaitUntil([&] {
    auto o = c.Get("/order/" + std::to_string(order), access);
    if (o.status != 200) return false;
    const boost::json::value json = o.Json();
    return json.as_object().contains("refund") &&
           json.at("refund").at("status").as_string() == "REFUNDED";
  })) << c.Get("/order/" + std::to_string(order), access).body;
  // Logout on members denies the token at every gateway (the deny-list in Redis).
  auto logout = c.Request("POST", "/auth/logout", "", {{"Authorization", Bearer(access)}});
  ASSERT_EQ(logout.status, 204) << logout.body;
  EXPECT_TRUE(WaitUntil([&] { return c.Get("/order", access).status == 401; }, 3s))
      << "a logged-out token still works at the gateway";
  auto summary =
      c.Get("/admin/sales/" + std::to_string(product) + "/summary", cluster.Token(1, true));
  ASSERT_EQ(summary.status, 200) << summary.body;
  EXPECT_EQ(summary.Json().at("sold").as_int64(), 0) << summary.body;
  EXPECT_EQ(summary.Json().at("available").as_int64(), 10) << summary.body;
}

TEST_F(ClusterTest, AServiceReachedWithoutTheGatewaysSignatureAnswers401) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = CreateProductOnSale(cluster, 5, 1);
  HttpClient checkout(cluster.instance("checkout").port());
  const std::string body = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  const std::string member_token = cluster.Token(42);
  struct Case {
    const char* name;
    std::map<std::string, std::string> headers;
  };
  const std::vector<Case> cases = {
      {"missing", {}},
      {"a member's access token in Authorization only", {{"Authorization", Bearer(member_token)}}},
      {"forged", {{std::string(auth::kInternalIdentityHeader), member_token}}},
      {"expired",
       {{std::string(auth::kInternalIdentityHeader), cluster.InternalIdentity(42, false, 60s)}}},
      {"spoofed user id", {{"X-User-Id", "42"}, {"X-Forwarded-For", "10.0.0.1"}}},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> headers = c.headers;
    headers["Content-Type"] = "application/json";
    auto direct = checkout.Request("POST", "/payment/request", body, headers);
    EXPECT_EQ(direct.status, 401) << c.name << ": " << direct.body;
    EXPECT_EQ(direct.ErrorCode(), "UNAUTHENTICATED") << c.name;
  }
  // A forged identity is refused on a public route too.
  auto forged_public = checkout.Request("GET", "/payment/" + std::to_string(product) + "/sale", "",
                                        {{std::string(auth::kInternalIdentityHeader), "x.y.z"}});
  EXPECT_EQ(forged_public.status, 401) << forged_public.body;
  // What the gateway signs is accepted: the check above can tell the two apart.
  auto signed_by_gateway =
      checkout.Request("POST", "/payment/request", body,
                       {{"Content-Type", "application/json"},
                        {std::string(auth::kInternalIdentityHeader),
                         cluster.InternalIdentity(auth::SyntheticMemberId(42))}});
  EXPECT_EQ(signed_by_gateway.status, 201) << signed_by_gateway.body;
}

// The gateway's metric `name` with `labels` (0 when it is not there yet).
std::int64_t GatewayCounter(Cluster& cluster, const std::string& name, const std::string& labels) {
  const std::string metrics = HttpClient(cluster.gateway().admin_port()).Get("/metrics").body;
  const std::string line = name + "{" + labels + "} ";
  const std::size_t at = metrics.find(line);
  if (at == std::string::npos) return 0;
  return std::stoll(metrics.substr(at + line.size()));
}

// docs/adr/0048: checkout marks its sold-out answer to a purchase without a key as everyone's for
// what is left of its sold-out mark, and the gateway repeats it to the same request itself; never
// to a keyed request, a member whose email is not verified, or after a change it forwarded.
TEST_F(ClusterTest, TheGatewayRepeatsAnUnkeyedSoldOutUntilAHoldIsGivenBack) {
  Cluster& cluster = *cluster_;
  // One checkout instance: the hold's unit comes back where the next purchase is sold.
  ASSERT_EQ(cluster.KnownInstances(0, "checkout"), 1);
  const std::int64_t product = CreateProductOnSale(cluster, 1, 1);
  const std::string body = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  HttpClient c(cluster.gateway_port());
  const std::string holder = cluster.Token(9101), buyer = cluster.Token(9102);
  auto hold = c.PostJson("/payment/holds", body, holder);
  ASSERT_EQ(hold.status, 201) << hold.body;
  const std::int64_t hold_id = hold.Json().at("holdId").as_int64();

  // Checkout says so to a gateway only, in milliseconds within its mark (100 ms by default).
  HttpClient checkout(cluster.instance("checkout", 0).port());
  const std::map<std::string, std::string> signed_headers = {
      {"Content-Type", "application/json"},
      {std::string(auth::kInternalIdentityHeader),
       cluster.InternalIdentity(auth::SyntheticMemberId(9102))}};
  auto direct = checkout.Request("POST", "/payment/request", body, signed_headers);
  ASSERT_EQ(direct.status, 409) << direct.body;
  const std::string mark = direct.Header(std::string(http::kSharedAnswerHeader));
  ASSERT_FALSE(mark.empty()) << "checkout did not mark its sold-out answer";
  EXPECT_GT(std::stoll(mark), 0);
  EXPECT_LE(std::stoll(mark), 100);
  // A key checkout has nothing for gets the answer everyone gets (docs/adr/0049).
  std::map<std::string, std::string> keyed_headers = signed_headers;
  keyed_headers["Idempotency-Key"] = "shared-answer-direct";
  auto keyed_direct = checkout.Request("POST", "/payment/request", body, keyed_headers);
  EXPECT_EQ(keyed_direct.ErrorCode(), "SOLD_OUT") << keyed_direct.body;
  EXPECT_FALSE(keyed_direct.Header(std::string(http::kSharedAnswerHeader)).empty())
      << "a sold-out answer to an unused key was not marked";

  // Through the gateway: the same answer, without the mark, and soon given by the gateway itself.
  const std::string labels = R"(service="checkout")";
  const std::int64_t before = GatewayCounter(cluster, "gateway_shared_answers_total", labels);
  ASSERT_TRUE(WaitUntil([&] {
    for (int i = 0; i < 5; ++i) {
      auto answer = c.PostJson("/payment/request", body, buyer);
      EXPECT_EQ(answer.status, 409) << answer.body;
      EXPECT_EQ(answer.ErrorCode(), "SOLD_OUT") << answer.body;
      EXPECT_TRUE(answer.Header(std::string(http::kSharedAnswerHeader)).empty())
          << "the mark reached a client";
    }
    return GatewayCounter(cluster, "gateway_shared_answers_total", labels) > before;
  })) << "the gateway never repeated the sold-out answer";

  // Never to a member whose email is not verified (checkout answers that first).
  const std::int64_t shared = GatewayCounter(cluster, "gateway_shared_answers_total", labels);
  auto unverified = c.PostJson("/payment/request", body, cluster.Token(9103, false, false));
  EXPECT_EQ(unverified.status, 403) << unverified.body;
  EXPECT_EQ(unverified.ErrorCode(), "EMAIL_NOT_VERIFIED") << unverified.body;
  EXPECT_EQ(GatewayCounter(cluster, "gateway_shared_answers_total", labels), shared);

  // The holder gives the unit back through the gateway and buys it at once: the answer the gateway
  // held predates the change, so it is not given.
  auto cancelled = c.Delete("/payment/holds/" + std::to_string(hold_id), holder);
  ASSERT_EQ(cancelled.status, 204) << cancelled.body;
  const std::int64_t before_buy = GatewayCounter(cluster, "gateway_shared_answers_total", labels);
  auto bought = c.PostJson("/payment/request", body, holder);
  EXPECT_EQ(GatewayCounter(cluster, "gateway_shared_answers_total", labels), before_buy)
      << "the gateway answered from before the cancel";
  // Checkout gives the unit back to Redis in the background (a notification, docs/redis.md): a
  // purchase right after the cancel may still be told sold out by checkout for a moment.
  if (bought.status != 201) {
    EXPECT_TRUE(WaitUntil([&] {
      return c.PostJson("/payment/request", body, holder).status == 201;
    })) << bought.body;
  }
}

// A keyed sold-out answer repeated by the gateway (docs/adr/0049): to a key checkout has nothing
// for, while a key that bought is still replayed by checkout, whatever the gateway holds.
TEST_F(ClusterTest, TheGatewayRepeatsAKeyedSoldOutOnlyToAKeyCheckoutHasNothingFor) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = CreateProductOnSale(cluster, 1, 1);
  const std::string body = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  HttpClient c(cluster.gateway_port());
  const std::string winner = cluster.Token(9201), late = cluster.Token(9202);
  const std::map<std::string, std::string> winner_key = {{"Idempotency-Key", "keyed-winner"}};
  auto bought = c.PostJson("/payment/request", body, winner, winner_key);
  ASSERT_EQ(bought.status, 201) << bought.body;
  const std::int64_t order = bought.Json().at("orderId").as_int64();

  const std::string labels = R"(service="checkout")";
  int repeated = 0;  // rounds in which the gateway answered a fresh key itself
  for (int round = 0; round < 200 && repeated < 3; ++round) {
    const std::int64_t before = GatewayCounter(cluster, "gateway_shared_answers_total", labels);
    auto fresh = c.PostJson("/payment/request", body, late,
                            {{"Idempotency-Key", "keyed-late-" + std::to_string(round)}});
    ASSERT_EQ(fresh.ErrorCode(), "SOLD_OUT") << fresh.body;
    // Right after it, while what the gateway holds is fresh: the winner's retry is its purchase.
    auto retry = c.PostJson("/payment/request", body, winner, winner_key);
    ASSERT_EQ(retry.status, 201) << retry.body;
    EXPECT_EQ(retry.Header("Idempotent-Replayed"), "true");
    EXPECT_EQ(retry.Json().at("orderId").as_int64(), order);
    const std::int64_t gave =
        GatewayCounter(cluster, "gateway_shared_answers_total", labels) - before;
    ASSERT_LE(gave, 1) << "the gateway answered the key that bought";
    repeated += static_cast<int>(gave);
  }
  EXPECT_EQ(repeated, 3) << "the gateway never repeated a keyed sold-out answer";
}

TEST_F(ClusterTest, SpoofedIdentityHeadersThroughTheGatewayChangeNothing) {
  Cluster& cluster = *cluster_;
  HttpClient c(cluster.gateway_port());
  const std::int64_t product = CreateProductOnSale(cluster, 5, 1);
  // Member 7 likes the product; member 8 sends spoofed headers naming member 7 (and an internal
  // identity for an admin, valid but from a client) with its own token.
  ASSERT_EQ(c.Request("PUT", "/products/" + std::to_string(product) + "/like", "",
                      {{"Authorization", Bearer(cluster.Token(7))}})
                .status,
            200);
  const std::map<std::string, std::string> spoofed = {
      {"X-User-Id", std::to_string(auth::SyntheticMemberId(7))},
      {"X-Forwarded-For", "10.9.8.7"},
      {std::string(auth::kInternalIdentityHeader),
       cluster.InternalIdentity(auth::SyntheticMemberId(7), true)}};
  auto with_token = spoofed;
  with_token["Authorization"] = Bearer(cluster.Token(8));
  auto likes = c.Request("GET", "/products/likes", "", with_token);
  ASSERT_EQ(likes.status, 200) << likes.body;
  EXPECT_TRUE(likes.Json().at("items").as_array().empty()) << "member 8 saw member 7's likes";
  // Without a token the spoofed admin identity is stripped: an admin route answers 401.
  auto admin = c.Request("GET", "/admin/orders", "", spoofed);
  EXPECT_EQ(admin.status, 401) << admin.body;
  // And the stripped headers never made an anonymous request someone.
  auto cart = c.Request("GET", "/cart", "", spoofed);
  EXPECT_EQ(cart.status, 401) << cart.body;
}

TEST_F(ClusterTest, TheLiveStockStreamPassesThroughTheGateway) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = CreateProductOnSale(cluster, 3, 1);
  const std::string head = SendRaw(
      cluster.gateway_port(),
      "GET /products/" + std::to_string(product) + "/stock/stream HTTP/1.1\r\nHost: x\r\n\r\n",
      1500);
  EXPECT_NE(head.find("200 OK"), std::string::npos) << head;
  EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
  EXPECT_NE(head.find("\"stock\":3"), std::string::npos) << head;
}

// A purchase attempt's outcome as the load below counts it: any answer a member can act on
// (201, or the sale's own 4xx) is served; 5xx or no answer is a lost request.
bool Served(int status) {
  return status > 0 && status < 500;
}

struct Load {
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::atomic<int> lost{0};
  std::vector<std::thread> threads;
  std::vector<std::string> losses;
  std::mutex mutex;

  void Start(Cluster& cluster, std::int64_t product, int threads_count, int first_member) {
    for (int t = 0; t < threads_count; ++t) {
      threads.emplace_back([this, &cluster, product, t, first_member] {
        HttpClient c(cluster.gateway_port());
        const std::string body = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
        for (int i = 0; !stop; ++i) {
          const int member = first_member + t * 100000 + i;
          HttpResponse r;
          try {
            r = (i % 2 == 0) ? c.PostJson("/payment/request", body, cluster.Token(member))
                             : c.Get("/payment/availability?ids=" + std::to_string(product));
          } catch (const std::exception& e) {
            r.status = 0;
            r.body = e.what();
          }
          if (Served(r.status)) {
            ++served;
          } else {
            ++lost;
            std::lock_guard lock(mutex);
            losses.push_back(std::to_string(r.status) + " " + r.body);
          }
        }
      });
    }
  }
  void Stop() {
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

TEST_F(ClusterTest, ACleanShutdownOfACheckoutInstanceUnderLoadLosesNoRequest) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = CreateProductOnSale(cluster, 1'000'000, 1);
  ExtraCheckout second(cluster), third(cluster);
  ServerProcess& extra = third.process;
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 3));
  // A sale changed through the gateway (one instance takes it) reaches every instance, those
  // started before the change included: each sells a member 2 units under the raised limit.
  HttpClient gateway(cluster.gateway_port());
  const std::string sale_path = "/payment/" + std::to_string(product) + "/sale";
  auto raised = gateway.PutJson(
      sale_path,
      R"({"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","perMemberLimit":2})",
      cluster.Token(1, true));
  ASSERT_EQ(raised.status, 200) << raised.body;
  const std::string two = R"({"productId":)" + std::to_string(product) + R"(,"amount":2})";
  for (ServerProcess* instance : {&cluster.instance("checkout"), &second.process, &extra}) {
    HttpClient direct(instance->port());
    const std::string identity =
        cluster.InternalIdentity(auth::SyntheticMemberId(900 + instance->port()));
    HttpResponse bought;
    EXPECT_TRUE(WaitUntil(
        [&] {
          bought = direct.Request("POST", "/payment/request", two,
                                  {{"Content-Type", "application/json"},
                                   {std::string(auth::kInternalIdentityHeader), identity}});
          return bought.status == 201;
        },
        10s))
        << "instance on port " << instance->port() << ": " << bought.body;
  }
  Load load;
  load.Start(cluster, product, 4, 1'000'000);
  std::this_thread::sleep_for(500ms);  // the load runs on all three instances
  const int before = load.served.load();
  EXPECT_EQ(extra.Terminate(), 0);
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 2));
  std::this_thread::sleep_for(500ms);
  load.Stop();
  std::printf(
      "[cluster] clean shutdown under load: %d requests served (%d before the SIGTERM), "
      "%d lost\n",
      load.served.load(), before, load.lost.load());
  EXPECT_GT(load.served.load(), before);
  EXPECT_EQ(load.lost.load(), 0) << (load.losses.empty() ? "" : load.losses.front());
}

TEST_F(ClusterTest, AKilledCheckoutInstanceLeavesTheRotationWithin3Seconds) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = CreateProductOnSale(cluster, 1'000'000, 1);
  ExtraCheckout second(cluster), third(cluster);
  ServerProcess& doomed = third.process;
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 3));
  Load load;
  load.Start(cluster, product, 2, 5'000'000);
  std::this_thread::sleep_for(300ms);
  const auto killed_at = std::chrono::steady_clock::now();
  doomed.Kill();
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 2, 10s));
  const auto gone_after = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  std::this_thread::sleep_for(300ms);
  load.Stop();
  std::printf(
      "[cluster] SIGKILLed checkout instance out of the gateway's rotation after %lld ms "
      "(Eureka: 90-180 s); %d requests served meanwhile, %d lost\n",
      static_cast<long long>(gone_after.count()), load.served.load(), load.lost.load());
  EXPECT_LT(gone_after, 3s);
  // The rest kept selling: requests the dead instance had already taken may be lost (a
  // purchase is never sent twice without its Idempotency-Key); everything after went elsewhere.
  EXPECT_GT(load.served.load(), 0);
  EXPECT_LE(load.lost.load(), 2) << (load.losses.empty() ? "" : load.losses.front());
}

// Each instance's names come from its data directory (instance.id), not from its port: a process
// SIGKILLed and restarted on the same directory is the same consumer in Redis (it takes back at
// once what it had read and not acknowledged; a new name per restart left that to another
// instance's XAUTOCLAIM after claim_idle, 30 s) and the same worker on checkout's payment leases
// (its restart settles what it left PAYING, and only that: with one name for every instance, a
// restarted instance released another's payment in flight, whose charge then went through with no
// sale, battery C1-lite).
TEST_F(ClusterTest, ARestartedInstanceKeepsItsNamesAndNoTwoInstancesShareOne) {
  Cluster& cluster = *cluster_;
  const std::int64_t product = CreateProductOnSale(cluster, 100, 10);
  ExtraCheckout second(cluster);
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 2));
  const std::string checkout_db = cluster.DatabaseName("checkout");
  // A purchase made on one checkout instance (asked directly, as the gateway would); the name its
  // payment was leased under.
  int member = 400'000;
  auto payer_of_a_purchase_on = [&](ServerProcess& instance) {
    HttpClient direct(instance.port());
    HttpResponse bought;
    EXPECT_TRUE(WaitUntil([&] {
      bought = direct.Request("POST", "/payment/request",
                              R"({"productId":)" + std::to_string(product) + R"(,"amount":1})",
                              {{"Content-Type", "application/json"},
                               {std::string(auth::kInternalIdentityHeader),
                                cluster.InternalIdentity(auth::SyntheticMemberId(++member))}});
      return bought.status == 201;
    })) << bought.status
        << " " << bought.body;
    if (bought.status != 201) return std::string();
    return SharedLocalPostgres().QueryValue(
        checkout_db,
        "SELECT h.payer FROM holds h JOIN payments p ON p.hold_id = h.id WHERE p.id = " +
            std::to_string(bought.Json().at("orderId").as_int64()));
  };
  ServerProcess& first = cluster.instance("checkout", 0);
  const std::string first_name = payer_of_a_purchase_on(first);
  const std::string second_name = payer_of_a_purchase_on(second.process);
  EXPECT_FALSE(first_name.empty());
  EXPECT_NE(first_name, second_name) << "two checkout instances lease payments under one name";
  first.Kill();
  first.Restart();
  ASSERT_TRUE(cluster.WaitForInstances("checkout", 2));
  EXPECT_EQ(payer_of_a_purchase_on(first), first_name) << "a restart changed the worker's name";

  // Orders' consumers of checkout's events: the same set of names after a restart.
  auto consumers = [&] {
    std::string names;
    const std::string info = cluster.redis().Command(
        {"XINFO", "CONSUMERS", "rocketmart:events:checkout", "orders.order_paid"});
    std::istringstream lines(info);
    std::string line;
    bool next_is_name = false;
    std::vector<std::string> found;
    while (std::getline(lines, line)) {
      if (next_is_name) found.push_back(line);
      next_is_name = line == "name";
    }
    std::sort(found.begin(), found.end());
    for (const std::string& n : found) names += n + " ";
    return names;
  };
  const std::string before = consumers();
  EXPECT_FALSE(before.empty()) << "orders consumes checkout's order.paid in a group";
  ServerProcess& orders = cluster.instance("orders", 0);
  orders.Kill();
  orders.Restart();
  ASSERT_TRUE(cluster.WaitForInstances("orders", 1));
  payer_of_a_purchase_on(first);  // an order.paid for the restarted consumer to read
  std::string after;
  EXPECT_FALSE(WaitUntil(
      [&] {
        after = consumers();
        return after != before;
      },
      3s))
      << "a restarted orders instance consumes under a new name: " << before << "-> " << after;
}

}  // namespace
}  // namespace rocketmart::testing
