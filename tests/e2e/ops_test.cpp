// The operator's view of the real binary: the admin listener (issue 11 point 11), Prometheus
// exposition, logs and trace context (point 15).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "auth/identity.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/temp_dir.hpp"
#include "support/test_engine.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

TEST(Ops, MetricsAreServedOnTheAdminListenerOnly) {
  ServerProcess server;
  ASSERT_NE(server.admin_port(), 0) << "no admin listener announced";
  EXPECT_EQ(HttpClient(server.port()).Get("/metrics").status, 404);
  auto metrics = HttpClient(server.admin_port()).Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(metrics.body.find("http_connections_active{listener=\"public\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("http_connections_active{listener=\"admin\"}"), std::string::npos);
  // Nothing but /metrics on the admin listener.
  HttpClient admin(server.admin_port());
  EXPECT_EQ(admin.Get("/health").status, 404);
  EXPECT_EQ(admin.Get("/products").status, 404);
}

TEST(Ops, AConfiguredMetricsTokenIsRequired) {
  const std::string token = "an operator token of more than 32 bytes";
  ServerProcess server({.env = {{"ROCKETMART_OPS_METRICS_TOKEN", token}}});
  HttpClient admin(server.admin_port());
  auto none = admin.Get("/metrics");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.ErrorCode(), "UNAUTHENTICATED");
  EXPECT_EQ(none.Header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(none.body.find("http_requests_total"), std::string::npos);
  std::string wrong = token;
  wrong.back() = 'X';
  EXPECT_EQ(admin.Get("/metrics", wrong).status, 401);
  EXPECT_EQ(admin.Get("/metrics", token + "x").status, 401);
  EXPECT_EQ(admin.Get("/metrics", token.substr(1)).status, 401);
  auto right = admin.Get("/metrics", token);
  EXPECT_EQ(right.status, 200);
  EXPECT_NE(right.body.find("http_requests_total"), std::string::npos);
}

TEST(Ops, TheAdminListenerCanBeTurnedOff) {
  ServerProcess server({.env = {{"ROCKETMART_SERVER_ADMIN_PORT", "-1"}}});
  EXPECT_EQ(server.admin_port(), 0);
  EXPECT_EQ(HttpClient(server.port()).Get("/metrics").status, 404);
  EXPECT_EQ(HttpClient(server.port()).Get("/health").status, 200);
}

// The value of one series ("name{labels}") in an exposition, or -1 when it is absent.
double Series(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + series.size() + 2));
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A real scrape, after a sale, a hold, a purchase and a failed login, checked by Prometheus's own
// linter (`promtool check metrics`): counters are typed counter, names follow the conventions.
// The operational gauges are there with the values the actions imply.
TEST(Ops, AScrapePassesPromtoolAndCarriesTheOperationalGauges) {
  if (::access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus; make test installs it)";
  }
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 10, 5);
  HttpClient c(server.port());
  const std::string buyer = server.FastToken(2);
  ASSERT_EQ(c.PostJson("/payment/holds",
                       R"({"productId":)" + std::to_string(product) + R"(,"amount":2})", buyer)
                .status,
            201);
  ASSERT_EQ(c.PostJson("/payment/request",
                       R"({"productId":)" + std::to_string(product) + R"(,"amount":1})",
                       server.FastToken(3))
                .status,
            201);
  EXPECT_EQ(
      c.PostJson("/auth/login", R"({"email":"nobody@example.com","password":"wrong password"})")
          .status,
      401);
  HttpClient admin(server.admin_port());
  std::string scrape;
  ASSERT_TRUE(WaitUntil([&] {
    scrape = admin.Get("/metrics").body;
    return Series(scrape, "orders_by_status{status=\"PAID\"}") == 1;
  })) << scrape;

  const TempDir tmp("ops");
  const auto file = tmp.path() / "scrape.txt";
  std::ofstream(file) << scrape;
  const auto lint =
      RunCapture({"/bin/sh", "-c", "exec promtool check metrics < \"$1\"", "sh", file.string()});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  std::vector<std::string> counters = {
      "outbox_events_delivered_total", "outbox_delivery_failures_total",
      "outbox_dead_letters_total",     "mail_sent_total",
      "mail_send_failures_total",      "members_login_failures_total"};
  // The SQLite writers' own counters exist where a SQLite file does (on PostgreSQL every store,
  // the simulated provider's ledger included, is a server database).
  if (!OnPostgres()) {
    for (const char* name : {"db_writer_batches_total", "db_writer_jobs_total",
                             "db_wal_checkpoints_total", "db_wal_inline_checkpoints_total",
                             "db_wal_truncations_total", "db_writer_failures_total"}) {
      counters.push_back(name);
    }
  }
  for (const std::string& name : counters) {
    EXPECT_NE(scrape.find("# TYPE " + name + " counter\n"), std::string::npos) << name;
  }
  EXPECT_EQ(Series(scrape, "checkout_stock_available_units"), 7);
  EXPECT_EQ(Series(scrape, "checkout_stock_held_units"), 2);
  EXPECT_EQ(Series(scrape, "checkout_stock_sold_units"), 1);
  EXPECT_EQ(Series(scrape, "checkout_holds_open"), 1);
  EXPECT_EQ(Series(scrape, "orders_by_status{status=\"SHIPPING\"}"), 0);
  EXPECT_GE(Series(scrape, "outbox_backlog_events{db=\"checkout\"}"), 0);
  EXPECT_EQ(Series(scrape, "orders_scheduler_lag_seconds"), 0);
  EXPECT_EQ(Series(scrape, "mail_send_failures_total"), 0);
  EXPECT_EQ(Series(scrape, "members_login_failures_total{reason=\"credentials\"}"), 1);
  EXPECT_TRUE(std::regex_search(
      scrape, std::regex(R"(\nrocketmart_build_info\{version="[^"]+",revision="[^"]+"\} 1\n)")))
      << "no build info";
}

