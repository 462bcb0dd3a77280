#include "services/catalog/catalog_service.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>

namespace rocketmart::catalog {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Cursor = "<sort-key>.<id>" of the last item served, hex-free but opaque to clients by contract.
// Ordering is always (sort key, id) so pages are stable while products are added or removed.
struct CursorKey {
  std::int64_t key = 0;
  std::string text_key;
  std::int64_t id = 0;
};

std::int64_t SortKey(const Product& p, std::int64_t likes, SortOrder order) {
  switch (order) {
    case SortOrder::kLikes:
      return -likes;
    case SortOrder::kIdAsc:
      return p.id;
    case SortOrder::kNewest:
      return -ToUnixMillis(p.created_at);
    case SortOrder::kPriceAsc:
      return p.price;
    case SortOrder::kPriceDesc:
      return -p.price;
    case SortOrder::kNameAsc:
      return 0;
  }
  return p.id;
}

std::string EncodeCursor(const Product& p, std::int64_t likes, SortOrder order) {
  if (order == SortOrder::kNameAsc) {
    std::string hex;
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char c : p.name) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    return "n" + hex + "." + std::to_string(p.id);
  }
  return "k" + std::to_string(SortKey(p, likes, order)) + "." + std::to_string(p.id);
}

std::optional<CursorKey> DecodeCursor(std::string_view c, SortOrder order) {
  const std::size_t dot = c.rfind('.');
  if (c.size() < 3 || dot == std::string_view::npos) return std::nullopt;
  CursorKey key;
  const std::string_view id_part = c.substr(dot + 1);
  auto [p, ec] = std::from_chars(id_part.data(), id_part.data() + id_part.size(), key.id);
  if (ec != std::errc{} || p != id_part.data() + id_part.size()) return std::nullopt;
  const std::string_view body = c.substr(1, dot - 1);
  if (order == SortOrder::kNameAsc) {
    if (c[0] != 'n' || body.size() % 2 != 0) return std::nullopt;
    for (std::size_t i = 0; i < body.size(); i += 2) {
      auto hex = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        return -1;
      };
      const int hi = hex(body[i]), lo = hex(body[i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      key.text_key += static_cast<char>(hi * 16 + lo);
    }
    return key;
  }
  if (c[0] != 'k') return std::nullopt;
  auto [p2, ec2] = std::from_chars(body.data(), body.data() + body.size(), key.key);
  if (ec2 != std::errc{} || p2 != body.data() + body.size()) return std::nullopt;
  return key;
}

// The figures at position i of an availability read, or null when it failed (or, defensively,
// answered a different number of entries than it was asked for).
const ProductAvailability* At(const Result<std::vector<ProductAvailability>>& read, std::size_t i,
                              std::size_t asked) {
  if (!read.ok() || read->size() != asked) return nullptr;
  return &(*read)[i];
}

}  // namespace

CatalogService::CatalogService(ProductRepository& repository, LikeRepository& likes,
                               AvailabilitySource& availability, const Clock& clock)
    : repository_(repository),
      like_repository_(likes),
      availability_(availability),
      clock_(clock) {}

void CatalogService::Load() {
  for (Product& p : repository_.LoadAll()) Publish(std::move(p));
  likes_.Load(like_repository_.LoadLikes());
}

void CatalogService::Publish(Product product, bool details) const {
  std::unique_lock lock(mutex_);
  auto& version = versions_[product.id];
  if (version >= product.version) return;
  version = product.version;
  const auto shown = products_.find(product.id);
  if (product.retired) {
    if (shown != products_.end()) products_.erase(shown);
    return;
  }
  if (!details && shown != products_.end()) {
    product.description = shown->second->description;
    product.image_url = shown->second->image_url;
    product.created_at = shown->second->created_at;
  }
  const std::int64_t id = product.id;
  products_[id] = std::make_shared<const Product>(std::move(product));
}

void CatalogService::RefreshProduct(Product product, bool details) {
  Publish(std::move(product), details);
}

