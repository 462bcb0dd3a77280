// Issue 13: `rocketmart serve` with services on PostgreSQL, selected by [<service>.database] url
// (ROCKETMART_<SERVICE>_DATABASE_URL), against a real PostgreSQL 15 the test starts itself
// (LocalPostgres): all four services on it (a journey over HTTP, then a restart that keeps the data
// and migrates nothing), one service on it beside SQLite ones in one process, and the starts it
// refuses (a bad URL, a password in the URL, a server with fsync off, a server that is not there
// or does not answer) before the banner.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "support/db_probe.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/local_postgres.hpp"
#include "support/mail_folder.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/smtp_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPassword = "correct horse battery";
constexpr const char* kServices[] = {"members", "catalog", "checkout", "orders"};

std::string Url(const LocalPostgres& server, const std::string& db) {
  return "postgresql://rocketmart@127.0.0.1:" + std::to_string(server.port()) + "/" + db;
}

std::string EnvName(const std::string& service, const std::string& key) {
  std::string upper;
  for (char c : service) upper += static_cast<char>(c - 'a' + 'A');
  return "ROCKETMART_" + upper + "_DATABASE_" + key;
}

std::string Json(std::initializer_list<std::pair<const char*, std::string>> fields) {
  boost::json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  return boost::json::serialize(o);
}

// The newest mail to `to` in the server's .eml sink (waits, bounded, for the mail worker).
std::string MailTo(const fs::path& data_dir, const std::string& to) {
  std::string found;
  WaitUntil([&] {
    const auto mails = MailsIn(data_dir / "mail", to);
    if (!mails.empty()) found = mails.back();
    return !found.empty();
  });
  return found;
}

// Every store of GET /health, by name ("ok" or "unwritable"), or the body when it is not a 200.
std::map<std::string, std::string> HealthyStores(HttpClient& c) {
  std::map<std::string, std::string> stores;
  auto health = c.Get("/health");
  EXPECT_EQ(health.status, 200) << health.body;
  if (health.status != 200) return stores;
  const boost::json::value body = health.Json();
  for (const auto& [name, state] : body.at("stores").as_object()) {
    stores[std::string(name)] = std::string(state.as_string());
  }
  return stores;
}

// What a database's migrations table says (versions and when each was applied).
std::string Migrations(const LocalPostgres& server, const std::string& db) {
  return server.QueryValue(
      db,
      "SELECT string_agg(component || ':' || version || '@' || applied_at::text, ',' "
      "ORDER BY component, version) FROM schema_migrations");
}

