// How members reach the catalog in one process: my page's likes and wishlist, bound in-process
// to the catalog's services (members' LikesClient and WishlistClient ports). Distributed, members
// call GET /products/likes and GET /products/wishlist with the member's own bearer token instead
// (docs/ARCHITECTURE.md, "Client ports and their routes"). They wait for no other process; the
// wishlist passes the request's deadline on to the catalog's read of checkout's figures.
#pragma once

#include "services/catalog/catalog_service.hpp"
#include "services/catalog/shopping_service.hpp"
#include "services/members/ports/clients.hpp"

namespace rocketmart::catalog {

class InProcessLikesClient final : public members::LikesClient {
 public:
  explicit InProcessLikesClient(const CatalogService& catalog) : catalog_(catalog) {}
  boost::asio::awaitable<Result<std::vector<members::LikedProduct>>> Likes(
      std::int64_t member_id, std::size_t limit, Deadline deadline) override;

 private:
  const CatalogService& catalog_;
};

class InProcessWishlistClient final : public members::WishlistClient {
 public:
  explicit InProcessWishlistClient(const ShoppingService& shopping) : shopping_(shopping) {}
  boost::asio::awaitable<Result<std::vector<members::WishlistEntry>>> Wishlist(
      std::int64_t member_id, std::size_t limit, Deadline deadline) override;

 private:
  const ShoppingService& shopping_;
};

}  // namespace rocketmart::catalog
