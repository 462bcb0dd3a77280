#include "services/catalog/like_index.hpp"

#include <mutex>

namespace rocketmart::catalog {

void LikeIndex::Load(const std::vector<std::pair<std::int64_t, std::int64_t>>& likes) {
  std::unique_lock lock(mutex_);
  likes_.reserve(likes.size());
  for (const auto& [member_id, product_id] : likes) {
    likes_[Key{member_id, product_id}].liked = true;
    ++counts_[product_id].count;
  }
}

void LikeIndex::Begin(std::int64_t member_id, std::int64_t product_id) {
  std::unique_lock lock(mutex_);
  ++likes_[Key{member_id, product_id}].in_flight;
}

void LikeIndex::Release(std::unordered_map<Key, MemberLike, KeyHash>::iterator it) {
  if (--it->second.in_flight == 0 && !it->second.liked) likes_.erase(it);
}

void LikeIndex::Apply(std::int64_t member_id, std::int64_t product_id, const LikeChange& change) {
  std::unique_lock lock(mutex_);
  auto it = likes_.find(Key{member_id, product_id});
  if (it != likes_.end()) {  // always found: Begin created it
    if (change.seq > it->second.seq) {
      it->second.liked = change.liked;
      it->second.seq = change.seq;
    }
    Release(it);
  }
  ProductCount& count = counts_[product_id];
  if (change.seq > count.seq) {
    count.count = change.likes;
    count.seq = change.seq;
  }
}

void LikeIndex::Abandon(std::int64_t member_id, std::int64_t product_id) {
  std::unique_lock lock(mutex_);
  auto it = likes_.find(Key{member_id, product_id});
  if (it != likes_.end()) Release(it);
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
