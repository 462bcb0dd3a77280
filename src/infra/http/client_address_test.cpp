// The client-address rule: forwarding headers count only from a trusted peer, and then only up to
// the first hop that is not trusted (rightmost untrusted), so a client can never choose its own
// address.
#include "infra/http/client_address.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rocketmart::http {
namespace {

using boost::asio::ip::make_address;

TrustedProxies Trust(std::string_view list) {
  auto parsed = TrustedProxies::Parse(list);
  EXPECT_TRUE(parsed.ok()) << list;
  return parsed.ok() ? *parsed : TrustedProxies{};
}

std::string Client(std::string_view peer, std::string_view trusted,
                   std::vector<std::string_view> xff, std::vector<std::string_view> fwd = {}) {
  return ClientAddress(make_address(std::string(peer)), Trust(trusted), xff, fwd).to_string();
}

TEST(TrustedProxies, ParsesAddressesAndBlocksAndRefusesAnythingElse) {
  const TrustedProxies t = Trust("10.0.0.0/8, 192.0.2.7 2001:db8::/32,,::1");
  EXPECT_TRUE(t.Contains(make_address("10.200.3.4")));
  EXPECT_FALSE(t.Contains(make_address("11.0.0.1")));
  EXPECT_TRUE(t.Contains(make_address("192.0.2.7")));
  EXPECT_FALSE(t.Contains(make_address("192.0.2.8")));
  EXPECT_TRUE(t.Contains(make_address("2001:db8:ffff::1")));
  EXPECT_FALSE(t.Contains(make_address("2001:db9::1")));
  EXPECT_TRUE(t.Contains(make_address("::1")));
  EXPECT_TRUE(t.Contains(make_address("::ffff:10.1.1.1")));  // a v4 peer on a dual-stack socket
  EXPECT_TRUE(Trust("10.1.2.3/8").Contains(make_address("10.9.9.9")));  // host bits ignored
  EXPECT_TRUE(Trust("0.0.0.0/0").Contains(make_address("203.0.113.9")));
  EXPECT_FALSE(Trust("0.0.0.0/0").Contains(make_address("2001:db8::1")));
  EXPECT_TRUE(Trust("").empty());
  EXPECT_FALSE(Trust("").Contains(make_address("127.0.0.1")));
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "localhost",
                          "10.0.0.256", "10.0.0.0/8;", "/8", "10.0.0.0/-1"}) {
    auto parsed = TrustedProxies::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, Errc::kValidationFailed);
    EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
  }
}

TEST(ClientAddress, AnUntrustedPeerIsTheClientWhateverItsHeadersSay) {
  EXPECT_EQ(Client("198.51.100.7", "", {"203.0.113.1"}), "198.51.100.7");
  EXPECT_EQ(Client("198.51.100.7", "10.0.0.0/8", {"203.0.113.1"}, {"for=203.0.113.2"}),
            "198.51.100.7");
}

TEST(ClientAddress, ATrustedPeerNamesTheRightmostUntrustedHop) {
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"203.0.113.1"}), "203.0.113.1");
  // The client prepended a lie; the proxies appended the truth on the right.
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"1.2.3.4, 203.0.113.1, 10.0.0.9"}), "203.0.113.1");
  // Lines count in order, as one list.
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"1.2.3.4", "203.0.113.1", "10.0.0.9"}),
            "203.0.113.1");
  // No header from a trusted peer: the peer.
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {}), "10.0.0.2");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"10.0.0.7, 10.0.0.9"}), "10.0.0.7");
}

TEST(ClientAddress, AHopThatIsNotAnAddressStopsAtTheNearestTrustedOne) {
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"203.0.113.1, garbage, 10.0.0.9"}), "10.0.0.9");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"unknown"}), "10.0.0.2");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {",, 203.0.113.1 ,"}), "203.0.113.1");
}

TEST(ClientAddress, ForwardedAddressesMayCarryPortsBracketsAndQuotes) {
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"203.0.113.1:4711"}), "203.0.113.1");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"[2001:db8::17]:4711"}), "2001:db8::17");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"2001:db8::17"}), "2001:db8::17");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"\"203.0.113.1\""}), "203.0.113.1");
  EXPECT_FALSE(ParseForwardedAddress("203.0.113.1:port"));
  EXPECT_FALSE(ParseForwardedAddress("[203.0.113.1]"));
  EXPECT_FALSE(ParseForwardedAddress("[2001:db8::1"));
  EXPECT_FALSE(ParseForwardedAddress("_hidden"));
}

TEST(ClientAddress, ForwardedIsReadOnlyWithoutXForwardedFor) {
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {},
                   {"for=1.2.3.4, for=\"[2001:db8:cafe::17]:4711\";proto=https"}),
            "2001:db8:cafe::17");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {}, {"proto=https;For=203.0.113.5;by=10.0.0.2"}),
            "203.0.113.5");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {}, {"for=unknown"}), "10.0.0.2");
  EXPECT_EQ(Client("10.0.0.2", "10.0.0.0/8", {"203.0.113.1"}, {"for=203.0.113.5"}), "203.0.113.1");
}

}  // namespace
}  // namespace rocketmart::http