TEST(ServeOnPostgres, EveryServiceOnPostgresServesAJourneyAndKeepsItsDataAcrossARestart) {
  LocalPostgres& pg = SharedLocalPostgres();
  std::map<std::string, std::string> env{
      {"ROCKETMART_MEMBERS_PUBLIC_BASE_URL", "https://shop.example"}};
  std::map<std::string, std::string> databases;
  for (const std::string service : kServices) {
    databases[service] = pg.NewDatabase(service);
    env[EnvName(service, "URL")] = Url(pg, databases[service]);
  }
  ServerProcess server({.env = env});
  HttpClient c(server.port());

  // Every store answers for /health; no SQLite file was created: the simulated payment
  // provider's ledger (an external system's stand-in, shared by every checkout instance) is a
  // table of its own in checkout's database.
  auto stores = HealthyStores(c);
  for (const std::string service : kServices) EXPECT_EQ(stores[service], "ok") << service;
  EXPECT_FALSE(stores.contains("provider"));
  for (const std::string service : kServices) {
    EXPECT_FALSE(fs::exists(server.data_dir() / (service + ".db"))) << service;
  }
  EXPECT_FALSE(fs::exists(server.data_dir() / "provider.db"));
  EXPECT_EQ(pg.QueryValue(databases["checkout"], "SELECT count(*) FROM charges"), "0");

  // signup -> the mailed link -> verify -> login -> a product on sale -> purchase -> the order.
  ASSERT_EQ(
      c.PostJson("/member/signup",
                 Json({{"email", "pg@example.com"}, {"password", kPassword}, {"name", "Pat"}}))
          .status,
      202);
  const std::string link =
      FindLink(PlainTextPart(MailTo(server.data_dir(), "pg@example.com")), "/member/verify?token=");
  ASSERT_FALSE(link.empty());
  ASSERT_EQ(
      c.PostJson("/member/verify", Json({{"token", link.substr(link.find("token=") + 6)}})).status,
      200);
  auto login =
      c.PostJson("/auth/login", Json({{"email", "pg@example.com"}, {"password", kPassword}}));
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string access(login.Json().at("accessToken").as_string());
  auto me = c.Get("/member/me", access);
  ASSERT_EQ(me.status, 200) << me.body;
  const std::int64_t member_id = me.Json().at("id").as_int64();

  const std::int64_t product = CreateProductOnSale(server, 5, 2, true, 4200);
  auto paid = c.PostJson("/payment/request",
                         R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", access);
  ASSERT_EQ(paid.status, 201) << paid.body;
  const std::int64_t order_id = paid.Json().at("orderId").as_int64();
  auto order = c.Get("/order/" + std::to_string(order_id), access);
  ASSERT_EQ(order.status, 200) << order.body;
  EXPECT_EQ(order.Json().at("total").as_int64(), 4200);
  // The order.paid event crossed from checkout's PostgreSQL outbox to orders' and the catalog's
  // consumers.
  ASSERT_TRUE(WaitUntil([&] {
    return pg.QueryValue(databases["orders"],
                         "SELECT count(*) FROM processed_events WHERE consumer = "
                         "'orders.order_paid'") == "1";
  }));
  EXPECT_EQ(pg.QueryValue(databases["orders"], "SELECT count(*) FROM orders"), "1");
  EXPECT_EQ(pg.QueryValue(databases["checkout"], "SELECT count(*) FROM payments"), "1");
  EXPECT_EQ(pg.QueryValue(databases["checkout"],
                          "SELECT count(*) FROM charges WHERE status = 'CAPTURED'"),
            "1");
  EXPECT_EQ(pg.QueryValue(databases["members"],
                          "SELECT count(*) FROM members WHERE id = " + std::to_string(member_id)),
            "1");
  EXPECT_EQ(pg.QueryValue(databases["catalog"],
                          "SELECT count(*) FROM products WHERE id = " + std::to_string(product)),
            "1");

  std::map<std::string, std::string> migrated;
  for (const std::string service : kServices) {
    migrated[service] = Migrations(pg, databases[service]);
    EXPECT_FALSE(migrated[service].empty()) << service;
  }

  // A restart on the same databases: the data is there, and nothing is migrated again.
  ASSERT_EQ(server.Terminate(), 0);
  server.Restart();
  HttpClient again(server.port());
  stores = HealthyStores(again);
  for (const std::string service : kServices) EXPECT_EQ(stores[service], "ok") << service;
  for (const std::string service : kServices) {
    EXPECT_EQ(Migrations(pg, databases[service]), migrated[service]) << service;
  }
  login =
      again.PostJson("/auth/login", Json({{"email", "pg@example.com"}, {"password", kPassword}}));
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string access2(login.Json().at("accessToken").as_string());
  order = again.Get("/order/" + std::to_string(order_id), access2);
  ASSERT_EQ(order.status, 200) << order.body;
  EXPECT_EQ(order.Json().at("status").as_string(), "PAID");
  auto listed = again.Get("/products/" + std::to_string(product));
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.Json().at("stock").as_int64(), 4);
  // And it still sells: the second of the member's two allowed units, then the limit.
  auto second =
      again.PostJson("/payment/request",
                     R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", access2);
  EXPECT_EQ(second.status, 201) << second.body;
  auto third =
      again.PostJson("/payment/request",
                     R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", access2);
  EXPECT_EQ(third.ErrorCode(), "PURCHASE_LIMIT_REACHED") << third.body;
}

// One process, checkout on PostgreSQL and the other services on SQLite: events cross engines on
// the one in-process bus (checkout's order.paid from PostgreSQL into orders' SQLite database, the
// catalog's product events from SQLite into checkout's PostgreSQL one).
TEST(ServeOnPostgres, CheckoutOnPostgresBesideServicesOnSqliteSellsAndOrders) {
  LocalPostgres& pg = SharedLocalPostgres();
  const std::string checkout_db = pg.NewDatabase("checkout");
  ServerProcess server({.env = {{"ROCKETMART_CHECKOUT_DATABASE_URL", Url(pg, checkout_db)}}});
  HttpClient c(server.port());
  auto stores = HealthyStores(c);
  for (const std::string service : kServices) EXPECT_EQ(stores[service], "ok") << service;
  EXPECT_FALSE(fs::exists(server.data_dir() / "checkout.db"));
  EXPECT_TRUE(fs::exists(server.data_dir() / "orders.db"));

  const std::int64_t product = CreateProductOnSale(server, 3, 3, true, 1500);
  EXPECT_EQ(pg.QueryValue(checkout_db, "SELECT available FROM inventory WHERE product_id = " +
                                           std::to_string(product)),
            "3");
  const std::string buyer = server.FastToken(7);
  auto paid = c.PostJson("/payment/request",
                         R"({"productId":)" + std::to_string(product) + R"(,"amount":2})", buyer);
  ASSERT_EQ(paid.status, 201) << paid.body;
  const std::int64_t order_id = paid.Json().at("orderId").as_int64();
  const fs::path orders = server.data_dir() / "orders.db";
  ASSERT_TRUE(WaitUntil([&] {
    return QueryInt(orders, "SELECT count(*) FROM orders WHERE id = " + std::to_string(order_id)) ==
           1;
  }));
  auto listed = c.Get("/order", buyer);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.Json().at("items").as_array().size(), 1u);
  EXPECT_EQ(pg.QueryValue(checkout_db, "SELECT count(*) FROM payments"), "1");
  EXPECT_EQ(pg.QueryValue(checkout_db, "SELECT available FROM inventory WHERE product_id = " +
                                           std::to_string(product)),
            "1");
  // Cancelling the order sends orders' event (SQLite) back to checkout (PostgreSQL): refunded.
  auto cancelled = c.Delete("/order/" + std::to_string(order_id), buyer);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_TRUE(WaitUntil([&] {
    return pg.QueryValue(checkout_db, "SELECT available FROM inventory WHERE product_id = " +
                                          std::to_string(product)) == "3";
  }));
}

// The database going away while the server runs: /health names the store unwritable (503) within
// its timeouts, a scrape still answers (the gauges read NaN, none waits past the statement
// timeout), and both recover when the database is back, without a restart.
TEST(ServeOnPostgres, HealthAndGaugesFollowTheDatabaseWithoutHanging) {
  LocalPostgres own;
  const std::string db = own.NewDatabase("checkout");
  ServerProcess server({.env = {{"ROCKETMART_CHECKOUT_DATABASE_URL", Url(own, db)},
                                {"ROCKETMART_CHECKOUT_DATABASE_CONNECT_TIMEOUT_MS", "500"},
                                {"ROCKETMART_CHECKOUT_DATABASE_STATEMENT_TIMEOUT_MS", "500"}}});
  HttpClient c(server.port());
  HttpClient admin(server.admin_port());
  EXPECT_EQ(HealthyStores(c)["checkout"], "ok");
  CreateProductOnSale(server, 7, 2);
  auto scrape = admin.Get("/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.body.find("checkout_stock_available_units 7"), std::string::npos)
      << scrape.body.substr(0, 2000);
  EXPECT_NE(scrape.body.find("postgres_pool_connections{db=\"checkout\",state=\"open\"}"),
            std::string::npos);

  own.Stop();
  const auto start = std::chrono::steady_clock::now();
  auto health = c.Get("/health");
  const auto health_took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("\"checkout\":\"unwritable\""), std::string::npos) << health.body;
  EXPECT_NE(health.body.find("\"orders\":\"ok\""), std::string::npos) << health.body;
  EXPECT_LT(health_took, std::chrono::seconds(3));
  const auto scrape_start = std::chrono::steady_clock::now();
  scrape = admin.Get("/metrics");
  const auto scrape_took = std::chrono::steady_clock::now() - scrape_start;
  ASSERT_EQ(scrape.status, 200);
  // The registry prints a NaN as `nan` (printf; Prometheus parses it).
  const std::size_t gauge = scrape.body.find("\ncheckout_stock_available_units ");
  ASSERT_NE(gauge, std::string::npos) << scrape.body.substr(0, 2000);
  EXPECT_EQ(scrape.body.substr(gauge + 31, 4), " nan") << scrape.body.substr(gauge, 60);
  EXPECT_LT(scrape_took, std::chrono::seconds(3));

  own.Start();
  EXPECT_TRUE(WaitUntil([&] { return c.Get("/health").status == 200; }));
  EXPECT_TRUE(WaitUntil([&] {
    return admin.Get("/metrics").body.find("checkout_stock_available_units 7") != std::string::npos;
  }));
}

// `rocketmart serve` with the given environment, in a fresh data directory; what it printed and
// how it ended.
CommandResult Serve(const std::map<std::string, std::string>& env,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  TempDir dir("pg-serve");
  std::map<std::string, std::string> all = env;
  all["ROCKETMART_DEMO_SEED"] = "false";
  all["ROCKETMART_SERVER_ADMIN_PORT"] = "0";
  return RunCapture({BinaryPath(), "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir",
                     dir.path().string()},
                    all, timeout);
}

TEST(ServeOnPostgres, StartRefusesADatabaseUrlItCannotUse) {
  // Another engine, a path, a libpq key=value string: exit 2 naming the key, before the banner.
  for (const char* bad : {"mysql://db/checkout", "/var/lib/checkout.db", "host=db dbname=x"}) {
    const CommandResult r = Serve({{"ROCKETMART_CHECKOUT_DATABASE_URL", bad}});
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.err;
    EXPECT_NE(r.err.find("checkout.database.url"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  }
  // A password inside the URL is refused, and the message does not repeat it.
  for (const char* leaky : {"postgresql://shop:hunter2@127.0.0.1/orders",
                            "postgresql://127.0.0.1/orders?password=hunter2"}) {
    const CommandResult r = Serve({{"ROCKETMART_ORDERS_DATABASE_URL", leaky}});
    EXPECT_EQ(r.exit_code, 2) << leaky << "\n" << r.err;
    EXPECT_NE(r.err.find("orders.database.url"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("password"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  }
}

// Battery H4 at the service: a server that does not make commits durable is refused at start.
TEST(ServeOnPostgres, StartRefusesAServerWithFsyncOff) {
  LocalPostgres unsafe({.settings = {{"fsync", "off"}}});
  const std::string db = unsafe.NewDatabase("members");
  const CommandResult r = Serve({{"ROCKETMART_MEMBERS_DATABASE_URL", Url(unsafe, db)}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("fsync is off"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("members.database.url"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  // Nothing was migrated into it.
  EXPECT_EQ(unsafe.QueryValue(db,
                              "SELECT count(*) FROM pg_tables WHERE tablename = "
                              "'schema_migrations'"),
            "0");
}

// A TCP port that accepts connections (the kernel completes the handshake) and never answers: a
// black-holed database.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      throw std::runtime_error("SilentListener: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ServeOnPostgres, StartFailsWithinTheConnectTimeoutWhenTheDatabaseDoesNotAnswer) {
  SilentListener silent;
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r =
      Serve({{"ROCKETMART_CATALOG_DATABASE_URL",
              "postgresql://rocketmart@127.0.0.1:" + std::to_string(silent.port()) + "/catalog"},
             {"ROCKETMART_CATALOG_DATABASE_CONNECT_TIMEOUT_MS", "700"}});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("catalog.database.url"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did not answer in time"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  // The connect timeout plus the process's own start (a few hundred ms on a loaded machine).
  EXPECT_LT(took, std::chrono::seconds(5));

  // Nothing listening at all: refused at once, with the same clear line.
  const CommandResult refused = Serve(
      {{"ROCKETMART_ORDERS_DATABASE_URL",
        "postgresql://rocketmart@127.0.0.1:" + std::to_string(FreeLoopbackPort()) + "/orders"},
       {"ROCKETMART_ORDERS_DATABASE_CONNECT_TIMEOUT_MS", "700"}});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("orders.database.url"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace rocketmart::testing
