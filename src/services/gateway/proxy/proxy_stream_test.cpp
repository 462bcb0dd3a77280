// The gateway's forwarding of long answers (ADR 0046) against real sockets: the real http::Server
// with ForwardTo routes and the real peer client (the thing under test) in front of a small
// blocking HTTP/1.1 peer on 127.0.0.1:0 that plays the service: it answers a body of several MiB,
// sends a first part and waits for the test before the rest, dies mid-body, or sends a first part
// and then waits for the gateway to close the connection. It records which connection served each
// request, so a test sees whether the pool reused one. The client side is a raw socket whose reads
// are bounded (SO_RCVTIMEO), so a gateway that holds the body back fails the test, never hangs it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "infra/http/client/client.hpp"
#include "infra/http/router.hpp"
#include "infra/http/server.hpp"
#include "services/gateway/proxy/proxy.hpp"
#include "support/latch.hpp"
#include "support/loopback_server.hpp"
#include "support/wait.hpp"

namespace rocketmart::gateway {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

constexpr std::size_t kBig = 5 * 1024 * 1024;   // over the client's old 1 MiB limit
constexpr std::size_t kPart = 100 * 1024;       // a first part, over the 64 KiB threshold
constexpr std::size_t kDeclared = 1024 * 1024;  // what /dies and /hang announce
constexpr int kReadTimeoutSeconds = 10;         // bounds a read that would otherwise hang

// Bytes no two positions of a long body share by accident.
std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 7 + i / 251) % 26);
  return s;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string Head(std::size_t content_length) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
         std::to_string(content_length) + "\r\nX-Service: peer\r\n\r\n";
}

// The service: one thread per connection, blocking sockets, keep-alive.
class Peer {
 public:
  Peer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~Peer() {
    gate.Open();
    ::shutdown(listen_fd_, SHUT_RDWR);  // ends accept()
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);  // ends a blocked read
    }
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
  }

  std::uint16_t port() const { return port_; }
  // The connection (numbered from 1 in accept order) that served the n-th request (from 0).
  int ConnectionOf(std::size_t n) {
    std::lock_guard lock(mutex_);
    return n < served_.size() ? served_[n] : 0;
  }
  std::size_t requests() {
    std::lock_guard lock(mutex_);
    return served_.size();
  }

  const std::string big = Pattern(kBig);
  const std::string medium = Pattern(2 * kPart);
  testing::Gate gate;                  // /gated sends its second part once the test opens it
  testing::Counter closed_by_gateway;  // /hang saw the gateway close the connection

 private:
  void Accept() {
    for (int id = 1;; ++id) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard lock(mutex_);
      open_.push_back(fd);
      connections_.emplace_back([this, fd, id] { Serve(fd, id); });
    }
  }

  void Serve(int fd, int id) {
    std::string in;
    char buf[4096];
    for (;;) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return Close(fd);
        in.append(buf, static_cast<std::size_t>(n));
      }
      const std::string line = in.substr(0, in.find("\r\n"));
      in.erase(0, end + 4);  // GETs: no body
      const std::size_t sp = line.find(' ');
      const std::string path = line.substr(sp + 1, line.find(' ', sp + 1) - sp - 1);
      {
        std::lock_guard lock(mutex_);
        served_.push_back(id);
      }
      if (path == "/big") {
        if (!SendAll(fd, Head(kBig)) || !SendAll(fd, big)) return Close(fd);
      } else if (path == "/medium") {
        if (!SendAll(fd, Head(2 * kPart)) || !SendAll(fd, medium)) return Close(fd);
      } else if (path == "/small") {
        const std::string body = R"({"ok":true})";
        if (!SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body)) {
          return Close(fd);
        }
      } else if (path == "/gated") {
        if (!SendAll(fd, Head(2 * kPart)) || !SendAll(fd, std::string(kPart, 'x'))) {
          return Close(fd);
        }
        gate.Wait(30s);
        if (!SendAll(fd, std::string(kPart, 'y'))) return Close(fd);
      } else if (path == "/dies") {
        SendAll(fd, Head(kDeclared));
        SendAll(fd, std::string(kPart, 'x'));
        return Close(fd);  // the service dies mid-body
      } else if (path == "/hang") {
        SendAll(fd, Head(kDeclared));
        SendAll(fd, std::string(kPart, 'x'));
        while (::recv(fd, buf, sizeof buf, 0) > 0) {
        }
        closed_by_gateway.Add();
        return Close(fd);
      } else {
        return Close(fd);
      }
    }
  }

  void Close(int fd) {
    std::lock_guard lock(mutex_);
    std::erase(open_, fd);
    ::close(fd);
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> connections_;
  std::vector<int> served_;
};

