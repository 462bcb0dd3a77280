// The in-memory view of likes: a count per product and the set of (member, product) likes, so
// product reads (likes, likedByMe, sort=likes) never touch the disk.
//
// Correctness under concurrency: the database is the truth and every committed change carries a
// sequence number that follows the product's commit order (LikeChange::seq), whichever instance
// made it. Two feeds bring changes in: this instance's own, as its requests commit (Begin/Apply/
// Abandon; coroutines resume in any order), and every instance's, from catalog's like.changed
// events (Refresh: a cache refresh, delivered in each product's commit order, possibly again after
// a redelivery). A change is applied only if it is newer than what the index holds for that
// product / that member's like, so neither feed can regress either. A member's unliked entry is
// kept (with its sequence number) while any of their changes to it is in flight and until the
// event feed has passed its sequence number; so a late, older "liked" from either feed cannot
// resurrect it. After that no older event can arrive and it is dropped: memory stays proportional
// to the likes that exist (about 64 bytes each; see docs/shopping.md).
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
  // Start-up: the stored likes and every product's count and sequence number (events up to it
  // are already in the snapshot and change nothing).
  void Load(const LikeSnapshot& snapshot);

  // Around one durable change: Begin before submitting it, then exactly one of Apply (it
  // committed) or Abandon (it did not).
  void Begin(std::int64_t member_id, std::int64_t product_id);
  void Apply(std::int64_t member_id, std::int64_t product_id, const LikeChange& change);
  void Abandon(std::int64_t member_id, std::int64_t product_id);
  // A committed change from the event feed (any instance's, this one's included), delivered in
  // the product's sequence order; an older or redelivered one changes nothing.
  void Refresh(std::int64_t member_id, std::int64_t product_id, const LikeChange& change);

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
    std::uint64_t seq = 0;  // of the change `count` comes from
    // Every change up to this one is in the index already (the snapshot's, then the event
    // feed's, which arrives in order): an entry unliked at or below it can be dropped.
    std::uint64_t delivered = 0;
  };
  using Entry = std::unordered_map<Key, MemberLike, KeyHash>::iterator;

  // Drops the entry when nothing is in flight, it is unliked, and no older change can still come.
  void DropIfSettled(Entry it, std::uint64_t delivered);

  mutable std::shared_mutex mutex_;
  std::unordered_map<Key, MemberLike, KeyHash> likes_;
  std::unordered_map<std::int64_t, ProductCount> counts_;
};

}  // namespace rocketmart::catalog
