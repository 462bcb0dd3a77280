// How other services reach checkout in one process: its bindings of their client ports (the
// cart's CheckoutClient and the product views' AvailabilitySource for the catalog; PaymentsClient
// and SaleFiguresSource for orders), served by the checkout module and used by the integration
// tests that wire real services together the same way. Distributed, each becomes an HTTP client of
// checkout's routes (POST /payment/request, GET /payment/availability, GET
// /payment/purchases/{paymentId}, GET /payment/{productId}/figures; docs/ARCHITECTURE.md) or, for
// the catalog's availability, a projection of checkout's events, behind the same port. These
// wait for no other process: the deadlines their ports take are ignored here.
#pragma once

#include "services/catalog/ports/availability_source.hpp"
#include "services/catalog/ports/checkout_client.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/orders/ports/payments_client.hpp"
#include "services/orders/ports/sale_figures_source.hpp"

namespace rocketmart::checkout {

// The cart buys through checkout's purchase path (embedded binding of catalog::CheckoutClient).
class InProcessCheckoutClient final : public catalog::CheckoutClient {
 public:
  explicit InProcessCheckoutClient(CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<catalog::CheckoutAnswer> Purchase(std::int64_t member_id,
                                                           bool email_verified,
                                                           std::vector<catalog::CheckoutLine> lines,
                                                           std::optional<catalog::CheckoutKey> key,
                                                           Deadline start_by) override;

 private:
  CheckoutService& checkout_;
};

// The catalog shows each product's sale window and live stock from checkout's memory (embedded
// binding of catalog::AvailabilitySource): always answers, inline, at the cost of two map lookups
// per product.
class InProcessAvailability final : public catalog::AvailabilitySource {
 public:
  explicit InProcessAvailability(const CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::vector<catalog::ProductAvailability>>> Availability(
      std::span<const std::int64_t> product_ids, Deadline deadline) override;

 private:
  const CheckoutService& checkout_;
};

// Orders read a paid purchase whose order.paid has not arrived yet (embedded binding of
// orders::PaymentsClient): a point read on checkout's reader connection.
class InProcessPaymentsClient final : public orders::PaymentsClient {
 public:
  explicit InProcessPaymentsClient(CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::PaidOrderEvent>>> PaidOrder(
      std::int64_t order_id, Deadline deadline) override;

 private:
  CheckoutService& checkout_;
};

// The operator's per-sale summary reads checkout's figures in-process (embedded binding of
// orders::SaleFiguresSource).
class InProcessSaleFigures final : public orders::SaleFiguresSource {
 public:
  explicit InProcessSaleFigures(CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::SaleFigures>>> Figures(
      std::int64_t product_id, Deadline deadline) override;

 private:
  CheckoutService& checkout_;
};

}  // namespace rocketmart::checkout
