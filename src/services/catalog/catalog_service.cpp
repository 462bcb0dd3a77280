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

std::int64_t SortKey(const Product& p, SortOrder order) {
  switch (order) {
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

std::string EncodeCursor(const Product& p, SortOrder order) {
  if (order == SortOrder::kNameAsc) {
    std::string hex;
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char c : p.name) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    return "n" + hex + "." + std::to_string(p.id);
  }
  return "k" + std::to_string(SortKey(p, order)) + "." + std::to_string(p.id);
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

CatalogService::CatalogService(ProductRepository& repository, const Clock& clock)
    : repository_(repository), clock_(clock) {}

void CatalogService::Load() {
  for (Product& p : repository_.LoadAll()) Publish(p);
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

ProductView CatalogService::View(const Product& product) const {
  ProductView view{product, product.initial_stock};
  if (stock_source_) {
    if (auto stock = stock_source_->AvailableStock(product.id)) view.stock = *stock;
  }
  return view;
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
  co_return View(*stored);
}

boost::asio::awaitable<Result<ProductView>> CatalogService::Update(std::int64_t id,
                                                                   ProductChanges changes) {
  if (auto st = ValidateChanges(changes); !st.ok()) co_return st.error();
  auto stored = co_await repository_.Update(id, std::move(changes), clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return View(*stored);
}

boost::asio::awaitable<Status> CatalogService::Retire(std::int64_t id) {
  auto stored = co_await repository_.Retire(id, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Publish(*stored);
  co_return Ok();
}

std::optional<ProductView> CatalogService::Get(std::int64_t id) const {
  std::shared_ptr<const Product> product;
  {
    std::shared_lock lock(mutex_);
    const auto it = products_.find(id);
    if (it == products_.end()) return std::nullopt;
    product = it->second;
  }
  return View(*product);
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
  const SortOrder order = query.sort;
  auto less = [order](const Product& a, const Product& b) {
    if (order == SortOrder::kNameAsc) {
      if (a.name != b.name) return a.name < b.name;
    } else if (SortKey(a, order) != SortKey(b, order)) {
      return SortKey(a, order) < SortKey(b, order);
    }
    return a.id < b.id;
  };
  auto is_after_cursor = [&](const Product& p) {
    if (!after) return true;
    if (order == SortOrder::kNameAsc) {
      if (p.name != after->text_key) return p.name > after->text_key;
    } else if (SortKey(p, order) != after->key) {
      return SortKey(p, order) > after->key;
    }
    return p.id > after->id;
  };
  std::erase_if(matches, [&](const auto& p) { return !is_after_cursor(*p); });
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, kMaxPageSize);
  const std::size_t take = std::min(limit, matches.size());
  std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(take),
                    matches.end(), [&](const auto& a, const auto& b) { return less(*a, *b); });
  ListPage page;
  page.items.reserve(take);
  for (std::size_t i = 0; i < take; ++i) page.items.push_back(View(*matches[i]));
  if (matches.size() > take && take > 0) page.next_cursor = EncodeCursor(*matches[take - 1], order);
  return page;
}

}  // namespace rocketmart::catalog
