// The foundation end to end: the built binary on a free port, driven over HTTP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::testing {
namespace {

// Writes `text` to `name` in `dir`; returns the file's path.
std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string file = dir.File(name);
  std::ofstream(file) << text;
  return file;
}

class Foundation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    admin_ = server_->Token(1, true);
    user_ = server_->Token(2, false);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  HttpClient Client() { return HttpClient(server_->port()); }

  std::int64_t CreateProduct(HttpClient& c, const std::string& name, std::int64_t price = 1000,
                             std::int64_t stock = 10) {
    auto r = c.PostJson("/products",
                        R"({"name":")" + name + R"(","price":)" + std::to_string(price) +
                            R"(,"stock":)" + std::to_string(stock) + "}",
                        admin_);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json().at("id").as_int64();
  }

  static ServerProcess* server_;
  static std::string admin_;
  static std::string user_;
};

ServerProcess* Foundation::server_ = nullptr;
std::string Foundation::admin_;
std::string Foundation::user_;

TEST_F(Foundation, HealthMetricsAndOpenApi) {
  auto c = Client();
  auto health = c.Get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.Json().at("status").as_string(), "ok");
  EXPECT_FALSE(health.Header("X-Request-Id").empty());

  auto openapi = c.Get("/openapi.json");
  ASSERT_EQ(openapi.status, 200);
  auto doc = openapi.Json().as_object();
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  EXPECT_TRUE(doc.at("paths").as_object().contains("/products/{id}"));

  // /metrics is not public: it is served on the admin listener only.
  EXPECT_EQ(c.Get("/metrics").status, 404);
  EXPECT_NE(server_->admin_port(), server_->port());
  HttpClient admin(server_->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(admin.Get("/health").status, 404);  // and nothing else is
  EXPECT_NE(
      metrics.body.find("http_requests_total{route=\"/health\",method=\"GET\",status=\"2xx\"}"),
      std::string::npos);
  EXPECT_NE(metrics.body.find("http_request_duration_seconds_bucket"), std::string::npos);
}

TEST_F(Foundation, RequestIdIsEchoedWhenSafe) {
  auto c = Client();
  auto r = c.Request("GET", "/health", "", {{"X-Request-Id", "trace-abc_123"}});
  EXPECT_EQ(r.Header("X-Request-Id"), "trace-abc_123");
  auto bad = c.Request("GET", "/health", "", {{"X-Request-Id", "<script>"}});
  EXPECT_NE(bad.Header("X-Request-Id"), "<script>");
}

TEST_F(Foundation, AdminCreatesUpdatesListsAndRetiresProducts) {
  auto c = Client();
  auto r = c.PostJson(
      "/products",
      R"({"name":"Rocket","description":"Fast","price":129000,"imageUrl":"https://x.test/a.jpg","stock":100})",
      admin_);
  ASSERT_EQ(r.status, 201) << r.body;
  const auto product = r.Json().as_object();
  const std::int64_t id = product.at("id").as_int64();
  EXPECT_EQ(product.at("price").as_int64(), 129000);
  EXPECT_EQ(product.at("stock").as_int64(), 100);
  EXPECT_EQ(r.Header("Location"), "/products/" + std::to_string(id));

  auto got = c.Get("/products/" + std::to_string(id));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json().at("name").as_string(), "Rocket");
  auto detail = c.Get("/products/detail/" + std::to_string(id));
  EXPECT_EQ(detail.status, 200);
  EXPECT_EQ(detail.body, got.body);

  auto updated = c.PutJson("/products/" + std::to_string(id), R"({"price":99000})", admin_);
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Json().at("price").as_int64(), 99000);
  EXPECT_EQ(updated.Json().at("name").as_string(), "Rocket");

  // Listed (on a cluster, every catalog instance lists it once its event arrived).
  EXPECT_TRUE(ConvergesOnEveryInstance([&] {
    auto list = c.Get("/products?limit=100");
    EXPECT_EQ(list.status, 200);
    bool found = false;
    const auto list_body = list.Json();
    for (const auto& item : list_body.at("items").as_array()) {
      if (item.at("id").as_int64() == id) found = true;
    }
    return found;
  }));

  EXPECT_EQ(c.Delete("/products/" + std::to_string(id), admin_).status, 204);
  EXPECT_TRUE(ConvergesOnEveryInstance(
      [&] { return c.Get("/products/" + std::to_string(id)).ErrorCode() == "NOT_FOUND"; }));
  EXPECT_EQ(c.Delete("/products/" + std::to_string(id), admin_).ErrorCode(), "NOT_FOUND");
}

