// The ProductRepository contract (ports/product_repository.hpp), checked through the port only.
//
// Promise: Insert stores every field of a new product under a fresh id, at version 1. Update
// applies only the given fields on top of the stored product and bumps its version once, in one
// atomic read-modify-write, so parallel updates, from any number of instances, never lose one
// another; an update that changes nothing keeps the version. Retire marks the product retired
// (kept, with a new version) exactly once. Unknown or retired products are kNotFound for both.
// LoadAll, on any instance, returns every product ever stored as its last answered write left it.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "contract/catalog/catalog_store.hpp"

namespace rocketmart::catalog::contract {

class ProductRepositoryContract : public CatalogContractTest {
 protected:
  std::optional<Product> Loaded(CatalogStoreInstance& instance, std::int64_t id) {
    for (Product& p : instance.products().LoadAll()) {
      if (p.id == id) return std::move(p);
    }
    return std::nullopt;
  }
};

inline void ExpectSameProduct(const Product& a, const Product& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.price, b.price);
  EXPECT_EQ(a.image_url, b.image_url);
  EXPECT_EQ(a.initial_stock, b.initial_stock);
  EXPECT_EQ(a.retired, b.retired);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.version, b.version);
}

TEST_P(ProductRepositoryContract, InsertStoresEveryFieldUnderAFreshIdAtVersionOne) {
  Product draft = Draft("Alpha", 1234, 7);
  draft.description = "two\nlines, ünïcode";
  auto a = Await(store_->products().Insert(draft));
  auto b = Await(store_->products().Insert(Draft("Beta")));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_GT(a->id, 0);
  EXPECT_NE(a->id, b->id);
  draft.id = a->id;
  ExpectSameProduct(*a, draft);
  EXPECT_FALSE(a->retired);
  EXPECT_EQ(a->version, 1);
  // Answered means stored: another instance loads it as answered.
  auto loaded = Loaded(*other_, a->id);
  ASSERT_TRUE(loaded);
  ExpectSameProduct(*loaded, *a);
  EXPECT_TRUE(Loaded(*other_, b->id));
}

TEST_P(ProductRepositoryContract, UpdateAppliesOnlyTheGivenFieldsAndBumpsTheVersionOnce) {
  auto created = Await(store_->products().Insert(Draft("Alpha", 100)));
  ASSERT_TRUE(created.ok());
  ProductChanges changes;
  changes.price = 250;
  auto updated = Await(store_->products().Update(created->id, changes, At(5)));
  ASSERT_TRUE(updated.ok());
  Product expected = *created;
  expected.price = 250;
  expected.updated_at = At(5);
  expected.version = 2;
  ExpectSameProduct(*updated, expected);
  ProductChanges more;
  more.name = "Alpha 2";
  more.image_url = "";
  auto again = Await(other_->products().Update(created->id, more, At(6)));
  ASSERT_TRUE(again.ok());
  expected.name = "Alpha 2";
  expected.image_url = "";
  expected.updated_at = At(6);
  expected.version = 3;
  ExpectSameProduct(*again, expected);
  ExpectSameProduct(*Loaded(*store_, created->id), expected);
}

TEST_P(ProductRepositoryContract, AnUpdateThatChangesNothingKeepsTheVersion) {
  auto created = Await(store_->products().Insert(Draft("Alpha", 100)));
  ASSERT_TRUE(created.ok());
  ProductChanges same;
  same.price = 100;
  same.name = "Alpha";
  auto updated = Await(store_->products().Update(created->id, same, At(9)));
  ASSERT_TRUE(updated.ok());
  ExpectSameProduct(*updated, *created);
  ExpectSameProduct(*Loaded(*other_, created->id), *created);
}

TEST_P(ProductRepositoryContract, RetireKeepsTheProductRetiredWithANewVersion) {
  auto created = Await(store_->products().Insert(Draft("Alpha")));
  ASSERT_TRUE(created.ok());
  auto retired = Await(store_->products().Retire(created->id, At(3)));
  ASSERT_TRUE(retired.ok());
  Product expected = *created;
  expected.retired = true;
  expected.updated_at = At(3);
  expected.version = 2;
  ExpectSameProduct(*retired, expected);
  ExpectSameProduct(*Loaded(*other_, created->id), expected);
}

TEST_P(ProductRepositoryContract, FindAnswersTheStoredProductRetiredOnesIncluded) {
  auto created = Await(store_->products().Insert(Draft("Alpha")));
  ASSERT_TRUE(created.ok());
  auto found = Await(other_->products().Find(created->id));
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value()) << "another instance finds what one inserted";
  ExpectSameProduct(**found, *created);
  ASSERT_TRUE(Await(store_->products().Retire(created->id, At(3))).ok());
  auto retired = Await(other_->products().Find(created->id));
  ASSERT_TRUE(retired.ok() && retired->has_value());
  EXPECT_TRUE((*retired)->retired);
  EXPECT_EQ((*retired)->version, 2);
  auto unknown = Await(other_->products().Find(created->id + 1000));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

