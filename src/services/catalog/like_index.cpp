#include "services/catalog/like_index.hpp"

#include <mutex>

namespace rocketmart::catalog {

void LikeIndex::Load(const LikeSnapshot& snapshot) {
  std::unique_lock lock(mutex_);
  for (const ProductLikes& p : snapshot.products) {
    counts_[p.product_id] = ProductCount{p.likes, p.seq, p.seq};
  }
  likes_.reserve(snapshot.likes.size());
  for (const auto& [member_id, product_id] : snapshot.likes) {
    MemberLike& like = likes_[Key{member_id, product_id}];
    like.liked = true;
    like.seq = counts_[product_id].seq;  // as of the snapshot
  }
}

void LikeIndex::Begin(std::int64_t member_id, std::int64_t product_id) {
  std::unique_lock lock(mutex_);
  ++likes_[Key{member_id, product_id}].in_flight;
}

void LikeIndex::DropIfSettled(Entry it, std::uint64_t delivered) {
  const MemberLike& like = it->second;
  if (like.in_flight == 0 && !like.liked && like.seq <= delivered) likes_.erase(it);
}

void LikeIndex::Apply(std::int64_t member_id, std::int64_t product_id, const LikeChange& change) {
  std::unique_lock lock(mutex_);
  ProductCount& count = counts_[product_id];
  if (change.seq > count.seq) {
    count.count = change.likes;
    count.seq = change.seq;
  }
  auto it = likes_.find(Key{member_id, product_id});
  if (it != likes_.end()) {  // always found: Begin created it
    if (change.seq > it->second.seq) {
      it->second.liked = change.liked;
      it->second.seq = change.seq;
    }
    --it->second.in_flight;
    DropIfSettled(it, count.delivered);
  }
}

void LikeIndex::Abandon(std::int64_t member_id, std::int64_t product_id) {
  std::unique_lock lock(mutex_);
  auto it = likes_.find(Key{member_id, product_id});
  if (it == likes_.end()) return;
  --it->second.in_flight;
  DropIfSettled(it, counts_[product_id].delivered);
}

void LikeIndex::Refresh(std::int64_t member_id, std::int64_t product_id, const LikeChange& change) {
  std::unique_lock lock(mutex_);
  ProductCount& count = counts_[product_id];
  if (change.seq <= count.delivered) return;  // in the index already (or redelivered)
  count.delivered = change.seq;
  if (change.seq > count.seq) {
    count.count = change.likes;
    count.seq = change.seq;
  }
  const Key key{member_id, product_id};
  auto it = likes_.find(key);
  if (it == likes_.end()) {
    // No entry: the member's like is absent as of every change delivered so far, and this one is
    // newer than all of them.
    if (change.liked) likes_.emplace(key, MemberLike{true, 0, change.seq});
    return;
  }
  if (change.seq > it->second.seq) {
    it->second.liked = change.liked;
    it->second.seq = change.seq;
  }
  DropIfSettled(it, count.delivered);
}

std::int64_t LikeIndex::Count(std::int64_t product_id) const {
  std::shared_lock lock(mutex_);
  auto it = counts_.find(product_id);
  return it == counts_.end() ? 0 : it->second.count;
}

bool LikeIndex::Liked(std::int64_t member_id, std::int64_t product_id) const {
  std::shared_lock lock(mutex_);
  auto it = likes_.find(Key{member_id, product_id});
  return it != likes_.end() && it->second.liked;
}

void LikeIndex::Counts(
    std::vector<std::pair<std::int64_t, std::int64_t>>& product_and_count) const {
  std::shared_lock lock(mutex_);
  for (auto& [product_id, count] : product_and_count) {
    auto it = counts_.find(product_id);
    count = it == counts_.end() ? 0 : it->second.count;
  }
}

std::size_t LikeIndex::LikeEntries() const {
  std::shared_lock lock(mutex_);
  return likes_.size();
}

}  // namespace rocketmart::catalog
