#include "services/catalog/clients/in_process/members_clients.hpp"

namespace rocketmart::catalog {

boost::asio::awaitable<Result<std::vector<members::LikedProduct>>> InProcessLikesClient::Likes(
    std::int64_t member_id, std::size_t limit, Deadline /*unused: no wait*/) {
  auto likes = co_await catalog_.LikedBy(member_id, limit);
  if (!likes.ok()) co_return likes.error();
  std::vector<members::LikedProduct> out;
  for (const Like& like : *likes) out.push_back({like.product_id});
  co_return out;
}

boost::asio::awaitable<Result<std::vector<members::WishlistEntry>>>
InProcessWishlistClient::Wishlist(std::int64_t member_id, std::size_t limit, Deadline deadline) {
  auto wishlist = co_await shopping_.Wishlist(member_id, deadline);
  if (!wishlist.ok()) co_return wishlist.error();
  std::vector<members::WishlistEntry> out;
  for (const auto& line : wishlist->items) {
    if (out.size() >= limit) break;
    out.push_back({line.product_id, line.quantity});
  }
  co_return out;
}

}  // namespace rocketmart::catalog
