// Port: where the catalog reads the live stock it shows. Embedded, the composition root binds it
// to checkout's in-memory inventory; distributed, to a projection of inventory events.
#pragma once

#include <cstdint>
#include <optional>

namespace rocketmart::catalog {

class StockSource {
 public:
  virtual ~StockSource() = default;
  // Units a buyer could still get now, or nullopt if inventory does not know the product yet.
  virtual std::optional<std::int64_t> AvailableStock(std::int64_t product_id) const = 0;
};

}  // namespace rocketmart::catalog