void CatalogService::RefreshLike(std::int64_t member_id, std::int64_t product_id,
                                 const LikeChange& change) {
  likes_.Refresh(member_id, product_id, change);
}

std::shared_ptr<const Product> CatalogService::Find(std::int64_t id) const {
  std::shared_lock lock(mutex_);
  const auto it = products_.find(id);
  return it == products_.end() ? nullptr : it->second;
}

bool CatalogService::Exists(std::int64_t id) const {
  std::shared_lock lock(mutex_);
  return products_.contains(id);
}

boost::asio::awaitable<Result<std::shared_ptr<const Product>>> CatalogService::Lookup(
    std::int64_t id) const {
  if (auto known = Find(id)) co_return known;
  {
    std::shared_lock lock(mutex_);
    // Seen and retired since: nothing to ask.
    if (versions_.contains(id)) co_return std::shared_ptr<const Product>{};
  }
  auto stored = co_await repository_.Find(id);
  if (!stored.ok()) co_return std::move(stored).error();
  if (!*stored || (*stored)->retired) co_return std::shared_ptr<const Product>{};
  Publish(std::move(**stored), true);
  co_return Find(id);
}

boost::asio::awaitable<Result<bool>> CatalogService::Knows(std::int64_t id) const {
  auto found = co_await Lookup(id);
  if (!found.ok()) co_return std::move(found).error();
  co_return *found != nullptr;
}

ProductView CatalogService::View(const Product& product, std::int64_t member_id,
                                 const ProductAvailability* availability, TimePoint now) const {
  ProductView view{product, product.initial_stock};
  view.likes = likes_.Count(product.id);
  if (member_id != 0) view.liked_by_me = likes_.Liked(member_id, product.id);
  if (availability == nullptr) {
    // Checkout's figures could not be read: the product is still shown, its sale state unknown.
    view.sale_state = SaleState::kUnknown;
    return view;
  }
  // Until inventory knows the product, what it will start with is the honest count to show.
  if (availability->stock) view.stock = *availability->stock;
  view.sale = availability->sale;
  view.sale_state = ComputeSaleState(view.sale, availability->stock, now);
  return view;
}

boost::asio::awaitable<ProductView> CatalogService::ViewOne(const Product& product,
                                                            std::int64_t member_id,
                                                            Deadline deadline) const {
  const std::int64_t id = product.id;
  const std::span<const std::int64_t> ids(&id, 1);
  auto read = co_await availability_.Availability(ids, deadline);
  co_return View(product, member_id, At(read, 0, 1), clock_.Now());
}

boost::asio::awaitable<Result<LikeState>> CatalogService::ChangeLike(std::int64_t member_id,
                                                                     std::int64_t product_id,
                                                                     LikeOp op) {
  if (member_id <= 0) co_return MakeError(Errc::kUnauthenticated, "a member is required");
  auto known = co_await Knows(product_id);
  if (!known.ok()) co_return std::move(known).error();
  if (!*known) co_return MakeError(Errc::kNotFound, "no such product");
  likes_.Begin(member_id, product_id);
  std::optional<Result<LikeChange>> change;
  try {
    // Named first, then moved in: no co_await inside an argument list (ADR 0003, rule 2).
    Result<LikeChange> changed =
        co_await like_repository_.ChangeLike(member_id, product_id, op, clock_.Now());
    change.emplace(std::move(changed));
  } catch (...) {
    likes_.Abandon(member_id, product_id);
    throw;
  }
  if (!change->ok()) {
    likes_.Abandon(member_id, product_id);
    co_return change->error();
  }
  likes_.Apply(member_id, product_id, change->value());
  // The committed values of this change, not the index: the answer is what this request did.
  co_return LikeState{change->value().likes, change->value().liked};
}

boost::asio::awaitable<Result<std::vector<Like>>> CatalogService::LikedBy(std::int64_t member_id,
                                                                          std::size_t limit) const {
  co_return co_await like_repository_.LikedBy(member_id, limit);
}

