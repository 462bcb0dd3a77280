#include "services/checkout/clients/in_process/stock_reader.hpp"

namespace rocketmart::checkout {

storefront::StockReading ReadingOf(const CheckoutService& checkout, std::int64_t product_id,
                                   TimePoint now) {
  storefront::StockReading reading;
  reading.figures.product_id = product_id;
  reading.figures.stock = checkout.Available(product_id);
  if (auto sale = checkout.GetSale(product_id)) {
    reading.figures.state = sale->state;
    reading.figures.starts_at = sale->sale.starts_at;
    reading.figures.ends_at = sale->sale.ends_at;
    if (now < sale->sale.starts_at) {
      reading.next_state_change = sale->sale.starts_at;
    } else if (now < sale->sale.ends_at) {
      reading.next_state_change = sale->sale.ends_at;
    }
  }
  return reading;
}

std::optional<storefront::StockReading> ReadStock(const CheckoutService& checkout,
                                                  std::int64_t product_id, TimePoint now) {
  if (!checkout.Available(product_id)) return std::nullopt;
  return ReadingOf(checkout, product_id, now);
}

}  // namespace rocketmart::checkout
