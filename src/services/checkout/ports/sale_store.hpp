// Port: the sales an operator configured (window and per-member limit per product). Implemented
// by adapters/sqlite_checkout_stores (SqliteSaleStore) and adapters/postgres (PostgresSaleStore).
//
// Every write publishes: SaveSale appends `sale.changed` (services/checkout/api/events.hpp) to
// checkout's own outbox in the transaction of the write, carrying the sale's version (per product,
// +1 per write), so every checkout instance learns the sale from the outbox (the truth) and
// ignores an older or redelivered event by that version.
//
// Convention: SaveSale is awaitable and answers when committed; LoadSales is a start-up read
// (synchronous, called once by CheckoutService::Load before any request is served).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/checkout/domain/sale.hpp"

namespace rocketmart::checkout {

// A product's sale as the store keeps it.
struct StoredSale {
  std::int64_t product_id = 0;
  Sale sale;
  std::int64_t version = 0;  // 1 for the first write, +1 per write after it
};

class SaleStore {
 public:
  virtual ~SaleStore() = default;
  // Start-up: every sale, with its version.
  virtual std::vector<StoredSale> LoadSales() = 0;
  // Creates or replaces the product's sale (the last write wins) and appends `sale.changed` with
  // the new version in the same transaction. Returns the new version.
  virtual boost::asio::awaitable<Result<std::int64_t>> SaveSale(std::int64_t product_id, Sale sale,
                                                                TimePoint now) = 0;
};

}  // namespace rocketmart::checkout
