#include "services/gateway/ports/request_rate_limiter.hpp"

#include <boost/asio/ip/address_v6.hpp>
#include <cstring>

namespace rocketmart::gateway {

RateKey RateKey::Member(std::int64_t member_id) {
  RateKey key;
  key.bytes_[0] = static_cast<std::uint8_t>(Scope::kMember);
  std::memcpy(&key.bytes_[1], &member_id, sizeof member_id);
  return key;
}

RateKey RateKey::Address(const boost::asio::ip::address& address) {
  RateKey key;
  key.bytes_[0] = static_cast<std::uint8_t>(Scope::kAddress);
  if (address.is_v4()) {
    const auto v4 = address.to_v4().to_bytes();
    // As ::ffff:a.b.c.d, so that a mapped IPv6 address is the same key.
    key.bytes_[11] = 0xff;
    key.bytes_[12] = 0xff;
    std::memcpy(&key.bytes_[13], v4.data(), v4.size());
    return key;
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped())
    return Address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  const auto bytes = v6.to_bytes();
  std::memcpy(&key.bytes_[1], bytes.data(), 8);  // the /64; the interface id stays zero
  return key;
}

std::string RateKey::ToString() const {
  if (scope() == Scope::kMember) {
    std::int64_t id = 0;
    std::memcpy(&id, &bytes_[1], sizeof id);
    return "m:" + std::to_string(id);
  }
  boost::asio::ip::address_v6::bytes_type bytes{};
  std::memcpy(bytes.data(), &bytes_[1], bytes.size());
  const boost::asio::ip::address_v6 v6(bytes);
  if (v6.is_v4_mapped()) {
    return "ip:" + boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  return "ip:" + v6.to_string() + "/64";
}

}  // namespace rocketmart::gateway
