#include "services/gateway/adapters/in_memory_token_denylist.hpp"

#include <algorithm>
#include <mutex>

namespace rocketmart::gateway {

void InMemoryTokenDenylist::Deny(std::int64_t member_id, Denials Entry::*list, std::string id,
                                 TimePoint expires_at) {
  const TimePoint now = clock_.Now();
  std::unique_lock lock(mu_);
  Denials& denied = members_[member_id].*list;
  std::erase_if(denied, [now](const auto& d) { return d.second <= now; });
  const auto same =
      std::find_if(denied.begin(), denied.end(), [&id](const auto& d) { return d.first == id; });
  if (same == denied.end()) {
    denied.emplace_back(std::move(id), expires_at);
  } else {
    same->second = std::max(same->second, expires_at);  // idempotent: one entry per id
  }
  empty_.store(false, std::memory_order_release);
}

boost::asio::awaitable<Status> InMemoryTokenDenylist::DenyToken(std::int64_t member_id,
                                                                std::string token_id,
                                                                TimePoint expires_at) {
  Deny(member_id, &Entry::denied, std::move(token_id), expires_at);
  co_return Ok();
}

boost::asio::awaitable<Status> InMemoryTokenDenylist::DenyFamily(std::int64_t member_id,
                                                                 std::string family_id,
                                                                 TimePoint expires_at) {
  if (!family_id.empty()) Deny(member_id, &Entry::families, std::move(family_id), expires_at);
  co_return Ok();
}

boost::asio::awaitable<Status> InMemoryTokenDenylist::InvalidateBefore(std::int64_t member_id,
                                                                       TimePoint valid_after) {
  {
    std::unique_lock lock(mu_);
    Entry& e = members_[member_id];
    e.valid_after = std::max(e.valid_after, valid_after);
    empty_.store(false, std::memory_order_release);
  }
  co_return Ok();
}

bool InMemoryTokenDenylist::IsRevoked(std::int64_t member_id, std::string_view token_id,
                                      TimePoint issued_at) const {
  if (empty_.load(std::memory_order_acquire)) return false;
  std::shared_lock lock(mu_);
  const auto it = members_.find(member_id);
  if (it == members_.end()) return false;
  if (issued_at < it->second.valid_after) return true;
  for (const auto& d : it->second.denied) {
    if (d.first == token_id) return true;
  }
  const std::size_t dot = token_id.find('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view family = token_id.substr(0, dot);
  for (const auto& f : it->second.families) {
    if (f.first == family) return true;
  }
  return false;
}

}  // namespace rocketmart::gateway
