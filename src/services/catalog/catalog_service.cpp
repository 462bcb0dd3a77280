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

}  // namespace

CatalogService::CatalogService(ProductRepository& repository, const Clock& clock,
                               LikeRepository* likes)
    : repository_(repository), clock_(clock), like_repository_(likes) {}

void CatalogService::Load() {
  for (Product& p : repository_.LoadAll()) Publish(p);
  if (like_repository_) likes_.Load(like_repository_->LoadLikes());
}

void CatalogService::Publish(const Product& product) {
  std::unique_lock lock(mutex_);
  auto& version = versions_[product.id];
  if (version >= product.version) return;
  version = product.version;
  if (product.retired) {
    products_.erase(product.id);
  } else {
    products_[product.id] = std::make_shared<const Product>(product);
  }
}

std::optional<std::int64_t> CatalogService::LiveStock(const Product& product) const {
  if (stock_source_) return stock_source_->AvailableStock(product.id);
  return product.initial_stock;
}

ProductView CatalogService::View(const Product& product, std::int64_t member_id,
                                 TimePoint now) const {
  const std::optional<std::int64_t> stock = LiveStock(product);
  // Until inventory knows the product, what it will start with is the honest count to show.
  ProductView view{product, stock.value_or(product.initial_stock)};
  view.likes = likes_.Count(product.id);
  if (member_id != 0) view.liked_by_me = likes_.Liked(member_id, product.id);
  if (sale_source_) view.sale = sale_source_->Sale(product.id);
  view.sale_state = ComputeSaleState(view.sale, stock, now);
  return view;
}

boost::asio::awaitable<Result<LikeState>> CatalogService::ChangeLike(std::int64_t member_id,
                                                                     std::int64_t product_id,
                                                                     LikeOp op) {
  if (!like_repository_) co_return MakeError(Errc::kUnavailable, "likes are not available");
  if (member_id <= 0) co_return MakeError(Errc::kUnauthenticated, "a member is required");
  {
    std::shared_lock lock(mutex_);
    if (!products_.contains(product_id)) co_return MakeError(Errc::kNotFound, "no such product");
  }
  likes_.Begin(member_id, product_id);
  std::optional<Result<LikeChange>> change;
  try {
    // Named first, then moved in: no co_await inside an argument list (ADR 0003, rule 2).
    Result<LikeChange> changed =
        co_await like_repository_->ChangeLike(member_id, product_id, op, clock_.Now());
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

boost::asio::awaitable<Result<ProductView>> CatalogService::Create(ProductDraft draft) {
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
  co_return View(*stored, 0, clock_.Now());
}

boost::asio::awaitable<Result<ProductView>> CatalogService::Update(std::int64_t id,
                                                                   ProductChanges changes) {
  if (auto st = ValidateChanges(changes); !st.ok()) co_return st.error();
  auto stored = co_await repository_.Update(id, std::move(changes), clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return View(*stored, 0, clock_.Now());
}

boost::asio::awaitable<Status> CatalogService::Retire(std::int64_t id) {
  auto stored = co_await repository_.Retire(id, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return Ok();
}

std::optional<ProductView> CatalogService::Get(std::int64_t id, std::int64_t member_id) const {
  std::shared_ptr<const Product> product;
  {
    std::shared_lock lock(mutex_);
    const auto it = products_.find(id);
    if (it == products_.end()) return std::nullopt;
    product = it->second;
  }
  return View(*product, member_id, clock_.Now());
}

std::size_t CatalogService::size() const {
  std::shared_lock lock(mutex_);
  return products_.size();
}

Result<ListPage> CatalogService::List(const ListQuery& query) const {
  std::optional<CursorKey> after;
  if (!query.cursor.empty()) {
    after = DecodeCursor(query.cursor, query.sort);
    if (!after) return MakeError(Errc::kValidationFailed, "invalid cursor", "cursor");
  }
  const TimePoint now = clock_.Now();
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
  if (query.sale_state) {
    const SaleState wanted = *query.sale_state;
    std::erase_if(matches, [&](const auto& p) {
      const std::optional<SaleInfo> sale =
          sale_source_ ? sale_source_->Sale(p->id) : std::optional<SaleInfo>{};
      // Stock only matters inside the window; skip the lookup otherwise.
      return ComputeSaleState(sale, sale ? LiveStock(*p) : std::nullopt, now) != wanted;
    });
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
  page.items.reserve(take);
  for (std::size_t i = 0; i < take; ++i) {
    page.items.push_back(View(*candidates[i].product, query.member_id, now));
  }
  if (candidates.size() > take && take > 0) {
    const Candidate& last = candidates[take - 1];
    page.next_cursor = EncodeCursor(*last.product, last.likes, order);
  }
  return page;
}

}  // namespace rocketmart::catalog
