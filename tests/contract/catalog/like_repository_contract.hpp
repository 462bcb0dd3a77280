// The LikeRepository contract (ports/shopping_repository.hpp), checked through the port only.
//
// Promise: a member likes a product at most once; like and unlike are idempotent and toggle flips,
// each answering the product's count as committed with the change and the member's like after it.
// Every change carries a sequence number that orders the changes of one product in commit order,
// across every instance over the same store (so an in-memory view fed by several instances can
// keep the newest). Counts stay exact under parallel changes. Unknown or retired products cannot
// be changed (kNotFound); likes of a product retired later stay. LikedBy lists a member's own
// likes, most recent first, up to the limit; LoadLikes every like with each product's count and
// latest sequence number (one snapshot); both read the latest commit.
#pragma once

#include <map>
#include <mutex>
#include <random>
#include <set>

#include "contract/catalog/catalog_store.hpp"

namespace rocketmart::catalog::contract {

class LikeRepositoryContract : public CatalogContractTest {
 protected:
  Result<LikeChange> Change(CatalogStoreInstance& instance, std::int64_t member,
                            std::int64_t product, LikeOp op, std::int64_t second = 1) {
    return Await(instance.likes().ChangeLike(member, product, op, At(second)));
  }
  std::vector<std::int64_t> LikedBy(CatalogStoreInstance& instance, std::int64_t member,
                                    std::size_t limit = 100) {
    auto likes = Await(instance.likes().LikedBy(member, limit));
    EXPECT_TRUE(likes.ok());
    std::vector<std::int64_t> out;
    if (likes.ok()) {
      for (const Like& like : *likes) out.push_back(like.product_id);
    }
    return out;
  }
  std::set<std::pair<std::int64_t, std::int64_t>> AllLikes(CatalogStoreInstance& instance) {
    const auto loaded = instance.likes().LoadLikes().likes;
    std::set<std::pair<std::int64_t, std::int64_t>> out(loaded.begin(), loaded.end());
    EXPECT_EQ(out.size(), loaded.size()) << "a like loaded twice";
    return out;
  }
};

TEST_P(LikeRepositoryContract, ALikeIsCountedOnceAndLikingAgainChangesNothing) {
  const std::int64_t p = NewProduct();
  auto first = Change(*store_, 7, p, LikeOp::kLike);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->likes, 1);
  EXPECT_TRUE(first->liked);
  auto again = Change(*other_, 7, p, LikeOp::kLike);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->likes, 1);
  EXPECT_TRUE(again->liked);
  auto second_member = Change(*store_, 8, p, LikeOp::kLike);
  EXPECT_EQ(second_member->likes, 2);
  EXPECT_EQ(AllLikes(*other_), (std::set<std::pair<std::int64_t, std::int64_t>>{{7, p}, {8, p}}));
}

TEST_P(LikeRepositoryContract, UnlikeIsIdempotentAndToggleFlips) {
  const std::int64_t p = NewProduct();
  ASSERT_TRUE(Change(*store_, 7, p, LikeOp::kLike).ok());
  ASSERT_TRUE(Change(*store_, 8, p, LikeOp::kLike).ok());
  auto unliked = Change(*store_, 7, p, LikeOp::kUnlike);
  ASSERT_TRUE(unliked.ok());
  EXPECT_EQ(unliked->likes, 1);
  EXPECT_FALSE(unliked->liked);
  auto again = Change(*other_, 7, p, LikeOp::kUnlike);
  EXPECT_EQ(again->likes, 1);
  EXPECT_FALSE(again->liked);
  auto on = Change(*other_, 7, p, LikeOp::kToggle);
  EXPECT_EQ(on->likes, 2);
  EXPECT_TRUE(on->liked);
  auto off = Change(*store_, 7, p, LikeOp::kToggle);
  EXPECT_EQ(off->likes, 1);
  EXPECT_FALSE(off->liked);
  EXPECT_EQ(AllLikes(*store_), (std::set<std::pair<std::int64_t, std::int64_t>>{{8, p}}));
}

TEST_P(LikeRepositoryContract, UnknownAndRetiredProductsCannotBeChanged) {
  const std::int64_t p = NewProduct();
  ASSERT_TRUE(Change(*store_, 7, p, LikeOp::kLike).ok());
  RetireProduct(p);
  for (const std::int64_t target : {p, p + 1000}) {
    for (LikeOp op : {LikeOp::kLike, LikeOp::kUnlike, LikeOp::kToggle}) {
      auto r = Change(*other_, 9, target, op);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, Errc::kNotFound);
    }
  }
  // The retired product's likes stay (history).
  EXPECT_EQ(AllLikes(*store_), (std::set<std::pair<std::int64_t, std::int64_t>>{{7, p}}));
  EXPECT_EQ(LikedBy(*store_, 7), std::vector<std::int64_t>{p});
}

