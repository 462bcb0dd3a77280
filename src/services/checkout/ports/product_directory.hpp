// Client port: the catalog's product directory — whether a product exists (live, not retired) —
// asked when an operator sets a sale for a product whose stock checkout has not heard of yet (the
// catalog's event is milliseconds behind). Bound by the composition root: in-process, the catalog
// service's memory; distributed, an HTTP client of the catalog (GET /products/{id}). Awaitable and
// able to fail: kUnavailable when the catalog cannot be asked (the operator's request answers 503,
// nothing saved).
//
// `deadline` is the operator's request's (never kNoDeadline by accident: every caller decides):
// the HTTP binding stops at it and passes the time left to the catalog (X-Request-Deadline-Ms);
// the in-process binding answers from memory, waits for nothing, and ignores it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::checkout {

class ProductDirectory {
 public:
  virtual ~ProductDirectory() = default;
  virtual boost::asio::awaitable<Result<bool>> Exists(std::int64_t product_id,
                                                      Deadline deadline) = 0;
};

}  // namespace rocketmart::checkout
