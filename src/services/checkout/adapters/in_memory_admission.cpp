#include "services/checkout/adapters/in_memory_admission.hpp"

#include <functional>

namespace rocketmart::checkout {

ProductCounter& InMemoryAdmission::Counter(std::int64_t product_id) {
  std::lock_guard lock(products_mutex_);
  auto& slot = products_[product_id];
  if (!slot) slot = std::make_unique<Slot>(product_id);
  return *slot;
}

boost::asio::awaitable<bool> InMemoryAdmission::KeyUsed(std::int64_t member_id,
                                                        std::string_view key) {
  co_return KeyKnown(member_id, key);
}

boost::asio::awaitable<AdmitAnswer> InMemoryAdmission::Admit(std::int64_t member_id,
                                                             std::span<const AdmissionLine> lines,
                                                             std::string_view key) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Status st = Of(lines[i]).Admit(member_id, lines[i].quantity, lines[i].per_member_limit);
    if (!st.ok()) {
      for (std::size_t j = 0; j < i; ++j) Of(lines[j]).Withdraw(member_id, lines[j].quantity);
      co_return AdmitAnswer{std::move(st)};
    }
  }
  // Recorded before the caller's effect can exist, so a retry never misses it; only for admitted
  // purchases, so a storm of refused requests leaves nothing behind.
  if (!key.empty() && !AddKeyIfNew(member_id, key)) {
    for (const AdmissionLine& line : lines) Of(line).Withdraw(member_id, line.quantity);
    co_return AdmitAnswer{Ok(), true};
  }
  co_return AdmitAnswer{};
}

void InMemoryAdmission::Settle(std::span<const AdmissionLine> lines) {
  for (const AdmissionLine& line : lines) Of(line).Settle();
}

void InMemoryAdmission::Withdraw(std::int64_t member_id, std::span<const AdmissionLine> lines,
                                 std::string_view key) {
  for (const AdmissionLine& line : lines) Of(line).Withdraw(member_id, line.quantity);
  if (!key.empty()) ReleaseKey(member_id, key);
}

void InMemoryAdmission::BeginReturn() {
  // The generation first: a rebuild reads it before it looks for returns in flight.
  return_generation_.fetch_add(1, std::memory_order_seq_cst);
  returns_in_flight_.fetch_add(1, std::memory_order_seq_cst);
}

void InMemoryAdmission::Return(std::int64_t member_id, std::span<const AdmissionLine> lines) {
  for (const AdmissionLine& line : lines) Of(line).GiveBack(member_id, line.quantity);
}

void InMemoryAdmission::EndReturn() {
  returns_in_flight_.fetch_sub(1, std::memory_order_seq_cst);
}

std::uint64_t InMemoryAdmission::KeyHash(std::int64_t member_id, std::string_view key) {
  std::uint64_t h = std::hash<std::string_view>{}(key);
  // Mixes the member in (boost::hash_combine's step) so equal keys of two members differ.
  h ^= static_cast<std::uint64_t>(member_id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

bool InMemoryAdmission::KeyKnown(std::int64_t member_id, std::string_view key) const {
  std::shared_lock lock(keys_mutex_);
  return keys_.contains(KeyHash(member_id, key));
}

bool InMemoryAdmission::AddKeyIfNew(std::int64_t member_id, std::string_view key) {
  std::unique_lock lock(keys_mutex_);
  return keys_.try_emplace(KeyHash(member_id, key), 1).second;
}

boost::asio::awaitable<bool> InMemoryAdmission::ClaimKey(std::int64_t member_id,
                                                         std::string_view key) {
  co_return AddKeyIfNew(member_id, key);
}

void InMemoryAdmission::ReleaseKey(std::int64_t member_id, std::string_view key) {
  std::unique_lock lock(keys_mutex_);
  auto it = keys_.find(KeyHash(member_id, key));
  if (it != keys_.end() && --it->second == 0) keys_.erase(it);
}

void InMemoryAdmission::ForgetKeys(std::span<const IdempotencyKeyRef> keys) {
  std::unique_lock lock(keys_mutex_);
  for (const IdempotencyKeyRef& k : keys) {
    auto it = keys_.find(KeyHash(k.member_id, k.key));
    if (it != keys_.end() && --it->second == 0) keys_.erase(it);
  }
}

void InMemoryAdmission::KeepKey(std::int64_t member_id, std::string_view key) {
  // Counted: two records whose keys share a hash are forgotten one at a time.
  std::unique_lock lock(keys_mutex_);
  ++keys_[KeyHash(member_id, key)];
}

boost::asio::awaitable<std::optional<RebuildToken>> InMemoryAdmission::BeginRebuild(
    ProductCounter& counter) {
  // The return generation before the returns in flight (see BeginReturn).
  const std::uint64_t returns = return_generation_.load(std::memory_order_seq_cst);
  if (returns_in_flight_.load(std::memory_order_seq_cst) != 0) co_return std::nullopt;
  const auto product = static_cast<Slot&>(counter).counter.QuietGeneration();
  if (!product) co_return std::nullopt;
  co_return RebuildToken{*product, returns};
}

boost::asio::awaitable<bool> InMemoryAdmission::FinishRebuild(ProductCounter& counter,
                                                              RebuildToken token,
                                                              const StockSnapshot& snapshot) {
  // A return that began after the token (its change may or may not be in the snapshot) or is
  // still going: not now.
  if (returns_in_flight_.load(std::memory_order_seq_cst) != 0 ||
      return_generation_.load(std::memory_order_seq_cst) != token.return_generation) {
    co_return false;
  }
  co_return static_cast<Slot&>(counter).counter.ResetIfUnchanged(
      token.product_generation, snapshot.available, snapshot.member_units);
}

std::int64_t InMemoryAdmission::MemberUnits(std::int64_t product_id, std::int64_t member_id) {
  return static_cast<Slot&>(Counter(product_id)).counter.MemberUnits(member_id);
}

}  // namespace rocketmart::checkout
