// The catalog's application service: admin writes go to the repository; every read is answered
// from an in-memory view of all live products, so browsing costs no disk I/O.
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
#include "services/catalog/ports/product_repository.hpp"
#include "services/catalog/ports/stock_source.hpp"

namespace rocketmart::catalog {

enum class SortOrder { kIdAsc, kNewest, kPriceAsc, kPriceDesc, kNameAsc };

struct ListQuery {
  std::size_t limit = 20;
  SortOrder sort = SortOrder::kIdAsc;
  std::string cursor;  // opaque, from a previous page
  std::string search;  // case-insensitive substring of the name
};

struct ProductView {
  Product product;
  std::int64_t stock = 0;  // live available stock
};

struct ListPage {
  std::vector<ProductView> items;
  std::string next_cursor;  // empty on the last page
};

inline constexpr std::size_t kMaxPageSize = 100;

class CatalogService {
 public:
  CatalogService(ProductRepository& repository, const Clock& clock);

  // Loads every product from the repository. Start-up only.
  void Load();
  // Optional: where live stock comes from (otherwise the initial stock is shown).
  void SetStockSource(const StockSource* source) { stock_source_ = source; }

  boost::asio::awaitable<Result<ProductView>> Create(ProductDraft draft);
  boost::asio::awaitable<Result<ProductView>> Update(std::int64_t id, ProductChanges changes);
  boost::asio::awaitable<Status> Retire(std::int64_t id);

  std::optional<ProductView> Get(std::int64_t id) const;
  Result<ListPage> List(const ListQuery& query) const;
  std::size_t size() const;

 private:
  void Publish(const Product& product);
  ProductView View(const Product& product) const;

  ProductRepository& repository_;
  const Clock& clock_;
  const StockSource* stock_source_ = nullptr;
  mutable std::shared_mutex mutex_;
  std::map<std::int64_t, std::shared_ptr<const Product>> products_;  // live (not retired) only
  std::map<std::int64_t, std::int64_t> versions_;                    // every id ever seen
};

}  // namespace rocketmart::catalog