TEST_F(Foundation, PaginationWithStableCursorsAndSorting) {
  auto c = Client();
  const std::string tag = "pagetest";
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(CreateProduct(c, tag + std::to_string(i), 1000 + (i * 37) % 5 * 100));
  }
  std::vector<std::int64_t> seen;
  // Every page through the cursor (on a cluster, once every catalog instance lists them all).
  EXPECT_TRUE(ConvergesOnEveryInstance([&] {
    seen.clear();
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
      auto r = c.Get("/products?limit=3&sort=price&q=" + tag +
                     (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) return false;
      auto body = r.Json().as_object();
      std::int64_t last_price = -1;
      for (const auto& item : body.at("items").as_array()) {
        seen.push_back(item.at("id").as_int64());
        EXPECT_GE(item.at("price").as_int64(), last_price);
        last_price = item.at("price").as_int64();
      }
      if (body.at("nextCursor").is_null()) break;
      cursor = std::string(body.at("nextCursor").as_string());
    }
    std::sort(seen.begin(), seen.end());
    return seen == ids;
  }));
  EXPECT_EQ(seen, ids);
}

TEST_F(Foundation, AuthenticationAndRoles) {
  auto c = Client();
  const std::string body = R"({"name":"X","price":1,"stock":1})";
  EXPECT_EQ(c.PostJson("/products", body).ErrorCode(), "UNAUTHENTICATED");
  EXPECT_EQ(c.PostJson("/products", body).status, 401);
  EXPECT_EQ(c.PostJson("/products", body, user_).status, 403);
  EXPECT_EQ(c.PostJson("/products", body, user_).ErrorCode(), "FORBIDDEN");
  std::string forged = admin_;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(c.PostJson("/products", body, forged).status, 401);
  EXPECT_EQ(c.PostJson("/products", body, "not.a.token").status, 401);
  // alg:none with the admin's claims.
  const std::string payload =
      admin_.substr(admin_.find('.') + 1, admin_.rfind('.') - admin_.find('.') - 1);
  EXPECT_EQ(
      c.PostJson("/products", body, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".").status,
      401);
}

struct BadCase {
  std::string method, target, body, content_type;
  int status;
  std::string code;
};

