#include "infra/async/write.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"

namespace rocketmart::checkout {

using storage::Database;

std::vector<std::pair<std::int64_t, Sale>> SqliteSaleStore::LoadSales() {
  std::vector<std::pair<std::int64_t, Sale>> sales;
  writer_.RunSync([&sales](Database& db) {
    auto s = db.Prepare("SELECT product_id, starts_at_ms, ends_at_ms, per_member_limit FROM sales");
    while (s.Step()) {
      sales.emplace_back(s.Int64(0),
                         Sale{FromUnixMillis(s.Int64(1)), FromUnixMillis(s.Int64(2)), s.Int64(3)});
    }
  });
  return sales;
}

boost::asio::awaitable<Status> SqliteSaleStore::SaveSale(std::int64_t product_id, Sale sale,
                                                         TimePoint now) {
  auto job = [product_id, sale, now](Database& db) -> Result<bool> {
    auto& s = db.Cached(
        "INSERT INTO sales (product_id, starts_at_ms, ends_at_ms, per_member_limit, updated_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_id) DO UPDATE SET "
        "starts_at_ms = ?2, ends_at_ms = ?3, per_member_limit = ?4, updated_at_ms = ?5");
    s.BindInt64(1, product_id)
        .BindInt64(2, ToUnixMillis(sale.starts_at))
        .BindInt64(3, ToUnixMillis(sale.ends_at))
        .BindInt64(4, sale.per_member_limit)
        .BindInt64(5, ToUnixMillis(now));
    s.Step();
    s.Reset();
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

}  // namespace rocketmart::checkout