TEST_P(LikeRepositoryContract, LikedByListsTheMembersOwnLikesMostRecentFirstUpToTheLimit) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b"), c = NewProduct("c");
  ASSERT_TRUE(Change(*store_, 7, a, LikeOp::kLike, 10).ok());
  ASSERT_TRUE(Change(*other_, 7, b, LikeOp::kLike, 30).ok());
  ASSERT_TRUE(Change(*store_, 7, c, LikeOp::kLike, 20).ok());
  ASSERT_TRUE(Change(*store_, 8, a, LikeOp::kLike, 40).ok());
  EXPECT_EQ(LikedBy(*other_, 7), (std::vector<std::int64_t>{b, c, a}));
  EXPECT_EQ(LikedBy(*store_, 7, 2), (std::vector<std::int64_t>{b, c}));
  EXPECT_EQ(LikedBy(*store_, 8), std::vector<std::int64_t>{a});
  EXPECT_TRUE(LikedBy(*store_, 9).empty());
  auto likes = Await(store_->likes().LikedBy(7, 1));
  ASSERT_TRUE(likes.ok());
  ASSERT_EQ(likes->size(), 1u);
  EXPECT_EQ((*likes)[0].liked_at, At(30));
  // Liking again keeps the like's time; unliking removes it.
  ASSERT_TRUE(Change(*store_, 7, a, LikeOp::kLike, 50).ok());
  ASSERT_TRUE(Change(*store_, 7, c, LikeOp::kUnlike, 50).ok());
  EXPECT_EQ(LikedBy(*other_, 7), (std::vector<std::int64_t>{b, a}));
}

// What an in-memory view relies on to apply changes from several instances out of order.
TEST_P(LikeRepositoryContract, SequenceNumbersOrderAProductsChangesAcrossInstances) {
  const std::int64_t p = NewProduct();
  std::uint64_t last = 0;
  for (int i = 0; i < 6; ++i) {
    CatalogStoreInstance& instance = Instance(i);
    const LikeOp op = i % 3 == 2 ? LikeOp::kUnlike : LikeOp::kLike;
    auto change = Change(instance, 7 + i % 2, p, op);
    ASSERT_TRUE(change.ok());
    EXPECT_GT(change->seq, last) << "change " << i << " on instance " << i % 2;
    last = change->seq;
  }
}

// 8 callers on two instances, 150 random like/unlike/toggle each, on 3 products by 6 members.
// Per product, the change with the highest sequence number answered the final count, which is the
// number of likes stored; per member, their last change on a product says whether the like is
// stored; sequence numbers of one product are never answered twice.
TEST_P(LikeRepositoryContract, ParallelChangesFromTwoInstancesKeepCountsExact) {
  const std::vector<std::int64_t> products = {NewProduct("a"), NewProduct("b"), NewProduct("c")};
  constexpr int kMembers = 6;
  struct Answered {
    std::int64_t member;
    LikeChange change;
  };
  std::mutex mu;
  std::map<std::int64_t, std::map<std::uint64_t, Answered>> by_product;  // product -> seq -> change
  std::atomic<int> failures{0};
  RunTogether(8, [&](int caller) {
    std::mt19937 rng(static_cast<unsigned>(caller) * 7919u + 1u);
    for (int i = 0; i < 150; ++i) {
      const std::int64_t product = products[rng() % products.size()];
      const std::int64_t member = 100 + static_cast<std::int64_t>(rng() % kMembers);
      const LikeOp op = static_cast<LikeOp>(rng() % 3);
      auto change = Change(Instance(caller), member, product, op);
      if (!change.ok()) {
        ++failures;
        continue;
      }
      std::lock_guard lock(mu);
      EXPECT_TRUE(by_product[product].emplace(change->seq, Answered{member, *change}).second)
          << "sequence number " << change->seq << " answered twice for product " << product;
    }
  });
  ASSERT_EQ(failures.load(), 0);
  const auto stored = AllLikes(*other_);
  // The snapshot's counts and sequence numbers are the last committed change's.
  std::map<std::int64_t, ProductLikes> snapshot;
  for (const ProductLikes& p : store_->likes().LoadLikes().products) snapshot[p.product_id] = p;
  for (const std::int64_t product : products) {
    const auto& changes = by_product[product];
    if (changes.empty()) continue;
    std::int64_t rows = 0;
    for (const auto& like : stored) rows += like.second == product ? 1 : 0;
    EXPECT_EQ(changes.rbegin()->second.change.likes, rows) << "product " << product;
    EXPECT_EQ(snapshot[product].likes, rows) << "product " << product;
    EXPECT_EQ(snapshot[product].seq, changes.rbegin()->first) << "product " << product;
    std::map<std::int64_t, bool> last_by_member;
    for (const auto& [seq, answered] : changes) {
      last_by_member[answered.member] = answered.change.liked;
    }
    for (const auto& [member, liked] : last_by_member) {
      EXPECT_EQ(stored.contains({member, product}), liked)
          << "member " << member << " product " << product;
    }
  }
  for (std::int64_t member = 100; member < 100 + kMembers; ++member) {
    std::set<std::int64_t> listed;
    for (const std::int64_t product : LikedBy(*store_, member)) listed.insert(product);
    std::set<std::int64_t> expected;
    for (const auto& like : stored) {
      if (like.first == member) expected.insert(like.second);
    }
    EXPECT_EQ(listed, expected) << "member " << member;
  }
}

}  // namespace rocketmart::catalog::contract
