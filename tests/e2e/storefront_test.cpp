// The storefront's server side through the real binary: the live stock stream (Server-Sent Events
// over chunked HTTP/1.1, fed by purchases, bounded, resumable, ended by a leaving client or a
// shutdown), the server time, and the built files (caching, compression, content types, CSP) from
// a storefront folder this test writes itself.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <regex>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

using namespace std::chrono_literals;

// One open event stream on a raw socket: what the server sent so far, read as it arrives.
class SseClient {
 public:
  SseClient(std::uint16_t port, const std::string& target, const std::string& extra_headers = "") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                "Accept: text/event-stream\r\n" + extra_headers + "\r\n";
    if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
      throw std::runtime_error("send failed");
    }
  }
  ~SseClient() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  // Reads until `needle` has arrived (true) or `limit` passed / the server closed (false).
  bool WaitFor(const std::string& needle, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (received_.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || !ReadSome(left)) return false;
    }
    return true;
  }
  // True when the server closes the connection within `limit`.
  bool WaitClosed(std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!ReadSome(100ms) && closed_) return true;
    }
    return false;
  }
  const std::string& received() const { return received_; }

 private:
  bool ReadSome(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char buf[8192];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    received_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool closed_ = false;
  std::string received_;
};

std::string Buy(HttpClient& c, const std::string& token, int product) {
  return c
      .PostJson("/payment/request",
                R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", token)
      .body;
}

std::uint64_t LastEventId(const std::string& text) {
  const auto pos = text.rfind("id: ");
  return std::stoull(text.substr(pos + 4));
}

TEST(StockStream, SendsTheStockThenEachPurchaseWithinASecond) {
  ServerProcess server({.seed_demo = true});
  HttpClient c(server.port());
  const int stock = static_cast<int>(c.Get("/products/2").Json().at("stock").as_int64());
  SseClient stream(server.port(), "/products/2/stock/stream");
  ASSERT_TRUE(stream.WaitFor("\"stock\":" + std::to_string(stock) + ",\"state\":\"live\","))
      << stream.received();
  const std::string& head = stream.received();
  EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(head.find("Cache-Control: no-store"), std::string::npos);
  EXPECT_NE(head.find("retry: 2000"), std::string::npos);
  for (int i = 1; i <= 3; ++i) {
    const auto bought_at = std::chrono::steady_clock::now();
    ASSERT_NE(Buy(c, server.FastToken(100 + i), 2).find("PAID"), std::string::npos);
    ASSERT_TRUE(stream.WaitFor("\"stock\":" + std::to_string(stock - i) + ",", 1s))
        << stream.received();
    EXPECT_LT(std::chrono::steady_clock::now() - bought_at, 1s);
  }
}

// An operator moves the window: every open page learns the new countdown; when the window opens
// by the clock alone, the state turns live without any purchase.
TEST(StockStream, CarriesTheSaleWindowAndTurnsLiveWhenItOpens) {
  ServerProcess server({.seed_demo = true});
  HttpClient c(server.port());
  SseClient stream(server.port(), "/products/3/stock/stream");
  ASSERT_TRUE(stream.WaitFor("\"state\":\"live\",\"startsAt\":\"")) << stream.received();
  const auto now_ms = c.Get("/time").Json().at("epochMs").as_int64();
  const auto starts_s = now_ms / 1000 + 2;  // whole seconds, 1 to 2 s from now
  auto iso = [](std::int64_t unix_s) {
    char buf[32];
    const std::time_t t = unix_s;
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return std::string(buf);
  };
  const std::string starts = iso(starts_s);
  ASSERT_EQ(c.PutJson("/payment/3/sale",
                      R"({"startsAt":")" + starts + R"(","endsAt":")" + iso(starts_s + 3600) +
                          R"(","perMemberLimit":1})",
                      server.FastToken(1, true))
                .status,
            200);
  ASSERT_TRUE(stream.WaitFor("\"state\":\"upcoming\",\"startsAt\":\"" + starts + "\"", 1s))
      << stream.received();
  ASSERT_TRUE(stream.WaitFor("\"state\":\"live\",\"startsAt\":\"" + starts + "\"", 4s))
      << stream.received();
}

