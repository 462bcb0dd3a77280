#include "infra/async/write.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"

namespace rocketmart::checkout {

using storage::Database;

void SqliteIdempotencyStore::LoadKeys(
    const std::function<void(std::int64_t, std::string_view)>& visit) {
  writer_.RunSync([&visit](Database& db) {
    auto s = db.Prepare("SELECT member_id, key FROM idempotency");
    while (s.Step()) visit(s.Int64(0), s.TextView(1));
  });
}

boost::asio::awaitable<Result<std::optional<IdempotencyEntry>>> SqliteIdempotencyStore::Find(
    std::int64_t member_id, std::string key) {
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(
      "SELECT request_hash, operation, hold_id FROM idempotency WHERE member_id = ? AND key = ?");
  s.BindInt64(1, member_id).BindText(2, key);
  std::optional<IdempotencyEntry> out;
  if (s.Step()) out = IdempotencyEntry{s.Text(0), s.Text(1), s.Int64(2)};
  s.Reset();
  co_return out;
}

boost::asio::awaitable<Result<std::vector<IdempotencyKeyRef>>> SqliteIdempotencyStore::Forget(
    TimePoint created_before, std::size_t limit) {
  auto job = [created_before, limit](Database& db) -> Result<std::vector<IdempotencyKeyRef>> {
    auto& s = db.Cached(
        "DELETE FROM idempotency WHERE (member_id, key) IN ("
        "  SELECT i.member_id, i.key FROM idempotency i JOIN holds h ON h.id = i.hold_id"
        "  WHERE i.created_at_ms < ?1 AND h.status NOT IN ('ACTIVE', 'PAYING')"
        "  ORDER BY i.created_at_ms LIMIT ?2) "
        "RETURNING member_id, key");
    s.BindInt64(1, ToUnixMillis(created_before)).BindInt64(2, static_cast<std::int64_t>(limit));
    std::vector<IdempotencyKeyRef> forgotten;
    while (s.Step()) forgotten.push_back({s.Int64(0), s.Text(1)});
    s.Reset();
    return forgotten;
  };
  co_return co_await async::Write<std::vector<IdempotencyKeyRef>>(writer_, std::move(job));
}

}  // namespace rocketmart::checkout