boost::asio::awaitable<Result<ProductView>> CatalogService::Create(ProductDraft draft,
                                                                   Deadline deadline) {
  if (auto st = ValidateDraft(draft); !st.ok()) co_return st.error();
  if (size() >= kMaxProducts) {
    co_return MakeError(Errc::kConflict, "the catalog is full");
  }
  const TimePoint now = clock_.Now();
  Product product{0,
                  std::move(draft.name),
                  std::move(draft.description),
                  draft.price,
                  std::move(draft.image_url),
                  draft.stock,
                  false,
                  now,
                  now,
                  1};
  auto stored = co_await repository_.Insert(std::move(product));
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return co_await ViewOne(*stored, 0, deadline);
}

boost::asio::awaitable<Result<ProductView>> CatalogService::Update(std::int64_t id,
                                                                   ProductChanges changes,
                                                                   Deadline deadline) {
  if (auto st = ValidateChanges(changes); !st.ok()) co_return st.error();
  auto stored = co_await repository_.Update(id, std::move(changes), clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return co_await ViewOne(*stored, 0, deadline);
}

boost::asio::awaitable<Status> CatalogService::Retire(std::int64_t id) {
  auto stored = co_await repository_.Retire(id, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return Ok();
}

boost::asio::awaitable<Result<std::optional<ProductView>>> CatalogService::Get(
    std::int64_t id, std::int64_t member_id, Deadline deadline) const {
  auto found = co_await Lookup(id);
  if (!found.ok()) co_return std::move(found).error();
  if (!*found) co_return std::optional<ProductView>{};
  const std::shared_ptr<const Product> product = std::move(*found);
  // Named first (ADR 0003 rule 2: no co_await inside an argument list).
  ProductView view = co_await ViewOne(*product, member_id, deadline);
  co_return std::optional<ProductView>(std::move(view));
}

boost::asio::awaitable<Result<std::vector<std::optional<ProductView>>>> CatalogService::Views(
    std::span<const std::int64_t> ids, std::int64_t member_id, Deadline deadline) const {
  std::vector<std::shared_ptr<const Product>> products;
  std::vector<std::int64_t> live;  // the ids still in the catalog, asked for in one read
  products.reserve(ids.size());
  for (const std::int64_t id : ids) {
    // A basket line names a product that existed when it was written (retiring deletes the
    // lines); a miss is one another instance created a moment ago, or one just retired.
    auto found = co_await Lookup(id);
    if (!found.ok()) co_return std::move(found).error();
    products.push_back(std::move(*found));
    if (products.back()) live.push_back(id);
  }
  const std::span<const std::int64_t> asked(live);
  auto read = co_await availability_.Availability(asked, deadline);
  const TimePoint now = clock_.Now();
  std::vector<std::optional<ProductView>> out;
  out.reserve(ids.size());
  std::size_t next = 0;
  for (const auto& product : products) {
    if (!product) {
      out.emplace_back();
      continue;
    }
    out.emplace_back(View(*product, member_id, At(read, next++, live.size()), now));
  }
  co_return std::move(out);
}

std::size_t CatalogService::size() const {
  std::shared_lock lock(mutex_);
  return products_.size();
}

boost::asio::awaitable<Result<ListPage>> CatalogService::List(ListQuery query,
                                                              Deadline deadline) const {
  std::optional<CursorKey> after;
  if (!query.cursor.empty()) {
    after = DecodeCursor(query.cursor, query.sort);
    if (!after) co_return MakeError(Errc::kValidationFailed, "invalid cursor", "cursor");
  }
  const std::string needle = Lower(query.search);
  std::vector<std::shared_ptr<const Product>> matches;
  {
    std::shared_lock lock(mutex_);
    matches.reserve(products_.size());
    for (const auto& [id, p] : products_) {
      if (!needle.empty() && Lower(p->name).find(needle) == std::string::npos) continue;
      matches.push_back(p);
    }
  }
  // With a sale-state filter, every match's figures are read (once) before paging; otherwise only
  // the page's, after it.
  std::vector<ProductAvailability> figures;  // aligned with matches when filtered
  if (query.sale_state) {
    std::vector<std::int64_t> ids;
    ids.reserve(matches.size());
    for (const auto& p : matches) ids.push_back(p->id);
    const std::span<const std::int64_t> asked(ids);
    auto read = co_await availability_.Availability(asked, deadline);
    if (!read.ok() || read->size() != ids.size()) {
      co_return MakeError(Errc::kUnavailable,
                          "sale states cannot be read right now; retry, or list without saleState",
                          "saleState");
    }
    const TimePoint now = clock_.Now();
    const SaleState wanted = *query.sale_state;
    std::vector<std::shared_ptr<const Product>> kept;
    for (std::size_t i = 0; i < matches.size(); ++i) {
      const ProductAvailability& a = (*read)[i];
      if (ComputeSaleState(a.sale, a.stock, now) != wanted) continue;
      kept.push_back(std::move(matches[i]));
      figures.push_back(a);
    }
    matches = std::move(kept);
  }
  const SortOrder order = query.sort;
  // One like count per candidate, read under one lock so the sort sees a consistent snapshot.
  std::vector<std::pair<std::int64_t, std::int64_t>> likes;
  if (order == SortOrder::kLikes) {
    likes.reserve(matches.size());
    for (const auto& p : matches) likes.emplace_back(p->id, 0);
    likes_.Counts(likes);
  }
  struct Candidate {
    const Product* product;
    std::int64_t likes;
    std::size_t index;
  };
  std::vector<Candidate> candidates;
  candidates.reserve(matches.size());
  for (std::size_t i = 0; i < matches.size(); ++i) {
    candidates.push_back({matches[i].get(), likes.empty() ? 0 : likes[i].second, i});
  }
  auto less = [order](const Candidate& a, const Candidate& b) {
    if (order == SortOrder::kNameAsc) {
      if (a.product->name != b.product->name) return a.product->name < b.product->name;
    } else {
      const std::int64_t ka = SortKey(*a.product, a.likes, order);
      const std::int64_t kb = SortKey(*b.product, b.likes, order);
      if (ka != kb) return ka < kb;
    }
    return a.product->id < b.product->id;
  };
  auto is_after_cursor = [&](const Candidate& c) {
    if (!after) return true;
    const Product& p = *c.product;
    if (order == SortOrder::kNameAsc) {
      if (p.name != after->text_key) return p.name > after->text_key;
    } else if (SortKey(p, c.likes, order) != after->key) {
      return SortKey(p, c.likes, order) > after->key;
    }
    return p.id > after->id;
  };
  std::erase_if(candidates, [&](const Candidate& c) { return !is_after_cursor(c); });
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, kMaxPageSize);
  const std::size_t take = std::min(limit, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(take),
                    candidates.end(), less);
  ListPage page;
  if (candidates.size() > take && take > 0) {
    const Candidate& last = candidates[take - 1];
    page.next_cursor = EncodeCursor(*last.product, last.likes, order);
  }
  candidates.resize(take);
  std::optional<Result<std::vector<ProductAvailability>>> page_figures;
  if (!query.sale_state) {
    std::vector<std::int64_t> ids;
    ids.reserve(take);
    for (const Candidate& c : candidates) ids.push_back(c.product->id);
    const std::span<const std::int64_t> asked(ids);
    Result<std::vector<ProductAvailability>> read =
        co_await availability_.Availability(asked, deadline);
    page_figures.emplace(std::move(read));
  }
  const TimePoint now = clock_.Now();
  page.items.reserve(take);
  for (std::size_t i = 0; i < take; ++i) {
    const Candidate& c = candidates[i];
    const ProductAvailability* a = page_figures ? At(*page_figures, i, take) : &figures[c.index];
    page.items.push_back(View(*c.product, query.member_id, a, now));
  }
  co_return page;
}

}  // namespace rocketmart::catalog
