// Port: the sales an operator configured (window and per-member limit per product). Implemented
// by adapters/sqlite_checkout_stores (SqliteSaleStore).
//
// Convention: SaveSale is awaitable and answers when committed; LoadSales is a start-up read
// (synchronous, called once by CheckoutService::Load before any request is served).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/checkout/domain/sale.hpp"

namespace rocketmart::checkout {

class SaleStore {
 public:
  virtual ~SaleStore() = default;
  // Start-up: every sale, by product.
  virtual std::vector<std::pair<std::int64_t, Sale>> LoadSales() = 0;
  // Creates or replaces the product's sale (the last write wins).
  virtual boost::asio::awaitable<Status> SaveSale(std::int64_t product_id, Sale sale,
                                                  TimePoint now) = 0;
};

}  // namespace rocketmart::checkout
