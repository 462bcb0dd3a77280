// The client address throttles and the access log use (server.trusted_proxies): the binary over
// HTTP from 127.0.0.1. With nobody trusted (the default), a spoofed X-Forwarded-For is ignored:
// every request is the peer's, and one peer's signups share one limit. With 127.0.0.0/8 trusted
// (the test is the proxy), the rightmost untrusted forwarded address is the client: each gets its
// own limit, a client's own prepended entry changes nothing, and the access log names it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "support/http_client.hpp"
#include "support/run_await.hpp"
#include "support/server_process.hpp"

namespace rocketmart::testing {
namespace {

int n = 0;

// A signup (202, or 429 once the client's hourly limit of one is spent) with these headers.
int Signup(HttpClient& c, const std::map<std::string, std::string>& headers) {
  boost::json::object body{{"email", "u" + std::to_string(++n) + "@example.com"},
                           {"password", "correct horse battery"},
                           {"name", "U"}};
  return c.PostJson("/member/signup", boost::json::serialize(body), "", headers).status;
}

std::map<std::string, std::string> Env(const std::string& trusted) {
  return {{"ROCKETMART_MEMBERS_SIGNUPS_PER_IP_PER_HOUR", "1"},
          {"ROCKETMART_SERVER_TRUSTED_PROXIES", trusted},
          {"ROCKETMART_LOG_FORMAT", "json"},
          {"ROCKETMART_LOG_ACCESS_LOG", "true"}};
}

// The `client` of every access line for /member/signup, in order.
std::vector<std::string> SignupClients(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    if (!o.contains("path") || o.at("path") != "/member/signup") continue;
    out.emplace_back(o.at("client").as_string());
  }
  return out;
}

TEST(ClientAddress, AnUntrustedPeersForwardingHeadersAreIgnored) {
  TempDir logs;
  const auto log = logs.path() / "server.log";
  {
    ServerProcess server({.env = Env(""), .log_file = log});
    HttpClient c(server.port());
    EXPECT_EQ(Signup(c, {{"X-Forwarded-For", "203.0.113.1"}}), 202);
    // Another spoofed address is still the same peer, over its limit.
    EXPECT_EQ(Signup(c, {{"X-Forwarded-For", "203.0.113.2"}}), 429);
    EXPECT_EQ(Signup(c, {{"Forwarded", "for=203.0.113.3"}}), 429);
    EXPECT_EQ(server.Terminate(), 0);  // flushes the log
  }
  EXPECT_EQ(SignupClients(log), (std::vector<std::string>{"127.0.0.1", "127.0.0.1", "127.0.0.1"}));
}

TEST(ClientAddress, ATrustedProxysForwardedClientIsTheOneThrottledAndLogged) {
  TempDir logs;
  const auto log = logs.path() / "server.log";
  {
    ServerProcess server({.env = Env("127.0.0.0/8"), .log_file = log});
    HttpClient c(server.port());
    EXPECT_EQ(Signup(c, {{"X-Forwarded-For", "203.0.113.1"}}), 202);
    EXPECT_EQ(Signup(c, {{"X-Forwarded-For", "203.0.113.2"}}), 202);  // another client
    // 203.0.113.1 again, having prepended an address of its choice: the proxy's entry counts.
    EXPECT_EQ(Signup(c, {{"X-Forwarded-For", "198.51.100.9, 203.0.113.1"}}), 429);
    EXPECT_EQ(Signup(c, {{"Forwarded", "for=\"[2001:db8::17]:4711\""}}), 202);
    EXPECT_EQ(Signup(c, {}), 202);  // no header: the proxy itself is the client
    EXPECT_EQ(Signup(c, {}), 429);
    EXPECT_EQ(server.Terminate(), 0);
  }
  EXPECT_EQ(SignupClients(log),
            (std::vector<std::string>{"203.0.113.1", "203.0.113.2", "203.0.113.1", "2001:db8::17",
                                      "127.0.0.1", "127.0.0.1"}));
}

}  // namespace
}  // namespace rocketmart::testing
