// The catalog's application service: admin writes go to the repository; every read is answered
// from an in-memory view of all live products (with like counts, the caller's likes and the sale
// state), so browsing costs no disk I/O. Likes are written durably first and then shown (see
// LikeIndex for how concurrent changes settle on the committed truth).
//
// Thread-safety: all methods may be called concurrently. The view is guarded by a shared_mutex;
// writers publish a product only if its version is newer than the one shown, so concurrent updates
// settle on the last committed version whatever order their coroutines resume in.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/catalog/domain/product.hpp"
#include "services/catalog/domain/shopping.hpp"
#include "services/catalog/like_index.hpp"
#include "services/catalog/ports/product_repository.hpp"
#include "services/catalog/ports/sale_source.hpp"
#include "services/catalog/ports/shopping_repository.hpp"
#include "services/catalog/ports/stock_source.hpp"

namespace rocketmart::catalog {

// kLikes: most liked first (ties by id), keyed on the count at the time of the page.
enum class SortOrder { kIdAsc, kNewest, kPriceAsc, kPriceDesc, kNameAsc, kLikes };

struct ListQuery {
  std::size_t limit = 20;
  SortOrder sort = SortOrder::kIdAsc;
  std::string cursor;                   // opaque, from a previous page
  std::string search;                   // case-insensitive substring of the name
  std::optional<SaleState> sale_state;  // only products in this state
  std::int64_t member_id = 0;           // the caller, for likedByMe; 0 = anonymous
};

struct ProductView {
  Product product;
  std::int64_t stock = 0;  // live available stock
  std::int64_t likes = 0;
  std::optional<bool> liked_by_me;  // only when the caller is a member
  std::optional<SaleInfo> sale;
  SaleState sale_state = SaleState::kNone;
};

struct LikeState {
  std::int64_t likes = 0;
  bool liked_by_me = false;
};

struct ListPage {
  std::vector<ProductView> items;
  std::string next_cursor;  // empty on the last page
};

inline constexpr std::size_t kMaxPageSize = 100;

class CatalogService {
 public:
  // `likes` may be null: like changes then answer kUnavailable and every count is 0.
  CatalogService(ProductRepository& repository, const Clock& clock,
                 LikeRepository* likes = nullptr);

  // Loads every product (and like) from the repositories. Start-up only.
  void Load();
  // Optional: where live stock comes from (otherwise the initial stock is shown). Bind before
  // serving.
  void SetStockSource(const StockSource* source) { stock_source_ = source; }
  // Optional: where sale windows come from (otherwise every sale state is "none"). Bind before
  // serving.
  void SetSaleSource(const SaleSource* source) { sale_source_ = source; }

  // Likes are idempotent (kLike twice keeps one like); kToggle is the original's POST.
  // kNotFound for unknown or retired products.
  boost::asio::awaitable<Result<LikeState>> ChangeLike(std::int64_t member_id,
                                                       std::int64_t product_id, LikeOp op);

  boost::asio::awaitable<Result<ProductView>> Create(ProductDraft draft);
  boost::asio::awaitable<Result<ProductView>> Update(std::int64_t id, ProductChanges changes);
  boost::asio::awaitable<Status> Retire(std::int64_t id);

  // member_id 0 = anonymous (no likedByMe).
  std::optional<ProductView> Get(std::int64_t id, std::int64_t member_id = 0) const;
  Result<ListPage> List(const ListQuery& query) const;
  std::size_t size() const;

 private:
  void Publish(const Product& product);
  ProductView View(const Product& product, std::int64_t member_id, TimePoint now) const;
  // Inventory's count, or nullopt while inventory does not know the product yet. Without a stock
  // source (the catalog alone) the product's initial stock is the count.
  std::optional<std::int64_t> LiveStock(const Product& product) const;

  ProductRepository& repository_;
  const Clock& clock_;
  LikeRepository* like_repository_;
  const StockSource* stock_source_ = nullptr;
  const SaleSource* sale_source_ = nullptr;
  LikeIndex likes_;
  mutable std::shared_mutex mutex_;
  std::map<std::int64_t, std::shared_ptr<const Product>> products_;  // live (not retired) only
  std::map<std::int64_t, std::int64_t> versions_;                    // every id ever seen
};

}  // namespace rocketmart::catalog