TEST(StockStream, BadRequestsAreRefusedBeforeAnyStreamOpens) {
  ServerProcess server({.seed_demo = true});
  HttpClient c(server.port());
  EXPECT_EQ(c.Get("/products/999/stock/stream").ErrorCode(), "NOT_FOUND");
  EXPECT_EQ(c.Get("/products/abc/stock/stream").status, 404);
  EXPECT_EQ(c.Get("/stock/stream").ErrorCode(), "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/stock/stream?products=1,1").ErrorCode(), "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/stock/stream?products=1&colour=red").ErrorCode(), "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/stock/stream?products=1,999").ErrorCode(), "NOT_FOUND");
  EXPECT_EQ(c.Request("GET", "/products/1/stock/stream", "", {{"Last-Event-ID", "x1"}}).ErrorCode(),
            "VALIDATION_FAILED");
  // HEAD answers the head and ends; it does not hold a stream open.
  const std::string head =
      SendRaw(server.port(), "HEAD /products/1/stock/stream HTTP/1.1\r\nHost: x\r\n\r\n", 3000);
  EXPECT_NE(head.find("200 OK"), std::string::npos) << head;
  EXPECT_EQ(head.find("event: stock"), std::string::npos) << head;
}

TEST(StockStream, ResumesFromLastEventIdWithOnlyWhatChanged) {
  ServerProcess server({.seed_demo = true});
  HttpClient c(server.port());
  // The demo's stock reaches checkout through the catalog's events (later on a server database,
  // whose relay polls): buy once the sale is live, not when the stream first names the product.
  ASSERT_TRUE(WaitUntil([&] {
    auto sale = c.Get("/payment/2/sale");
    return sale.status == 200 && sale.Json().at("state").as_string() == "live";
  }));
  SseClient first(server.port(), "/stock/stream?products=1,2");
  ASSERT_TRUE(first.WaitFor("\"productId\":2"));
  const std::uint64_t last = LastEventId(first.received());
  const std::string bought = Buy(c, server.FastToken(7), 2);
  ASSERT_NE(bought.find("PAID"), std::string::npos) << bought;
  ASSERT_TRUE(first.WaitFor("id: ", 1s));
  SseClient resumed(server.port(), "/stock/stream?products=1,2",
                    "Last-Event-ID: " + std::to_string(last) + "\r\n");
  ASSERT_TRUE(resumed.WaitFor("\"productId\":2")) << resumed.received();
  EXPECT_EQ(resumed.received().find("\"productId\":1"), std::string::npos)
      << "product 1 did not change: " << resumed.received();
}

TEST(StockStream, IsBoundedAndALeavingClientFreesItsPlace) {
  ServerProcess server({.env = {{"ROCKETMART_STOREFRONT_MAX_STREAMS", "2"}}, .seed_demo = true});
  HttpClient c(server.port());
  auto a = std::make_unique<SseClient>(server.port(), "/products/1/stock/stream");
  SseClient b(server.port(), "/products/1/stock/stream");
  ASSERT_TRUE(a->WaitFor("event: stock"));
  ASSERT_TRUE(b.WaitFor("event: stock"));
  const HttpResponse refused = c.Get("/products/1/stock/stream");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.ErrorCode(), "OVERLOADED");
  EXPECT_EQ(refused.Header("retry-after"), "5");
  a.reset();  // the browser leaves: the server notices at once, not at the next heartbeat
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; ++i) {
    SseClient again(server.port(), "/products/1/stock/stream");
    reopened = again.WaitFor("event: stock", 200ms);
  }
  EXPECT_TRUE(reopened);
  // The refusal above (and any reopening attempt that came before the server saw `a` leave).
  HttpClient admin(server.admin_port());
  EXPECT_TRUE(std::regex_search(admin.Get("/metrics").body,
                                std::regex("\nstorefront_streams_rejected_total [1-9]")));
}

TEST(StockStream, ShutdownEndsOpenStreamsWithoutWaitingForTheGracePeriod) {
  ServerProcess server({.seed_demo = true});
  SseClient stream(server.port(), "/products/1/stock/stream");
  ASSERT_TRUE(stream.WaitFor("event: stock"));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Terminate(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);  // the grace period is 10 s
  EXPECT_TRUE(stream.WaitClosed(1s));
}