// A client of the gateway: one connection, reads bounded by kReadTimeoutSeconds.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{kReadTimeoutSeconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Get(const std::string& path, bool keep_alive = false) {
    return connected_ && SendAll(fd_, "GET " + path + " HTTP/1.1\r\nHost: gateway\r\n" +
                                          (keep_alive ? "" : "Connection: close\r\n") + "\r\n");
  }
  // Reads until what came contains `needle` after the head; false at the end or the time bound.
  bool ReadUntilBody(char needle) {
    for (;;) {
      const std::size_t head_end = received.find("\r\n\r\n");
      if (head_end != std::string::npos && received.find(needle, head_end) != std::string::npos) {
        return true;
      }
      if (!ReadSome()) return false;
    }
  }
  // Reads to the end of the connection; false if the time bound passed first.
  bool ReadToEnd() {
    while (ReadSome()) {
    }
    return !timed_out;
  }

  // Reads until `received` holds a whole answer; false if the connection or the time ended first.
  bool ReadAnswer();

  std::string received;
  bool timed_out = false;

 private:
  bool ReadSome() {
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) timed_out = true;
    if (n <= 0) return false;
    received.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
};

// `raw` as an HTTP answer: complete (ec empty) or not (partial_message: it broke off).
struct Parsed {
  boost::system::error_code ec;
  bhttp::response<bhttp::string_body> response;
  std::size_t used = 0;  // the bytes of `raw` the answer took
};
Parsed Parse(const std::string& raw) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(boost::none);
  Parsed out;
  const std::size_t used = parser.put(boost::asio::buffer(raw), out.ec);
  out.used = used;
  if (!out.ec && used == raw.size() && !parser.is_done()) parser.put_eof(out.ec);
  if (out.ec == bhttp::error::need_more || (!out.ec && !parser.is_done())) {
    out.ec = bhttp::error::partial_message;
  }
  out.response = parser.release();
  return out;
}

bool RawClient::ReadAnswer() {
  while (Parse(received).ec) {
    if (!ReadSome()) return false;
  }
  return true;
}

class ProxyStreamTest : public ::testing::Test {
 protected:
  ProxyStreamTest() {
    EXPECT_TRUE(keys_.Add({"k1", std::string(32, 'k'), std::nullopt}, true).ok());
    client_.endpoints().Update({{"svc-1", "127.0.0.1", peer_.port()}});
    for (const char* path : {"/big", "/medium", "/small", "/gated", "/dies", "/hang"}) {
      router_.Add(http::Method::get, path, {}, ForwardTo(target_, keys_, clock_, false));
    }
    server_ = std::make_unique<http::Server>(testing::LoopbackServerOptions("gateway"), router_,
                                             auth_, registry_);
    server_->Bind();
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~ProxyStreamTest() override {
    server_->Shutdown();
    thread_.join();
    // The client's idle connections belong to the server's loops: closed before they go.
    client_.DropIdleConnections();
    server_.reset();  // its streams end before the client goes
  }

  static http::client::ClientOptions Options() {
    http::client::ClientOptions options;
    options.peer = "svc";
    options.breaker.consecutive_failures = 2;
    return options;
  }

  Peer peer_;
  FakeClock clock_;
  metrics::Registry registry_;
  auth::Keyring keys_;
  http::client::Client client_{Options(), clock_, registry_};
  ProxyTarget target_{
      .service = "svc", .client = client_, .instances = [this] {
        return std::vector<http::client::Endpoint>{{"svc-1", "127.0.0.1", peer_.port()}};
      }};
  http::Router router_;
  http::NoMemberIdentities auth_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

TEST_F(ProxyStreamTest, AnswerOfSeveralMiBReachesTheClientIntactAndItsConnectionIsReused) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.Get("/big"));
  ASSERT_TRUE(c.ReadToEnd());
  const Parsed big = Parse(c.received);
  ASSERT_FALSE(big.ec) << big.ec.message();
  EXPECT_EQ(big.response.result_int(), 200u);
  EXPECT_EQ(big.response["X-Service"], "peer");
  EXPECT_EQ(big.response.body().size(), kBig);
  EXPECT_TRUE(big.response.body() == peer_.big) << "the body differs from the service's";

  // Streamed to its end, the service's connection went back to the pool: the next call uses it.
  RawClient next(server_->port());
  ASSERT_TRUE(next.Get("/small"));
  ASSERT_TRUE(next.ReadToEnd());
  const Parsed small = Parse(next.received);
  ASSERT_FALSE(small.ec) << small.ec.message();
  EXPECT_EQ(small.response.body(), R"({"ok":true})");
  ASSERT_EQ(peer_.requests(), 2u);
  EXPECT_EQ(peer_.ConnectionOf(1), peer_.ConnectionOf(0));
  EXPECT_EQ(client_.open_connections(), 1u);
}

