// Ports to other services for "my page". Each is answered by the owning service (in-process when
// embedded, over HTTP when distributed); members never reads their tables. A client that is not
// bound or fails makes only its own section of my page "unavailable", never the whole page.
// Implementations are thread-safe.
//
// Every call takes the deadline of the member's request (no default: every caller decides). The
// HTTP bindings stop at it and pass the time left to the peer (X-Request-Deadline-Ms), so a page
// whose client gave up keeps no peer busy; the in-process bindings wait for no other process and
// ignore it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::members {

struct OrderSummary {
  std::int64_t id = 0;
  std::string status;
  std::int64_t total = 0;  // minor units
  TimePoint created_at{};
};

struct WishlistEntry {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
};

struct LikedProduct {
  std::int64_t product_id = 0;
};

class OrdersClient {
 public:
  virtual ~OrdersClient() = default;
  virtual boost::asio::awaitable<Result<std::vector<OrderSummary>>> RecentOrders(
      std::int64_t member_id, std::size_t limit, Deadline deadline) = 0;
};

class WishlistClient {
 public:
  virtual ~WishlistClient() = default;
  virtual boost::asio::awaitable<Result<std::vector<WishlistEntry>>> Wishlist(
      std::int64_t member_id, std::size_t limit, Deadline deadline) = 0;
};

class LikesClient {
 public:
  virtual ~LikesClient() = default;
  virtual boost::asio::awaitable<Result<std::vector<LikedProduct>>> Likes(std::int64_t member_id,
                                                                          std::size_t limit,
                                                                          Deadline deadline) = 0;
};

}  // namespace rocketmart::members