TEST(ServerTime, IsTheServersClockInMilliseconds) {
  ServerProcess server;
  HttpClient c(server.port());
  const auto res = c.Get("/time");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.Header("cache-control"), "no-store");
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(res.Json().at("epochMs").as_int64()), static_cast<double>(now_ms),
              5000);
  EXPECT_TRUE(std::regex_match(std::string(res.Json().at("now").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));
}

// A storefront folder as the build leaves it, written by the test.
class BuiltFiles {
 public:
  BuiltFiles() {
    std::filesystem::create_directories(dir_.path() / "assets");
    Write("index.html", "<!doctype html><title>rocketmart</title><div id=app></div>");
    Write("assets/main-ABCD1234.js", "console.log('drop');");
    Write("assets/main-ABCD1234.js.gz", "GZIP-BYTES");
    Write("assets/main-ABCD1234.js.br", "BROTLI-BYTES");
    Write("assets/main-ABCD1234.css", "body{}");
    Write(".secret", "no");
  }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_.path() / name, std::ios::binary) << content;
  }
  TempDir dir_{"web"};
};

TEST(StaticFiles, PagesRevalidateAssetsAreImmutableAndCompressed) {
  BuiltFiles files;
  ServerProcess server({.env = {{"ROCKETMART_STOREFRONT_ASSETS_DIR", files.dir().string()}}});
  HttpClient c(server.port());
  for (const char* page : {"/", "/drop/1", "/shop", "/shop/3", "/account/login", "/operator",
                           "/operator/orders", "/operator/sales/4"}) {
    const auto res = c.Get(page);
    EXPECT_EQ(res.status, 200) << page;
    EXPECT_EQ(res.Header("content-type"), "text/html; charset=utf-8") << page;
    EXPECT_EQ(res.Header("cache-control"), "no-cache") << page;
    EXPECT_NE(res.Header("content-security-policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(res.Header("x-content-type-options"), "nosniff");
    EXPECT_NE(res.body.find("<div id=app>"), std::string::npos);
  }
  // The API keeps its paths: the page routes claim none of them.
  EXPECT_EQ(c.Get("/cart").status, 401);
  EXPECT_EQ(c.Get("/admin/orders").status, 401);

  const auto etag = c.Get("/").Header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(c.Request("GET", "/", "", {{"If-None-Match", etag}}).status, 304);

  auto plain = c.Request("GET", "/assets/main-ABCD1234.js", "", {});
  EXPECT_EQ(plain.body, "console.log('drop');");
  EXPECT_EQ(plain.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(plain.Header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(plain.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(plain.Header("content-encoding"), "");
  auto gz = c.Request("GET", "/assets/main-ABCD1234.js", "", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gz.body, "GZIP-BYTES");
  EXPECT_EQ(gz.Header("content-encoding"), "gzip");
  auto br =
      c.Request("GET", "/assets/main-ABCD1234.js", "", {{"Accept-Encoding", "gzip, deflate, br"}});
  EXPECT_EQ(br.body, "BROTLI-BYTES");
  EXPECT_EQ(br.Header("content-encoding"), "br");
  EXPECT_EQ(c.Get("/assets/main-ABCD1234.css").Header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(c.Get("/assets/main-ABCD1234.js.gz").status, 404);
  EXPECT_EQ(c.Get("/assets/nope.js").status, 404);
  EXPECT_EQ(c.Get("/assets/..%2f.secret").status, 404);
  EXPECT_EQ(c.Get("/.secret").status, 404);
}

TEST(StaticFiles, WithoutABuiltStorefrontPagesAnswer503AndTheApiServes) {
  ServerProcess server({.env = {{"ROCKETMART_STOREFRONT_ASSETS_DIR", "/nonexistent/web"}}});
  HttpClient c(server.port());
  EXPECT_EQ(c.Get("/").status, 503);
  EXPECT_EQ(c.Get("/").ErrorCode(), "UNAVAILABLE");
  EXPECT_EQ(c.Get("/assets/main.js").status, 503);
  EXPECT_EQ(c.Get("/health").status, 200);
}

}  // namespace
}  // namespace rocketmart::testing