TEST_F(ProxyStreamTest, FirstBytesReachTheClientBeforeTheServiceHasFinished) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.Get("/gated"));
  // The service holds its second part back until the client has seen the first.
  ASSERT_TRUE(c.ReadUntilBody('x')) << "nothing of the body came while the service was not done"
                                    << (c.timed_out ? " (read timed out)" : "");
  EXPECT_EQ(c.received.find('y', c.received.find("\r\n\r\n")), std::string::npos);
  peer_.gate.Open();
  ASSERT_TRUE(c.ReadToEnd());
  const Parsed answer = Parse(c.received);
  ASSERT_FALSE(answer.ec) << answer.ec.message();
  EXPECT_EQ(answer.response.body(), std::string(kPart, 'x') + std::string(kPart, 'y'));
}

TEST_F(ProxyStreamTest, ServiceDyingMidBodyCutsTheClientAndCountsAgainstTheEndpoint) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.Get("/dies"));
  ASSERT_TRUE(c.ReadToEnd());
  const Parsed cut = Parse(c.received);
  EXPECT_EQ(cut.ec, bhttp::error::partial_message)
      << "the client took a cut answer for a whole one: " << cut.ec.message() << ", status "
      << cut.response.result_int();
  EXPECT_EQ(cut.response.result_int(), 200u);  // the head had gone on already
  EXPECT_LT(cut.response.body().size(), kDeclared);

  // The next request works, on a connection of its own (the cut one is gone from the pool).
  RawClient next(server_->port());
  ASSERT_TRUE(next.Get("/small"));
  ASSERT_TRUE(next.ReadToEnd());
  const Parsed small = Parse(next.received);
  ASSERT_FALSE(small.ec) << small.ec.message();
  EXPECT_EQ(small.response.result_int(), 200u);
  ASSERT_EQ(peer_.requests(), 2u);
  EXPECT_NE(peer_.ConnectionOf(1), peer_.ConnectionOf(0));
  EXPECT_EQ(client_.open_connections(), 1u);
  EXPECT_EQ(client_.RetryAfter(), Millis{0});

  // A cut body is the endpoint's failure: two in a row (the breaker's limit here) eject it.
  for (int i = 0; i < 2; ++i) {
    RawClient again(server_->port());
    ASSERT_TRUE(again.Get("/dies"));
    ASSERT_TRUE(again.ReadToEnd());
    EXPECT_EQ(Parse(again.received).ec, bhttp::error::partial_message);
  }
  EXPECT_GT(client_.RetryAfter(), Millis{0}) << "cut bodies were not counted against the endpoint";
}

TEST_F(ProxyStreamTest, ClientGoingAwayMidBodyClosesTheServiceConnection) {
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Get("/hang"));
    ASSERT_TRUE(c.ReadUntilBody('x')) << (c.timed_out ? "read timed out" : "connection ended");
  }  // the client goes away mid-body
  ASSERT_TRUE(peer_.closed_by_gateway.WaitFor(1, std::chrono::seconds(20)))
      << "the gateway kept the service's connection of an abandoned answer";
  EXPECT_TRUE(testing::WaitUntil([&] { return client_.open_connections() == 0; }))
      << client_.open_connections() << " connection(s) still open";
  // Abandoning is the client's doing, not the endpoint's failure; the next request works.
  RawClient next(server_->port());
  ASSERT_TRUE(next.Get("/small"));
  ASSERT_TRUE(next.ReadToEnd());
  EXPECT_FALSE(Parse(next.received).ec);
  EXPECT_NE(peer_.ConnectionOf(1), peer_.ConnectionOf(0));
}

TEST_F(ProxyStreamTest, AStreamedAnswerThatEndedWellKeepsTheClientsConnection) {
  RawClient c(server_->port());
  ASSERT_TRUE(c.Get("/medium", /*keep_alive=*/true));
  ASSERT_TRUE(c.ReadAnswer()) << (c.timed_out ? "read timed out" : "connection ended");
  const Parsed first = Parse(c.received);
  EXPECT_EQ(first.response["Transfer-Encoding"], "chunked");  // it was streamed
  EXPECT_TRUE(first.response.body() == peer_.medium) << "the body differs from the service's";
  c.received.clear();
  ASSERT_TRUE(c.Get("/small", /*keep_alive=*/true));
  ASSERT_TRUE(c.ReadAnswer()) << "the gateway closed the client's connection after the stream";
  EXPECT_EQ(Parse(c.received).response.body(), R"({"ok":true})");

  // A next request sent while the answer streams (pipelined) is kept and answered after it.
  c.received.clear();
  ASSERT_TRUE(c.Get("/medium", /*keep_alive=*/true));
  ASSERT_TRUE(c.Get("/small", /*keep_alive=*/true));
  ASSERT_TRUE(c.ReadAnswer());
  const Parsed streamed = Parse(c.received);
  EXPECT_TRUE(streamed.response.body() == peer_.medium);
  c.received.erase(0, streamed.used);
  ASSERT_TRUE(c.ReadAnswer()) << "the pipelined request got no answer";
  EXPECT_EQ(Parse(c.received).response.body(), R"({"ok":true})");
}

}  // namespace
}  // namespace rocketmart::gateway
