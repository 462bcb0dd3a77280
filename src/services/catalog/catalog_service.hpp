// The catalog's application service: admin writes go to the repository; every read is answered
// from an in-memory view of all live products (with like counts and the caller's likes), joined
// with checkout's sale and stock figures read once per request from the AvailabilitySource port,
// so browsing costs no disk I/O. Likes are written durably first and then shown (see LikeIndex for
// how concurrent changes settle on the committed truth).
//
// Its ports are injected at construction and never rebound. When the availability source fails,
// products are still shown, with sale state "unknown" (a list filtered by sale state answers
// kUnavailable instead: it cannot be computed).
//
// Every instance shows every instance's writes: the one that took a write shows it at once
// (read-your-writes), the others when catalog's product.* and like.changed events reach them (a
// cache refresh on every instance, RefreshProduct / RefreshLike).
//
// Thread-safety: all methods may be called concurrently. The view is guarded by a shared_mutex;
// writers and refreshes publish a product only if its version is newer than the one shown, so
// concurrent updates settle on the last committed version whatever order they arrive in.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/catalog/domain/product.hpp"
#include "services/catalog/domain/shopping.hpp"
#include "services/catalog/like_index.hpp"
#include "services/catalog/ports/availability_source.hpp"
#include "services/catalog/ports/product_repository.hpp"
#include "services/catalog/ports/shopping_repository.hpp"

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
  // Live available stock; the initial stock while checkout does not know the product yet, or when
  // its figures cannot be read (sale_state kUnknown).
  std::int64_t stock = 0;
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
  CatalogService(ProductRepository& repository, LikeRepository& likes,
                 AvailabilitySource& availability, const Clock& clock);

  // Loads every product (and like) from the repositories. Start-up only (synchronous).
  void Load();

  // Cache refreshes from catalog's own events (every instance's writes, this one's included; see
  // adapters/catalog_cache_subscriber.hpp). Both keep the newest only: an older or redelivered
  // change, or this instance's own write seen again, changes nothing.
  // A product as committed (retired: it leaves the view). `details` false: the event carried no
  // description, image or dates (written by an older version), which are then kept from the
  // product shown (empty for one this instance never saw).
  void RefreshProduct(Product product, bool details);
  // A committed like change, delivered in the product's sequence order.
  void RefreshLike(std::int64_t member_id, std::int64_t product_id, const LikeChange& change);

  // Likes are idempotent (kLike twice keeps one like); kToggle is the original's POST.
  // kNotFound for unknown or retired products.
  boost::asio::awaitable<Result<LikeState>> ChangeLike(std::int64_t member_id,
                                                       std::int64_t product_id, LikeOp op);
  // The member's likes, most recent first, at most `limit` (my page, GET /products/likes).
  boost::asio::awaitable<Result<std::vector<Like>>> LikedBy(std::int64_t member_id,
                                                            std::size_t limit) const;

  // Reads (and a write's answer) ask checkout's figures by `deadline`, the request's.
  boost::asio::awaitable<Result<ProductView>> Create(ProductDraft draft, Deadline deadline);
  boost::asio::awaitable<Result<ProductView>> Update(std::int64_t id, ProductChanges changes,
                                                     Deadline deadline);
  boost::asio::awaitable<Status> Retire(std::int64_t id);

  // Is the product live (known and not retired)? Memory only.
  bool Exists(std::int64_t id) const;
  // The same, asking the database when this instance has not heard of the product: another
  // instance may have created it a moment ago, its event still on the way. An error when the
  // database cannot say.
  boost::asio::awaitable<Result<bool>> Knows(std::int64_t id) const;
  // member_id 0 = anonymous (no likedByMe). nullopt for unknown or retired products; an error
  // when this instance has not heard of the product and the database cannot say (Lookup).
  boost::asio::awaitable<Result<std::optional<ProductView>>> Get(std::int64_t id,
                                                                 std::int64_t member_id,
                                                                 Deadline deadline) const;
  // Several products with one availability read (a basket): one entry per id, in order, nullopt
  // for unknown or retired ones; misses are looked up like Get's. `ids` stays valid until the
  // call completes.
  boost::asio::awaitable<Result<std::vector<std::optional<ProductView>>>> Views(
      std::span<const std::int64_t> ids, std::int64_t member_id, Deadline deadline) const;
  boost::asio::awaitable<Result<ListPage>> List(ListQuery query, Deadline deadline) const;
  std::size_t size() const;

 private:
  // Writes the memory (a cache of the database: const readers fill it on a miss).
  void Publish(Product product, bool details = true) const;
  std::shared_ptr<const Product> Find(std::int64_t id) const;
  // Find, then on a miss the database (kept in memory; versioned, so a newer event wins).
  // nullptr for unknown or retired ids.
  boost::asio::awaitable<Result<std::shared_ptr<const Product>>> Lookup(std::int64_t id) const;
  // `availability` null: checkout's figures could not be read (sale state kUnknown).
  ProductView View(const Product& product, std::int64_t member_id,
                   const ProductAvailability* availability, TimePoint now) const;
  // One product with its figures read on their own (a write's answer).
  boost::asio::awaitable<ProductView> ViewOne(const Product& product, std::int64_t member_id,
                                              Deadline deadline) const;

  ProductRepository& repository_;
  LikeRepository& like_repository_;
  AvailabilitySource& availability_;
  const Clock& clock_;
  LikeIndex likes_;
  mutable std::shared_mutex mutex_;
  mutable std::map<std::int64_t, std::shared_ptr<const Product>> products_;  // live only
  mutable std::map<std::int64_t, std::int64_t> versions_;                    // every id ever seen
};

}  // namespace rocketmart::catalog
