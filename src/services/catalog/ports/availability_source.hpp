// Port: what checkout says about a product's sale window and stock, for display. The catalog
// shows it; checkout owns it and stays the only judge of a purchase.
//
// Where it comes from (docs/shopping.md, "Sale state and stock: a projection"): embedded, the
// composition root binds it to checkout's in-memory sale table and counters (services/checkout/
// clients/in_process/clients.*); distributed, to a projection each catalog instance keeps of
// checkout's events. Either way an answer normally completes inline, from memory, never with a call
// to checkout per product read.
//
// One call per request (a page, a basket, one product), for every product of it at once. An error
// (kUnavailable: a projection not yet warm, a feed that fell silent) is not the request's failure:
// the catalog still answers, with those products' sale state "unknown" (CatalogService::View).
// `deadline` is the request's (no default: every caller decides): a binding that calls checkout
// over HTTP stops there and passes the time left on (X-Request-Deadline-Ms); the in-process
// binding answers from memory and ignores it. Implementations are thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/catalog/domain/shopping.hpp"

namespace rocketmart::catalog {

struct ProductAvailability {
  // Units a buyer could still get now; nullopt while checkout does not know the product yet.
  std::optional<std::int64_t> stock;
  // The product's sale window; nullopt when none is scheduled.
  std::optional<SaleInfo> sale;
};

class AvailabilitySource {
 public:
  virtual ~AvailabilitySource() = default;
  // One entry per id, in the order given. `product_ids` stays valid until the call completes.
  virtual boost::asio::awaitable<Result<std::vector<ProductAvailability>>> Availability(
      std::span<const std::int64_t> product_ids, Deadline deadline) = 0;
};

}  // namespace rocketmart::catalog
