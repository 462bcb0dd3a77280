// How the storefront's live stock streams read checkout in one process: the stock and sale of a
// product from checkout's memory (admission counters and the sale table; no database read), and
// when the sale state changes by the clock alone. A product checkout holds no stock for reads as
// unknown. The checkout process of a cluster binds the streams to this alone; the embedded root
// also asks the catalog whether the product exists. Thread-safe (reads only).
#pragma once

#include "services/checkout/checkout_service.hpp"
#include "services/storefront/ports/stock_reader.hpp"

namespace rocketmart::checkout {

// The reading of `product_id` at `now` from checkout's memory; its stock is unknown (nullopt)
// when checkout holds none for it yet.
storefront::StockReading ReadingOf(const CheckoutService& checkout, std::int64_t product_id,
                                   TimePoint now);
// The same, or nullopt when checkout holds no stock for the product.
std::optional<storefront::StockReading> ReadStock(const CheckoutService& checkout,
                                                  std::int64_t product_id, TimePoint now);

class InProcessStockReader final : public storefront::StockReader {
 public:
  InProcessStockReader(const CheckoutService& checkout, const Clock& clock)
      : checkout_(checkout), clock_(clock) {}
  std::optional<storefront::StockReading> Read(std::int64_t product_id) const override {
    return ReadStock(checkout_, product_id, clock_.Now());
  }

 private:
  const CheckoutService& checkout_;
  const Clock& clock_;
};

}  // namespace rocketmart::checkout