// One JSON object per line: every line of the log parses, and a request's access line carries
// what an operator searches by.
TEST(Ops, JsonLogsCarryOneObjectPerLineWithTheRequestsFields) {
  const TempDir tmp("ops");
  const auto log = tmp.path() / "json.log";
  {
    ServerProcess server(
        {.env = {{"ROCKETMART_LOG_FORMAT", "json"}, {"ROCKETMART_LOG_ACCESS_LOG", "true"}},
         .log_file = log});
    HttpClient c(server.port());
    auto r =
        c.Request("GET", "/products?q=secretword", "",
                  {{"X-Request-Id", "find-me-1"},
                   {"Authorization", "Bearer " + server.FastToken(7)},
                   {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(server.Terminate(), 0);  // flushes the log
  }
  const std::string text = Slurp(log);
  bool found = false;
  for (const std::string& line : Lines(text)) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(value.is_object()) << line;
    const auto& o = value.as_object();
    EXPECT_TRUE(o.contains("time") && o.contains("level") && o.contains("msg")) << line;
    EXPECT_TRUE(std::regex_match(std::string(o.at("time").as_string()),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << line;
    if (!o.contains("requestId") || o.at("requestId").as_string() != "find-me-1") continue;
    found = true;
    EXPECT_EQ(o.at("msg").as_string(), "access");
    EXPECT_EQ(o.at("level").as_string(), "info");
    EXPECT_EQ(o.at("method").as_string(), "GET");
    EXPECT_EQ(o.at("route").as_string(), "/products");
    EXPECT_EQ(o.at("path").as_string(), "/products");  // never the query string
    EXPECT_EQ(o.at("status").as_int64(), 200);
    EXPECT_TRUE(o.at("durationMs").is_number()) << line;
    EXPECT_EQ(o.at("memberId").as_int64(), auth::SyntheticMemberId(7));
    EXPECT_EQ(o.at("client").as_string(), "127.0.0.1");
    EXPECT_EQ(o.at("traceId").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(o.at("spanId").as_string().size(), 16u);
  }
  EXPECT_TRUE(found) << "no access line for the request:\n" << text;
  EXPECT_EQ(text.find("secretword"), std::string::npos) << "the query string reached the log";
}

TEST(Ops, TheHumanLogFormatStaysAvailable) {
  const TempDir tmp("ops");
  const auto log = tmp.path() / "text.log";
  {
    ServerProcess server(
        {.env = {{"ROCKETMART_LOG_FORMAT", "text"}, {"ROCKETMART_LOG_ACCESS_LOG", "true"}},
         .log_file = log});
    HttpClient c(server.port());
    EXPECT_EQ(c.Request("GET", "/health", "", {{"X-Request-Id", "find-me-2"}}).status, 200);
    EXPECT_EQ(server.Terminate(), 0);
  }
  const std::string text = Slurp(log);
  EXPECT_NE(text.find("access rid=find-me-2 GET /health"), std::string::npos) << text;
  EXPECT_EQ(text.find("{\"time\""), std::string::npos) << text;
}

// W3C Trace Context: a valid traceparent continues the trace (same trace id, this server's span
// id, same flags) in the answer; an invalid one is ignored; none costs nothing.
TEST(Ops, TraceparentIsValidatedAndPassedOn) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto traced =
      c.Request("GET", "/health", "", {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  const std::string answer = traced.Header("traceparent");
  ASSERT_EQ(answer.size(), 55u) << answer;
  EXPECT_EQ(answer.substr(0, 36), "00-" + trace + "-");
  EXPECT_NE(answer.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_TRUE(std::regex_match(answer.substr(36, 16), std::regex("[0-9a-f]{16}"))) << answer;
  EXPECT_NE(answer.substr(36, 16), "0000000000000000");
  EXPECT_EQ(answer.substr(53), "01");
  // A later version may add fields after the flags: the known prefix is used.
  auto future = c.Request("GET", "/health", "",
                          {{"traceparent", "cc-" + trace + "-00f067aa0ba902b7-00-what-ever"}});
  EXPECT_EQ(future.Header("traceparent").substr(0, 36), "00-" + trace + "-");
  EXPECT_EQ(future.Header("traceparent").substr(53), "00");
  for (const std::string& bad : std::vector<std::string>{
           "00-" + trace + "-00f067aa0ba902b7-01-extra",  // version 00 has no more fields
           "ff-" + trace + "-00f067aa0ba902b7-01",        // version ff is invalid
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
           "00-" + trace + "-0000000000000000-01",                     // zero parent id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
           "00-" + trace + "-00f067aa0ba902b7-1",                      // short flags
           "00-" + trace.substr(1) + "-00f067aa0ba902b7-01",           // short trace id
           "garbage",
       }) {
    auto r = c.Request("GET", "/health", "", {{"traceparent", bad}});
    EXPECT_EQ(r.status, 200) << bad;
    EXPECT_EQ(r.Header("traceparent"), "") << bad;
  }
  EXPECT_EQ(c.Get("/health").Header("traceparent"), "");
}

}  // namespace
}  // namespace rocketmart::testing
