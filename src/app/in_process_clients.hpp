// In-process bindings of client ports whose other side is checkout, shared by the composition root
// (embedded_app.cpp) and the integration tests that wire real services together the same way.
// Distributed, each becomes an HTTP client behind the same port.
#pragma once

#include "services/catalog/ports/checkout_client.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::app {

// The cart buys through checkout's purchase path (embedded binding of catalog::CheckoutClient).
class InProcessCheckoutClient final : public catalog::CheckoutClient {
 public:
  explicit InProcessCheckoutClient(checkout::CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<catalog::CheckoutAnswer> Purchase(std::int64_t member_id,
                                                           bool email_verified,
                                                           std::vector<catalog::CheckoutLine> lines,
                                                           std::optional<catalog::CheckoutKey> key,
                                                           Deadline start_by) override;

 private:
  checkout::CheckoutService& checkout_;
};

}  // namespace rocketmart::app
