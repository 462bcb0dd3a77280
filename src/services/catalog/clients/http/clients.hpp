// How other services reach the catalog when the services run apart (issue 15): HTTP bindings of
// the client ports the catalog serves in one process (clients/in_process/), each calling the
// catalog's existing routes through a PeerCaller (infra/http/client/peer_call.hpp):
//   checkout::ProductDirectory  GET /products/{id}          (as the service)
//   members::LikesClient        GET /products/likes?limit=N (as the member)
//   members::WishlistClient     GET /products/wishlist      (as the member)
// Each call is bounded by the deadline it is given (the caller's request's), whose time left goes
// to the catalog as X-Request-Deadline-Ms; one already passed fails with kTimeout, unsent.
// Every failure is a value (kUnavailable / kTimeout when the catalog cannot answer). Thread-safe.
#pragma once

#include "infra/http/client/peer_call.hpp"
#include "services/checkout/ports/product_directory.hpp"
#include "services/members/ports/clients.hpp"

namespace rocketmart::catalog {

class HttpProductDirectory final : public checkout::ProductDirectory {
 public:
  explicit HttpProductDirectory(http::client::PeerCaller& catalog) : catalog_(catalog) {}
  boost::asio::awaitable<Result<bool>> Exists(std::int64_t product_id, Deadline deadline) override;

 private:
  http::client::PeerCaller& catalog_;
};

class HttpLikesClient final : public members::LikesClient {
 public:
  explicit HttpLikesClient(http::client::PeerCaller& catalog) : catalog_(catalog) {}
  boost::asio::awaitable<Result<std::vector<members::LikedProduct>>> Likes(
      std::int64_t member_id, std::size_t limit, Deadline deadline) override;

 private:
  http::client::PeerCaller& catalog_;
};

class HttpWishlistClient final : public members::WishlistClient {
 public:
  explicit HttpWishlistClient(http::client::PeerCaller& catalog) : catalog_(catalog) {}
  boost::asio::awaitable<Result<std::vector<members::WishlistEntry>>> Wishlist(
      std::int64_t member_id, std::size_t limit, Deadline deadline) override;

 private:
  http::client::PeerCaller& catalog_;
};

}  // namespace rocketmart::catalog
