// Tokens that verified, by their exact bytes, and what verification found in them (claims, an
// identity). A drop's buyer sends the same token with every attempt, and verifying it (base64,
// HMAC, JSON) each time was a visible part of a sold-out answer. A hit proves what a fresh
// verification would, except expiry, which the caller checks on every request.
//
// Per thread (the request path takes no lock) and per cache object: a thread's entries belong to
// the last object that used them there, so two objects on one thread do not see each other's
// entries (the later use clears them). Bounded: cleared when full.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rocketmart::auth {

// Entries per thread of each token cache (this one, and the gateway's signed internal tokens).
inline constexpr std::size_t kTokenCacheEntries = 4096;

template <class Value>
class VerifiedTokenCache {
 public:
  static constexpr std::size_t kEntries = kTokenCacheEntries;

  VerifiedTokenCache() : owner_(next_owner_.fetch_add(1)) {}

  // The value stored for `token` on this thread, or nullptr.
  const Value* Find(std::string_view token) const {
    auto& map = Local();
    const auto hit = map.find(token);
    return hit == map.end() ? nullptr : &hit->second;
  }
  const Value& Insert(std::string_view token, Value value) const {
    auto& map = Local();
    if (map.size() >= kEntries) map.clear();
    return map.insert_or_assign(std::string(token), std::move(value)).first->second;
  }
  void Erase(std::string_view token) const {
    auto& map = Local();
    if (const auto hit = map.find(token); hit != map.end()) map.erase(hit);
  }

 private:
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Map = std::unordered_map<std::string, Value, TransparentHash, std::equal_to<>>;
  struct PerThread {
    std::uint64_t owner = 0;
    Map map;
  };

  Map& Local() const {
    thread_local PerThread local;
    if (local.owner != owner_) {
      local.map.clear();
      local.owner = owner_;
    }
    return local.map;
  }

  // Never reused, unlike an address: a new object never sees a destroyed one's entries.
  static inline std::atomic<std::uint64_t> next_owner_{1};
  const std::uint64_t owner_;
};

}  // namespace rocketmart::auth