TEST_P(ProductRepositoryContract, UnknownAndRetiredProductsAreNotFoundForUpdateAndRetire) {
  const std::int64_t id = NewProduct();
  RetireProduct(id);
  ProductChanges changes;
  changes.price = 5;
  for (const std::int64_t target : {id, id + 1000}) {
    auto updated = Await(store_->products().Update(target, changes, At(4)));
    ASSERT_FALSE(updated.ok());
    EXPECT_EQ(updated.error().code, Errc::kNotFound);
    auto retired = Await(store_->products().Retire(target, At(4)));
    ASSERT_FALSE(retired.ok());
    EXPECT_EQ(retired.error().code, Errc::kNotFound);
  }
  auto loaded = Loaded(*other_, id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 2) << "a refused write changes nothing";
  EXPECT_NE(loaded->price, 5);
}

// Read-modify-write atomicity: 8 callers on two instances update one product in parallel, each
// always changing a field (names and descriptions unique per call). Every update lands on top of
// the one before: the versions answered are exactly 2..N+1, and the stored product carries, for
// each field, the value of the last update (highest version) that set it.
TEST_P(ProductRepositoryContract, ParallelUpdatesFromTwoInstancesLoseNothing) {
  auto created = Await(store_->products().Insert(Draft("start")));
  ASSERT_TRUE(created.ok());
  constexpr int kCallers = 8;
  constexpr int kUpdatesEach = 25;
  std::mutex mu;
  std::map<std::int64_t, std::pair<bool, std::string>> by_version;  // version -> (is name, value)
  std::atomic<int> failures{0};
  RunTogether(kCallers, [&](int caller) {
    CatalogStoreInstance& instance = Instance(caller);
    for (int i = 0; i < kUpdatesEach; ++i) {
      const bool name = caller % 4 < 2;
      const std::string value = "c" + std::to_string(caller) + "-" + std::to_string(i);
      ProductChanges changes;
      if (name) {
        changes.name = value;
      } else {
        changes.description = value;
      }
      auto updated = Await(instance.products().Update(created->id, changes, At(10 + i)));
      if (!updated.ok()) {
        ++failures;
        continue;
      }
      std::lock_guard lock(mu);
      EXPECT_TRUE(by_version.emplace(updated->version, std::make_pair(name, value)).second)
          << "version " << updated->version << " answered twice";
    }
  });
  ASSERT_EQ(failures.load(), 0);
  const std::int64_t total = kCallers * kUpdatesEach;
  ASSERT_EQ(static_cast<std::int64_t>(by_version.size()), total);
  EXPECT_EQ(by_version.begin()->first, 2);
  EXPECT_EQ(by_version.rbegin()->first, total + 1);
  std::string last_name = "start", last_description = "about start";
  for (const auto& [version, change] : by_version) {
    (change.first ? last_name : last_description) = change.second;
  }
  for (CatalogStoreInstance* instance :
       {static_cast<CatalogStoreInstance*>(store_.get()), other_.get()}) {
    auto stored = Loaded(*instance, created->id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->version, total + 1);
    EXPECT_EQ(stored->name, last_name);
    EXPECT_EQ(stored->description, last_description);
  }
}

TEST_P(ProductRepositoryContract, ParallelRetiresFromTwoInstancesRetireOnce) {
  const std::int64_t id = NewProduct();
  std::atomic<int> retired{0}, not_found{0};
  RunTogether(8, [&](int caller) {
    auto r = Await(Instance(caller).products().Retire(id, At(2)));
    if (r.ok()) {
      ++retired;
    } else if (r.error().code == Errc::kNotFound) {
      ++not_found;
    }
  });
  EXPECT_EQ(retired.load(), 1);
  EXPECT_EQ(not_found.load(), 7);
  auto loaded = Loaded(*store_, id);
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->retired);
  EXPECT_EQ(loaded->version, 2);
}

TEST_P(ProductRepositoryContract, ParallelInsertsFromTwoInstancesGetDistinctIds) {
  std::mutex mu;
  std::set<std::int64_t> ids;
  RunTogether(8, [&](int caller) {
    for (int i = 0; i < 10; ++i) {
      auto r =
          Await(Instance(caller).products().Insert(Draft("p" + std::to_string(caller * 100 + i))));
      ASSERT_TRUE(r.ok());
      std::lock_guard lock(mu);
      EXPECT_TRUE(ids.insert(r->id).second) << "id " << r->id << " given twice";
    }
  });
  EXPECT_EQ(ids.size(), 80u);
  std::set<std::int64_t> loaded;
  for (const Product& p : other_->products().LoadAll()) loaded.insert(p.id);
  EXPECT_EQ(loaded, ids);
}

}  // namespace rocketmart::catalog::contract
