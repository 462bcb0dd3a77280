// Port: the sale window of a product, owned by checkout. Embedded, the composition root binds it to
// checkout's in-memory sale table; left unbound, every product's sale state is "none", which is the
// truth when no checkout is running.
#pragma once

#include <cstdint>
#include <optional>

#include "core/clock.hpp"

namespace rocketmart::catalog {

struct SaleInfo {
  TimePoint starts_at;
  TimePoint ends_at;
  std::int64_t per_member_limit = 0;
};

class SaleSource {
 public:
  virtual ~SaleSource() = default;
  // The product's sale, or nullopt when none is scheduled. Called on every product read: must be
  // cheap, non-blocking and thread-safe.
  virtual std::optional<SaleInfo> Sale(std::int64_t product_id) const = 0;
};

}  // namespace rocketmart::catalog
