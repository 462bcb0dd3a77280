#include "services/catalog/clients/http/clients.hpp"

#include <algorithm>
#include <string>

#include "infra/http/client/json_fields.hpp"

namespace rocketmart::catalog {

namespace client = http::client;
using client::ArrayField;
using client::IntField;
using client::Unreadable;

namespace {
// GET /products/likes takes a limit of 1 to 100.
constexpr std::size_t kMaxLikesPage = 100;
}  // namespace

boost::asio::awaitable<Result<bool>> HttpProductDirectory::Exists(std::int64_t product_id,
                                                                  Deadline deadline) {
  const std::string target = "/products/" + std::to_string(product_id);
  const auth::Identity as = client::PeerCaller::Service();
  auto found = co_await catalog_.FindJson(target, as, deadline);
  if (!found.ok()) co_return std::move(found).error();
  co_return found->has_value();
}

boost::asio::awaitable<Result<std::vector<members::LikedProduct>>> HttpLikesClient::Likes(
    std::int64_t member_id, std::size_t limit, Deadline deadline) {
  limit = std::clamp<std::size_t>(limit, 1, kMaxLikesPage);
  const std::string target = "/products/likes?limit=" + std::to_string(limit);
  const auth::Identity as = client::PeerCaller::Member(member_id);
  auto body = co_await catalog_.GetJson(target, as, deadline);
  if (!body.ok()) co_return std::move(body).error();
  const boost::json::array* items = ArrayField(*body, "items");
  if (!items) co_return Unreadable("likes");
  std::vector<members::LikedProduct> out;
  for (const boost::json::value& item : *items) {
    const auto id = item.is_object() ? IntField(item.as_object(), "productId") : std::nullopt;
    if (!id) co_return Unreadable("likes");
    out.push_back({*id});
  }
  co_return out;
}

boost::asio::awaitable<Result<std::vector<members::WishlistEntry>>> HttpWishlistClient::Wishlist(
    std::int64_t member_id, std::size_t limit, Deadline deadline) {
  const std::string target = "/products/wishlist";
  const auth::Identity as = client::PeerCaller::Member(member_id);
  auto body = co_await catalog_.GetJson(target, as, deadline);
  if (!body.ok()) co_return std::move(body).error();
  const boost::json::array* items = ArrayField(*body, "items");
  if (!items) co_return Unreadable("a wishlist");
  std::vector<members::WishlistEntry> out;
  for (const boost::json::value& item : *items) {
    if (out.size() >= limit) break;
    const auto id = item.is_object() ? IntField(item.as_object(), "productId") : std::nullopt;
    const auto quantity = item.is_object() ? IntField(item.as_object(), "quantity") : std::nullopt;
    if (!id || !quantity) co_return Unreadable("a wishlist");
    out.push_back({*id, *quantity});
  }
  co_return out;
}

}  // namespace rocketmart::catalog
