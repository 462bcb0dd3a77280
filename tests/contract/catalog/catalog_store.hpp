// What the catalog's port contract suites run against: the storage behind ProductRepository,
// LikeRepository and BasketRepository (one store, as one catalog database holds all three), as a
// factory an adapter provides. A second adapter (PostgreSQL) runs every catalog suite by adding
// its factory to one INSTANTIATE_TEST_SUITE_P line per suite.
//
// Suites assert only through the ports: a store exposes nothing else.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "services/catalog/ports/product_repository.hpp"
#include "services/catalog/ports/shopping_repository.hpp"
#include "support/run_await.hpp"

namespace rocketmart::catalog::contract {

// One instance of the adapters, as one catalog process holds them.
class CatalogStoreInstance {
 public:
  virtual ~CatalogStoreInstance() = default;
  virtual ProductRepository& products() = 0;
  virtual LikeRepository& likes() = 0;
  virtual BasketRepository& baskets() = 0;
};

// Fresh, empty storage with a first instance open; OpenInstance() opens another instance over the
// same storage (a second process) for the concurrency clauses. Instances are closed before the
// store.
class CatalogStore : public CatalogStoreInstance {
 public:
  virtual std::unique_ptr<CatalogStoreInstance> OpenInstance() = 0;
};

using CatalogStoreFactory = std::unique_ptr<CatalogStore> (*)();

// Runs fn(0..n-1) on n threads released together.
inline void RunTogether(int n, const std::function<void(int)>& fn) {
  std::latch start(n);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      fn(i);
    });
  }
  for (auto& t : threads) t.join();
}

template <class T>
T Await(boost::asio::awaitable<T> task) {
  return rocketmart::testing::RunAwait(std::move(task));
}

// The base of the catalog suites: a store per test and a second instance over it.
class CatalogContractTest : public ::testing::TestWithParam<CatalogStoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam()();
    other_ = store_->OpenInstance();
  }
  void TearDown() override {
    other_.reset();
    store_.reset();
  }

  // Instance 0 is the store's first, 1 the second: parallel callers alternate between them.
  CatalogStoreInstance& Instance(int i) { return i % 2 == 0 ? *store_ : *other_; }

  static TimePoint At(std::int64_t second) {
    return FromUnixMillis(1'700'000'000'000 + second * 1000);
  }

  Product Draft(std::string name, std::int64_t price = 1000, std::int64_t stock = 10) {
    Product p;
    p.name = std::move(name);
    p.description = "about " + p.name;
    p.price = price;
    p.image_url = "https://img.example/" + p.name + ".png";
    p.initial_stock = stock;
    p.created_at = At(0);
    p.updated_at = At(0);
    p.version = 1;
    return p;
  }

  // A live product, stored through the product port.
  std::int64_t NewProduct(const std::string& name = "product") {
    auto stored = Await(store_->products().Insert(Draft(name)));
    EXPECT_TRUE(stored.ok());
    return stored.ok() ? stored->id : 0;
  }

  void RetireProduct(std::int64_t id) {
    ASSERT_TRUE(Await(store_->products().Retire(id, At(1))).ok());
  }

  std::unique_ptr<CatalogStore> store_;
  std::unique_ptr<CatalogStoreInstance> other_;
};

}  // namespace rocketmart::catalog::contract
