// In-process bindings of the client ports between checkout and the other services, shared by the
// composition root (embedded_app.cpp) and the integration tests that wire real services together
// the same way. Distributed, each becomes an HTTP client (or, for the catalog's availability, a
// projection of checkout's events) behind the same port; docs/checkout.md lists the routes they
// would call.
#pragma once

#include <memory>

#include "services/catalog/catalog_service.hpp"
#include "services/catalog/ports/availability_source.hpp"
#include "services/catalog/ports/checkout_client.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/checkout/ports/product_directory.hpp"
#include "services/orders/ports/payments_client.hpp"

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

// The catalog shows each product's sale window and live stock from checkout's memory (embedded
// binding of catalog::AvailabilitySource): always answers, inline, at the cost of two map lookups
// per product.
class InProcessAvailability final : public catalog::AvailabilitySource {
 public:
  explicit InProcessAvailability(const checkout::CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::vector<catalog::ProductAvailability>>> Availability(
      std::span<const std::int64_t> product_ids) override;

 private:
  const checkout::CheckoutService& checkout_;
};

// Orders read a paid purchase whose order.paid has not arrived yet (embedded binding of
// orders::PaymentsClient): a point read on checkout's reader connection.
class InProcessPaymentsClient final : public orders::PaymentsClient {
 public:
  explicit InProcessPaymentsClient(checkout::CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::PaidOrderEvent>>> PaidOrder(
      std::int64_t order_id) override;

 private:
  checkout::CheckoutService& checkout_;
};

// Checkout asks the catalog whether a product exists (embedded binding of
// checkout::ProductDirectory): the catalog service's memory, inline. The catalog is built after
// checkout (its availability reads checkout), so the binding holds the composition root's slot
// for it and answers kUnavailable while the slot is empty (only before the server serves).
class InProcessProductDirectory final : public checkout::ProductDirectory {
 public:
  explicit InProcessProductDirectory(const std::unique_ptr<catalog::CatalogService>& catalog)
      : catalog_(catalog) {}
  boost::asio::awaitable<Result<bool>> Exists(std::int64_t product_id) override;

 private:
  const std::unique_ptr<catalog::CatalogService>& catalog_;
};

}  // namespace rocketmart::app
