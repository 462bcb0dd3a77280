// Stand-ins for the catalog's client ports in its unit tests: checkout is not what these tests
// test (cart_checkout_claim_test.cpp binds the real checkout service).
#pragma once

#include <map>
#include <mutex>

#include "services/catalog/ports/availability_source.hpp"
#include "services/catalog/ports/checkout_client.hpp"

namespace rocketmart::catalog {

// Sale windows and stock set by the test; `failing` makes every read answer kUnavailable (a
// projection that is not warm, an unreachable checkout). Records the deadline of the last read.
class FakeAvailability final : public AvailabilitySource {
 public:
  boost::asio::awaitable<Result<std::vector<ProductAvailability>>> Availability(
      std::span<const std::int64_t> product_ids, Deadline deadline) override {
    std::lock_guard lock(mu);
    asked_by = deadline;
    if (failing) co_return MakeError(Errc::kUnavailable, "checkout's figures are not available");
    std::vector<ProductAvailability> out;
    for (const std::int64_t id : product_ids) {
      ProductAvailability& a = out.emplace_back();
      if (auto it = stock.find(id); it != stock.end()) a.stock = it->second;
      if (auto it = sales.find(id); it != sales.end()) a.sale = it->second;
    }
    co_return out;
  }

  std::mutex mu;
  std::map<std::int64_t, SaleInfo> sales;
  std::map<std::int64_t, std::int64_t> stock;
  bool failing = false;
  Deadline asked_by{};
};

// A checkout that cannot be reached: every purchase answers kUnavailable.
class UnreachableCheckout final : public CheckoutClient {
 public:
  boost::asio::awaitable<CheckoutAnswer> Purchase(std::int64_t, bool, std::vector<CheckoutLine>,
                                                  std::optional<CheckoutKey>, Deadline) override {
    co_return CheckoutAnswer{MakeError(Errc::kUnavailable, "checkout is not available")};
  }
};

}  // namespace rocketmart::catalog