TEST_F(Foundation, BadInputGetsClear4xxAndChangesNothing) {
  auto c = Client();
  const std::int64_t id = CreateProduct(c, "badinput", 5000, 5);
  const std::string pid = "/products/" + std::to_string(id);
  const std::string long_name(201, 'n');
  const std::vector<BadCase> cases = {
      {"POST", "/products", "", "application/json", 400, "MALFORMED_JSON"},
      {"POST", "/products", "{", "application/json", 400, "MALFORMED_JSON"},
      {"POST", "/products", "[]", "application/json", 400, "MALFORMED_JSON"},
      {"POST", "/products", R"({"name":"a","price":1,"stock":1} x)", "application/json", 400,
       "MALFORMED_JSON"},
      {"POST", "/products", R"({"name":"a","name":"b","price":1,"stock":1})", "application/json",
       400, "MALFORMED_JSON"},
      {"POST", "/products", "{\"name\":\"\xff\",\"price\":1,\"stock\":1}", "application/json", 400,
       "MALFORMED_JSON"},
      {"POST", "/products", R"({"price":1,"stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"","price":1,"stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":")" + long_name + R"(","price":1,"stock":1})",
       "application/json", 400, "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":-1,"stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":1.5,"stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":"1","stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":1e400,"stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":99999999999999999999,"stock":1})",
       "application/json", 400, "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":1,"stock":-5})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":1,"stock":2000000000})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":1,"stock":1,"id":7})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products",
       R"j({"name":"a","price":1,"stock":1,"imageUrl":"javascript:alert(1)"})j", "application/json",
       400, "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a\u0000","price":1,"stock":1})", "application/json", 400,
       "VALIDATION_FAILED"},
      {"POST", "/products", R"({"name":"a","price":1,"stock":1})", "text/plain", 415,
       "UNSUPPORTED_MEDIA_TYPE"},
      {"PUT", pid, R"({"stock":100})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pid, R"({})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pid, R"({"price":null})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", "/products/999999999", R"({"price":1})", "application/json", 404, "NOT_FOUND"},
      {"PUT", "/products/abc", R"({"price":1})", "application/json", 404, "NOT_FOUND"},
      {"GET", "/products/0", "", "", 404, "NOT_FOUND"},
      {"GET", "/products/-1", "", "", 404, "NOT_FOUND"},
      {"GET", "/products/99999999999999999999999", "", "", 404, "NOT_FOUND"},
      {"GET", "/products?limit=0", "", "", 400, "VALIDATION_FAILED"},
      {"GET", "/products?limit=101", "", "", 400, "VALIDATION_FAILED"},
      {"GET", "/products?limit=abc", "", "", 400, "VALIDATION_FAILED"},
      {"GET", "/products?sort=random", "", "", 400, "VALIDATION_FAILED"},
      {"GET", "/products?cursor=garbage", "", "", 400, "VALIDATION_FAILED"},
      {"GET", "/nope", "", "", 404, "NOT_FOUND"},
      {"PATCH", pid, "", "", 405, "METHOD_NOT_ALLOWED"},
      {"DELETE", "/products", "", "", 405, "METHOD_NOT_ALLOWED"},
  };
  // What every instance shows before (on a cluster, once the products above reached them all:
  // the same answers read eight times in a row, and the list holding the new product, since the
  // same answers may also come from instances that are all still behind).
  auto lists_the_product = [&](const HttpResponse& list) {
    if (list.status != 200) return false;
    const boost::json::value body = list.Json();  // alive for the loop, not a temporary
    for (const auto& item : body.at("items").as_array()) {
      if (item.at("id").as_int64() == id) return true;
    }
    return false;
  };
  std::string before = c.Get(pid).body;
  std::string list_before = c.Get("/products?limit=100").body;
  EXPECT_TRUE(ConvergesOnEveryInstance([&] {
    const HttpResponse listed = c.Get("/products?limit=100");
    std::string product = c.Get(pid).body, list = listed.body;
    const bool same = product == before && list == list_before && lists_the_product(listed);
    before = std::move(product);
    list_before = std::move(list);
    return same;
  }));
  for (const auto& bc : cases) {
    std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + admin_}};
    if (!bc.content_type.empty()) headers["Content-Type"] = bc.content_type;
    auto r = c.Request(bc.method, bc.target, bc.body, headers);
    EXPECT_EQ(r.status, bc.status)
        << bc.method << " " << bc.target << " " << bc.body << " -> " << r.body;
    EXPECT_EQ(r.ErrorCode(), bc.code) << bc.method << " " << bc.target << " " << bc.body;
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
  }
  EXPECT_EQ(c.Get(pid).body, before);
  EXPECT_EQ(c.Get("/products?limit=100").body, list_before);
}

TEST_F(Foundation, OversizedBodiesAndHeadersAreRefused) {
  const std::string big(70 * 1024, 'x');
  const std::string declared =
      "POST /products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(10 * 1024 * 1024) + "\r\n\r\n";
  auto answer = SendRaw(server_->port(), declared);
  EXPECT_NE(answer.find("413"), std::string::npos) << answer;
  EXPECT_NE(answer.find("PAYLOAD_TOO_LARGE"), std::string::npos);

  const std::string chunked =
      "POST /products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: "
      "chunked\r\n\r\n" +
      [&] {
        std::string s;
        for (int i = 0; i < 80; ++i) s += "400\r\n" + std::string(1024, 'a') + "\r\n";
        return s + "0\r\n\r\n";
      }();
  answer = SendRaw(server_->port(), chunked);
  EXPECT_NE(answer.find("413"), std::string::npos) << answer.substr(0, 200);

  const std::string huge_header =
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'h') + "\r\n\r\n";
  answer = SendRaw(server_->port(), huge_header);
  EXPECT_NE(answer.find("431"), std::string::npos) << answer.substr(0, 200);

  answer = SendRaw(server_->port(), "GARBAGE\r\n\r\n");
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;

  answer = SendRaw(
      server_->port(),
      "POST /products HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;

  // Pipelined requests are answered in order on one connection.
  answer = SendRaw(server_->port(),
                   "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: "
                   "x\r\nConnection: close\r\n\r\n");
  const auto first = answer.find("HTTP/1.1 200");
  const auto second = answer.find("HTTP/1.1 404");
  EXPECT_NE(first, std::string::npos);
  EXPECT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  (void)big;
}

