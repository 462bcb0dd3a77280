// The in-memory view of likes: a count per product and the set of (member, product) likes, so
// product reads (likes, likedByMe, sort=likes) never touch the disk.
//
// Correctness under concurrency: the database is the truth and every committed change carries a
// sequence number that follows the product's commit order (LikeChange::seq). Coroutines resume in
// any order, so a change is applied only if it is newer than what the index holds for that product
// / that member's like. A member's entry is kept while any of their changes to it is in flight
// (Begin/Apply/ Abandon), even when unliked, so a late, older "liked" cannot resurrect it; once
// nothing is in flight an unliked entry is dropped, so memory stays proportional to the likes that
// exist (about 64 bytes each; see docs/shopping.md).
//
// Thread-safety: every method may be called concurrently (one shared_mutex; reads share it).
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "services/catalog/domain/shopping.hpp"

namespace rocketmart::catalog {

class LikeIndex {
 public:
  // Start-up: every stored (member_id, product_id) like.
  void Load(const std::vector<std::pair<std::int64_t, std::int64_t>>& likes);

  // Around one durable change: Begin before submitting it, then exactly one of Apply (it
  // committed) or Abandon (it did not).
  void Begin(std::int64_t member_id, std::int64_t product_id);
  void Apply(std::int64_t member_id, std::int64_t product_id, const LikeChange& change);
  void Abandon(std::int64_t member_id, std::int64_t product_id);

  std::int64_t Count(std::int64_t product_id) const;
  bool Liked(std::int64_t member_id, std::int64_t product_id) const;
  // Counts for many products under one lock (list sorting).
  void Counts(std::vector<std::pair<std::int64_t, std::int64_t>>& product_and_count) const;
  std::size_t LikeEntries() const;

 private:
  struct Key {
    std::int64_t member_id;
    std::int64_t product_id;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k.member_id) *
                                            0x9E3779B97F4A7C15ULL ^
                                        static_cast<std::uint64_t>(k.product_id));
    }
  };
  struct MemberLike {
    bool liked = false;
    std::uint32_t in_flight = 0;
    std::uint64_t seq = 0;
  };
  struct ProductCount {
    std::int64_t count = 0;
    std::uint64_t seq = 0;
  };

  void Release(std::unordered_map<Key, MemberLike, KeyHash>::iterator it);

  mutable std::shared_mutex mutex_;
  std::unordered_map<Key, MemberLike, KeyHash> likes_;
  std::unordered_map<std::int64_t, ProductCount> counts_;
};

}  // namespace rocketmart::catalog
