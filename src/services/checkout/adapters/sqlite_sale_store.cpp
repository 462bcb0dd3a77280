#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

using storage::Database;

std::vector<StoredSale> SqliteSaleStore::LoadSales() {
  std::vector<StoredSale> sales;
  writer_.RunSync([&sales](Database& db) {
    auto s = db.Prepare(
        "SELECT product_id, starts_at_ms, ends_at_ms, per_member_limit, version FROM sales");
    while (s.Step()) {
      sales.push_back({s.Int64(0),
                       Sale{FromUnixMillis(s.Int64(1)), FromUnixMillis(s.Int64(2)), s.Int64(3)},
                       s.Int64(4)});
    }
  });
  return sales;
}

boost::asio::awaitable<Result<std::int64_t>> SqliteSaleStore::SaveSale(std::int64_t product_id,
                                                                       Sale sale, TimePoint now) {
  // The version is the row's (several processes' writers serialize on SQLite's write lock), and
  // the event commits with the row.
  auto job = [product_id, sale, now](Database& db) -> Result<std::int64_t> {
    auto& s = db.Cached(
        "INSERT INTO sales (product_id, starts_at_ms, ends_at_ms, per_member_limit, updated_at_ms, "
        "version) VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT (product_id) DO UPDATE SET "
        "starts_at_ms = ?2, ends_at_ms = ?3, per_member_limit = ?4, updated_at_ms = ?5, "
        "version = sales.version + 1 RETURNING version");
    s.BindInt64(1, product_id)
        .BindInt64(2, ToUnixMillis(sale.starts_at))
        .BindInt64(3, ToUnixMillis(sale.ends_at))
        .BindInt64(4, sale.per_member_limit)
        .BindInt64(5, ToUnixMillis(now));
    s.Step();
    const std::int64_t version = s.Int64(0);
    s.Reset();
    events::sqlite_outbox::Append(
        db, api::kSaleChanged,
        api::Encode(api::SaleChanged{product_id, sale.starts_at, sale.ends_at,
                                     sale.per_member_limit, version, now}),
        now);
    return version;
  };
  co_return co_await async::Write<std::int64_t>(writer_, std::move(job));
}

}  // namespace rocketmart::checkout
