// What the live stock stream reads: a product's units left and sale state, from memory (the
// embedded binding asks checkout's admission counters; no database read per event).
#pragma once

#include <cstdint>
#include <optional>

#include "core/clock.hpp"
#include "services/storefront/domain/web.hpp"

namespace rocketmart::storefront {

struct StockReading {
  StockFigures figures;
  // When the sale state changes by the clock alone (window opens or closes), if it will.
  std::optional<TimePoint> next_state_change;
};

class StockReader {
 public:
  virtual ~StockReader() = default;
  // nullopt: no such product. Called from the stream's own thread; must not block.
  virtual std::optional<StockReading> Read(std::int64_t product_id) const = 0;
};

}  // namespace rocketmart::storefront
