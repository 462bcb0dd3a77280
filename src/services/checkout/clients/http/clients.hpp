// How other services reach checkout when the services run apart (issue 15): HTTP bindings of the
// client ports that checkout serves in one process (clients/in_process/clients.hpp), each calling
// checkout's existing routes through a PeerCaller (infra/http/client/peer_call.hpp) with the
// internal identity checkout authenticates:
//   catalog::AvailabilitySource  GET /payment/availability?ids=…   (as the service)
//   catalog::CheckoutClient      POST /payment/purchases            (as the member, its
//                                Idempotency-Key and start-by deadline)
//   orders::PaymentsClient       GET /payment/purchases/{paymentId} (as the service: admin)
//   orders::SaleFiguresSource    GET /payment/{productId}/figures   (as the service: admin)
// Each call is bounded by the deadline it is given (the caller's request's), whose time left goes
// to checkout as X-Request-Deadline-Ms; one already passed fails with kTimeout, unsent.
// Every failure is a value: kUnavailable / kTimeout when checkout cannot answer (the caller's
// request answers 503, or shows its section "unavailable"). Thread-safe.
#pragma once

#include "infra/http/client/peer_call.hpp"
#include "services/catalog/ports/availability_source.hpp"
#include "services/catalog/ports/checkout_client.hpp"
#include "services/orders/ports/payments_client.hpp"
#include "services/orders/ports/sale_figures_source.hpp"

namespace rocketmart::checkout {

class HttpAvailability final : public catalog::AvailabilitySource {
 public:
  explicit HttpAvailability(http::client::PeerCaller& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::vector<catalog::ProductAvailability>>> Availability(
      std::span<const std::int64_t> product_ids, Deadline deadline) override;

 private:
  http::client::PeerCaller& checkout_;
};

class HttpCheckoutClient final : public catalog::CheckoutClient {
 public:
  explicit HttpCheckoutClient(http::client::PeerCaller& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<catalog::CheckoutAnswer> Purchase(std::int64_t member_id,
                                                           bool email_verified,
                                                           std::vector<catalog::CheckoutLine> lines,
                                                           std::optional<catalog::CheckoutKey> key,
                                                           Deadline start_by) override;

 private:
  http::client::PeerCaller& checkout_;
};

class HttpPaymentsClient final : public orders::PaymentsClient {
 public:
  explicit HttpPaymentsClient(http::client::PeerCaller& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::PaidOrderEvent>>> PaidOrder(
      std::int64_t order_id, Deadline deadline) override;

 private:
  http::client::PeerCaller& checkout_;
};

class HttpSaleFigures final : public orders::SaleFiguresSource {
 public:
  explicit HttpSaleFigures(http::client::PeerCaller& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::SaleFigures>>> Figures(
      std::int64_t product_id, Deadline deadline) override;

 private:
  http::client::PeerCaller& checkout_;
};

}  // namespace rocketmart::checkout