struct FramingCase {
  std::string name;
  std::string request;  // Everything after the request line's CRLF is up to the case.
};

// RFC 9112 framing: a body whose length the server cannot know for certain is never read as the
// next request (request smuggling). Each case is answered 400 and the connection closed, so the
// "smuggled" GET /nope after it is never answered.
TEST_F(Foundation, AmbiguousFramingIsRefusedAndTheConnectionClosed) {
  const std::string smuggled = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string chunked_body = "5\r\nhello\r\n0\r\n\r\n";
  const auto post = [&](const std::string& headers, const std::string& body) {
    return "POST /products HTTP/1.1\r\n" + headers + "Content-Type: application/json\r\n\r\n" +
           body + smuggled;
  };
  const std::vector<FramingCase> cases = {
      {"TE identity", post("Host: x\r\nTransfer-Encoding: identity\r\n", "")},
      {"TE gzip", post("Host: x\r\nTransfer-Encoding: gzip\r\n", "")},
      {"TE xchunked", post("Host: x\r\nTransfer-Encoding: xchunked\r\n", "")},
      {"TE chunked, gzip", post("Host: x\r\nTransfer-Encoding: chunked, gzip\r\n", chunked_body)},
      {"TE gzip, chunked", post("Host: x\r\nTransfer-Encoding: gzip, chunked\r\n", chunked_body)},
      {"TE empty", post("Host: x\r\nTransfer-Encoding: \r\n", "")},
      {"two TE headers",
       post("Host: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", chunked_body)},
      {"two TE chunked",
       post("Host: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            chunked_body)},
      {"TE then Content-Length",
       post("Host: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", chunked_body)},
      {"Content-Length then TE",
       post("Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked_body)},
      {"Content-Length with TE identity",
       post("Host: x\r\nContent-Length: 2\r\nTransfer-Encoding: identity\r\n", "{}")},
      {"TE in HTTP/1.0",
       "POST /products HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body +
           smuggled},
      {"no Host", "GET /health HTTP/1.1\r\n\r\n" + smuggled},
      {"two Host headers", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled},
      {"two Host headers in HTTP/1.0", "GET /health HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"},
  };
  for (const auto& fc : cases) {
    const std::string answer = SendRaw(server_->port(), fc.request, 3000);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << fc.name << ": " << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << fc.name << ": " << answer;
    // The smuggled GET's own answer; a bare "404" may be in the random X-Request-Id.
    EXPECT_EQ(answer.find("HTTP/1.1 404"), std::string::npos)
        << fc.name << ": the body was read as a request";
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << fc.name << ": a second answer";
  }
  // What stays valid: chunked alone (any case), one Host, and HTTP/1.0 without Host.
  const std::string ok_chunked =
      SendRaw(server_->port(),
              "POST /products HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n"
              "Content-Type: application/json\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
              3000);
  EXPECT_EQ(ok_chunked.rfind("HTTP/1.1 401", 0), 0u) << ok_chunked;  // framed fine, no token
  const std::string http10 = SendRaw(server_->port(), "GET /health HTTP/1.0\r\n\r\n", 3000);
  EXPECT_EQ(http10.rfind("HTTP/1.1 200", 0), 0u) << http10;
}

TEST(Lifecycle, SigtermDrainsAndExitsCleanlyAndDataSurvivesRestart) {
  ServerProcess server;
  const std::string admin = server.Token(1, true);
  std::int64_t id = 0;
  {
    HttpClient c(server.port());
    auto r = c.PostJson("/products", R"({"name":"Durable","price":10,"stock":3})", admin);
    ASSERT_EQ(r.status, 201);
    id = r.Json().at("id").as_int64();
  }
  EXPECT_EQ(server.Terminate(), 0);
  server.Restart();
  HttpClient c(server.port());
  auto r = c.Get("/products/" + std::to_string(id));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("name").as_string(), "Durable");
}

TEST(Lifecycle, DemoCatalogIsSeededIntoAnEmptyDataDirectoryOnce) {
  if (OnCluster()) GTEST_SKIP() << kNoDemoSeedOnCluster;
  ServerOptions options;
  options.seed_demo = true;
  ServerProcess server(options);
  HttpClient c(server.port());
  auto first = c.Get("/products").Json().at("items").as_array().size();
  EXPECT_GE(first, 3u);
  server.Terminate();
  server.Restart();
  HttpClient c2(server.port());
  EXPECT_EQ(c2.Get("/products").Json().at("items").as_array().size(), first);
}

}  // namespace
}  // namespace rocketmart::testing

namespace rocketmart::testing {
namespace {

TEST(Limits, SlowHeadersAreCutAtTheHeaderTimeout) {
  ServerOptions options;
  options.env = {{"ROCKETMART_SERVER_HEADER_TIMEOUT_MS", "300"}};
  ServerProcess server(options);
  const auto started = std::chrono::steady_clock::now();
  // Half a request head, then silence: the server must hang up on its own.
  const std::string answer = SendRaw(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\n", 10000);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer.find("200"), std::string::npos);
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the connection was not closed by the server";
  HttpClient c(server.port());
  EXPECT_EQ(c.Get("/health").status, 200) << "the server still serves others";
}

TEST(Limits, SlowBodiesAreCutAtTheHeaderTimeoutWithoutAnAnswer) {
  ServerOptions options;
  options.env = {{"ROCKETMART_SERVER_HEADER_TIMEOUT_MS", "300"}};
  ServerProcess server(options);
  const auto started = std::chrono::steady_clock::now();
  // A complete head promising 100 bytes of body, then 13 of them and silence. A timed-out client
  // gets no answer (it is not a malformed request), just the closed connection.
  const std::string answer = SendRaw(server.port(),
                                     "POST /payment/request HTTP/1.1\r\nHost: x\r\n"
                                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                     "{\"productId\":",
                                     10000);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer, "");
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the connection was not closed by the server";
}

TEST(Limits, IdleKeepAliveConnectionsAreClosedAtTheIdleTimeout) {
  ServerOptions options;
  options.env = {{"ROCKETMART_SERVER_IDLE_TIMEOUT_MS", "300"}};
  ServerProcess server(options);
  const auto started = std::chrono::steady_clock::now();
  // One answered request, then the connection idles; SendRaw returns when the server hangs up
  // (or, if it never does, after 10 s of silence).
  const std::string answer =
      SendRaw(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 10000);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\nX-Request-Id: "), std::string::npos) << answer;
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the idle connection was not closed by the server";
}

TEST(Limits, ConnectionsBeyondTheMaximumAreRefused) {
  ServerOptions options;
  options.env = {{"ROCKETMART_SERVER_MAX_CONNECTIONS", "2"}, {"ROCKETMART_SERVER_THREADS", "1"}};
  ServerProcess server(options);
  const std::uint16_t port = server.public_port();  // one listener's limit
  HttpClient first(port), second(port);
  ASSERT_EQ(first.Get("/health").status, 200);
  ASSERT_EQ(second.Get("/health").status, 200);
  // A third connection is accepted and closed at once, without an answer.
  EXPECT_EQ(SendRaw(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 3000), "");
  EXPECT_EQ(first.Get("/health").status, 200);
}

TEST(Config, BadConfigurationStopsTheStartWithAMessage) {
  const TempDir dir("config");
  const auto file = WriteFile(dir, "bad.toml", "[server]\nport = 70000\n");
  EXPECT_THROW(RunCommand({BinaryPath(), "check-config", "--config", file}), std::runtime_error);
  const auto unknown = WriteFile(dir, "unknown.toml", "[server]\nprot = 80\n");
  EXPECT_THROW(RunCommand({BinaryPath(), "check-config", "--config", unknown}), std::runtime_error);
  const auto good =
      WriteFile(dir, "good.toml", "[server]\nport = 9090\n[checkout]\nhold_ttl_s = 120\n");
  const std::string out = RunCommand({BinaryPath(), "check-config", "--config", good});
  EXPECT_NE(out.find("server.port = 9090"), std::string::npos) << out;
  EXPECT_NE(out.find("configuration OK"), std::string::npos);
  EXPECT_THROW(RunCommand({BinaryPath(), "check-config"}, {{"ROCKETMART_SERVER_PORT", "-1"}}),
               std::runtime_error);
}

}  // namespace
}  // namespace rocketmart::testing
