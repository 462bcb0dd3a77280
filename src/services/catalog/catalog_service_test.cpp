// CatalogService over the real SQLite repository: writes go through the group-commit writer to a
// temporary database file; the clock is fake.
#include "services/catalog/catalog_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/catalog/adapters/catalog_cache_subscriber.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/adapters/sqlite_shopping_repository.hpp"
#include "services/catalog/test_doubles.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::catalog {
namespace {

using testing::RunAwait;

class CatalogServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { writer_->Stop(); }

  void Open() {
    storage::OpenOptions open;
    open.path = dir_.File("catalog.db");
    writer_ = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer_->Connection(), CatalogMigrations());
    writer_->Start();
    readers_ = std::make_unique<storage::ReadConnections>(open);
    repository_ = std::make_unique<SqliteProductRepository>(*writer_);
    likes_ = std::make_unique<SqliteShoppingRepository>(*writer_, *readers_);
    service_ = std::make_unique<CatalogService>(*repository_, *likes_, availability_, clock_);
    service_->Load();
  }

  std::optional<ProductView> Get(std::int64_t id) {
    return RunAwait(service_->Get(id, 0, kNoDeadline)).value();
  }
  Result<ListPage> List(const ListQuery& q) { return RunAwait(service_->List(q, kNoDeadline)); }

  ProductView Create(std::string name, std::int64_t price) {
    auto r = RunAwait(service_->Create({std::move(name), "", price, "", 10}, kNoDeadline));
    EXPECT_TRUE(r.ok());
    return *r;
  }

  testing::TempDir dir_{"catalog"};
  FakeClock clock_;
  std::unique_ptr<storage::GroupCommitWriter> writer_;
  FakeAvailability availability_;
  std::unique_ptr<storage::ReadConnections> readers_;
  std::unique_ptr<SqliteProductRepository> repository_;
  std::unique_ptr<SqliteShoppingRepository> likes_;
  std::unique_ptr<CatalogService> service_;
};

TEST_F(CatalogServiceTest, CreatedProductsAreReadableAndSurviveReopen) {
  auto a = Create("Alpha", 100);
  EXPECT_GT(a.product.id, 0);
  EXPECT_EQ(a.stock, 10);
  ASSERT_TRUE(Get(a.product.id));
  writer_->Stop();
  Open();
  auto again = Get(a.product.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->product.name, "Alpha");
  EXPECT_EQ(again->product.created_at, clock_.Now());
}

TEST_F(CatalogServiceTest, UpdatesBumpVersionAndUnknownIdsAreNotFound) {
  auto a = Create("Alpha", 100);
  clock_.Advance(std::chrono::seconds(5));
  ProductChanges changes;
  changes.price = 250;
  auto updated = RunAwait(service_->Update(a.product.id, changes, kNoDeadline));
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->product.price, 250);
  EXPECT_EQ(updated->product.version, 2);
  EXPECT_EQ(updated->product.updated_at, clock_.Now());
  auto missing = RunAwait(service_->Update(9999, changes, kNoDeadline));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

TEST_F(CatalogServiceTest, ConcurrentUpdatesNeverLoseOneAnother) {
  auto a = Create("Alpha", 100);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ProductChanges changes;
        changes.price = t * 1000 + i;
        auto r = RunAwait(service_->Update(a.product.id, changes, kNoDeadline));
        ASSERT_TRUE(r.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto now = Get(a.product.id);
  ASSERT_TRUE(now);
  // Every update changed the price, so each one bumped the version exactly once.
  EXPECT_EQ(now->product.version, 1 + 8 * 25);
  writer_->Stop();
  Open();
  EXPECT_EQ(Get(a.product.id)->product.version, 1 + 8 * 25);
}

TEST_F(CatalogServiceTest, RetiredProductsDisappearAndStayRetired) {
  auto a = Create("Alpha", 100);
  ASSERT_TRUE(RunAwait(service_->Retire(a.product.id)).ok());
  EXPECT_FALSE(Get(a.product.id));
  auto again = RunAwait(service_->Retire(a.product.id));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kNotFound);
  writer_->Stop();
  Open();
  EXPECT_FALSE(Get(a.product.id));
}

TEST_F(CatalogServiceTest, ListPagesAreStableUnderEverySortOrder) {
  for (int i = 0; i < 23; ++i) {
    Create("item " + std::to_string(i % 7), 100 * (i % 5));
    clock_.Advance(std::chrono::seconds(1));
  }
  for (SortOrder order : {SortOrder::kIdAsc, SortOrder::kNewest, SortOrder::kPriceAsc,
                          SortOrder::kPriceDesc, SortOrder::kNameAsc}) {
    std::vector<std::int64_t> ids;
    ListQuery q;
    q.limit = 4;
    q.sort = order;
    for (int page = 0; page < 20; ++page) {
      auto r = List(q);
      ASSERT_TRUE(r.ok());
      for (const auto& v : r->items) ids.push_back(v.product.id);
      if (r->next_cursor.empty()) break;
      q.cursor = r->next_cursor;
    }
    std::vector<std::int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted.size(), 23u);
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  }
  ListQuery bad;
  bad.cursor = "k12";
  EXPECT_FALSE(List(bad).ok());
}

TEST_F(CatalogServiceTest, SearchIsCaseInsensitive) {
  Create("Rocket Sneakers", 1);
  Create("Moon Hoodie", 1);
  ListQuery q;
  q.search = "rOcKeT";
  auto r = List(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->items.size(), 1u);
  EXPECT_EQ(r->items[0].product.name, "Rocket Sneakers");
}

// Issue 15: a second catalog instance over the same database (its own repositories on the same
// store, its own memory), and the real SQLite bus relaying catalog's outbox to a cache refresh of
// each instance's own, as the composition roots subscribe them.
class TwoCatalogInstancesTest : public CatalogServiceTest {
 protected:
  void SetUp() override {
    CatalogServiceTest::SetUp();
    second_repository_ = std::make_unique<SqliteProductRepository>(*writer_);
    second_likes_ = std::make_unique<SqliteShoppingRepository>(*writer_, *readers_);
    second_ = std::make_unique<CatalogService>(*second_repository_, *second_likes_, availability_,
                                               clock_);
    second_->Load();
    first_cache_ = std::make_unique<CatalogCacheSubscriber>(*service_, "catalog.cache.first");
    second_cache_ = std::make_unique<CatalogCacheSubscriber>(*second_, "catalog.cache.second");
    bus_ = std::make_unique<events::sqlite_outbox::SqliteEventBus>(clock_);
    bus_->AddService("catalog", *writer_, *readers_);
    for (CatalogCacheSubscriber* cache : {first_cache_.get(), second_cache_.get()}) {
      bus_->Subscribe({"catalog", CatalogCacheSubscriber::Topics(), "catalog",
                       events::Delivery::kCacheRefresh, cache});
    }
  }
  void TearDown() override {
    bus_->Stop();
    CatalogServiceTest::TearDown();
  }
  void Deliver() {
    while (bus_->DeliverOnceForTest("catalog")) {
    }
  }
  static std::optional<ProductView> GetOn(CatalogService& on, std::int64_t id,
                                          std::int64_t member = 0) {
    return RunAwait(on.Get(id, member, kNoDeadline)).value();
  }
  // Runs `check` on a third instance that loads the store now and then gets every event still in
  // the outbox replayed onto it, from the start.
  void WithReplayedInstance(const std::function<void(CatalogService&)>& check) {
    SqliteProductRepository repository(*writer_);
    SqliteShoppingRepository likes(*writer_, *readers_);
    CatalogService third(repository, likes, availability_, clock_);
    third.Load();
    CatalogCacheSubscriber cache(third, "catalog.cache.third");
    events::sqlite_outbox::SqliteEventBus replay(clock_);
    replay.AddService("catalog", *writer_, *readers_);
    replay.Subscribe({"catalog", CatalogCacheSubscriber::Topics(), "catalog",
                      events::Delivery::kCacheRefresh, &cache});
    // What the outbox still holds (the first bus prunes what its subscribers passed) is replayed
    // in full; the rest the third instance loaded from the database.
    auto& count = readers_->ForThisThread().Cached("SELECT count(*) FROM outbox");
    const std::uint64_t held = count.Step() ? static_cast<std::uint64_t>(count.Int64(0)) : 0;
    count.Reset();
    while (replay.DeliverOnceForTest("catalog")) {
    }
    EXPECT_EQ(replay.Stats("catalog").delivered, held) << "the outbox was not replayed in full";
    replay.Stop();
    check(third);
  }
  static std::vector<std::int64_t> Listed(CatalogService& on, ListQuery q) {
    auto page = RunAwait(on.List(std::move(q), kNoDeadline));
    EXPECT_TRUE(page.ok());
    std::vector<std::int64_t> ids;
    if (page.ok()) {
      for (const ProductView& v : page->items) ids.push_back(v.product.id);
    }
    return ids;
  }

  std::unique_ptr<SqliteProductRepository> second_repository_;
  std::unique_ptr<SqliteShoppingRepository> second_likes_;
  std::unique_ptr<CatalogService> second_;
  std::unique_ptr<CatalogCacheSubscriber> first_cache_;
  std::unique_ptr<CatalogCacheSubscriber> second_cache_;
  std::unique_ptr<events::sqlite_outbox::SqliteEventBus> bus_;
};

TEST_F(TwoCatalogInstancesTest, AProductCreatedUpdatedOrRetiredOnOneInstanceReachesTheOther) {
  // Created on the first: there at once, on the second once delivered, with every field.
  auto created = RunAwait(service_->Create(
      {"Rocket", "Two\nlines", 1200, "https://img.example/r.png", 10}, kNoDeadline));
  ASSERT_TRUE(created.ok());
  const std::int64_t id = created->product.id;
  ASSERT_TRUE(Get(id));
  EXPECT_FALSE(second_->Exists(id)) << "not delivered yet";
  clock_.Advance(std::chrono::seconds(3));
  Deliver();
  auto seen = GetOn(*second_, id);
  ASSERT_TRUE(seen) << "the second instance never learnt the product";
  EXPECT_EQ(seen->product.name, "Rocket");
  EXPECT_EQ(seen->product.description, "Two\nlines");
  EXPECT_EQ(seen->product.image_url, "https://img.example/r.png");
  EXPECT_EQ(seen->product.price, 1200);
  EXPECT_EQ(seen->product.initial_stock, 10);
  EXPECT_EQ(seen->product.created_at, created->product.created_at);
  EXPECT_EQ(seen->product.updated_at, created->product.updated_at);
  EXPECT_EQ(seen->product.version, 1);
  EXPECT_TRUE(second_->Exists(id));
  ListQuery search;
  search.search = "rocket";
  EXPECT_EQ(Listed(*second_, search), std::vector<std::int64_t>{id});

  // Updated on the second: the first learns it.
  ProductChanges changes;
  changes.price = 900;
  changes.name = "Rocket II";
  ASSERT_TRUE(RunAwait(second_->Update(id, changes, kNoDeadline)).ok());
  EXPECT_EQ(GetOn(*second_, id)->product.price, 900) << "its own write, at once";
  EXPECT_EQ(Get(id)->product.price, 1200) << "the first has not heard yet";
  Deliver();
  EXPECT_EQ(Get(id)->product.price, 900);
  EXPECT_EQ(Get(id)->product.name, "Rocket II");
  EXPECT_EQ(Get(id)->product.description, "Two\nlines");
  EXPECT_EQ(Get(id)->product.version, 2);

  // An older or redelivered product event changes nothing (version 1 and 2 again).
  Product old = created->product;
  service_->RefreshProduct(old, true);
  second_->RefreshProduct(old, true);
  EXPECT_EQ(Get(id)->product.price, 900);
  EXPECT_EQ(GetOn(*second_, id)->product.price, 900);

  // Retired on the first: gone from the second's reads and lists.
  ASSERT_TRUE(RunAwait(service_->Retire(id)).ok());
  EXPECT_TRUE(GetOn(*second_, id));
  Deliver();
  EXPECT_FALSE(GetOn(*second_, id));
  EXPECT_FALSE(second_->Exists(id));
  EXPECT_TRUE(Listed(*second_, search).empty());
  second_->RefreshProduct(old, true);  // an old "live" event cannot bring it back
  EXPECT_FALSE(GetOn(*second_, id));

  // A third instance started now loads the store; replaying every event changes nothing there.
  WithReplayedInstance([&](CatalogService& third) { EXPECT_FALSE(GetOn(third, id)); });
}

// Likes taken concurrently on both instances: after delivery, every count and likedByMe on both is
// the committed truth; a replay of every event from the start onto an instance loaded at the end
// changes nothing.
// A product another instance created a moment ago is served before its event arrives: a miss in
// memory asks the database (the two-instance cluster answered 404 for a like, a wishlist entry or
// the sale an operator set right after the product's creation). A product retired before this
// instance ever heard of it stays unknown; the event, arriving later, changes nothing.
TEST_F(TwoCatalogInstancesTest, AProductCreatedOnTheOtherInstanceIsFoundBeforeItsEvent) {
  auto created = RunAwait(service_->Create({"Comet", "", 900, "", 5}, kNoDeadline));
  ASSERT_TRUE(created.ok());
  const std::int64_t id = created->product.id;
  ASSERT_FALSE(second_->Exists(id)) << "no event delivered";
  auto seen = GetOn(*second_, id);
  ASSERT_TRUE(seen) << "a product in the database answered as unknown";
  EXPECT_EQ(seen->product.name, "Comet");
  EXPECT_EQ(seen->product.price, 900);
  EXPECT_TRUE(second_->Exists(id)) << "kept in memory";
  EXPECT_TRUE(RunAwait(second_->ChangeLike(7, id, LikeOp::kLike)).ok());

  auto gone = RunAwait(service_->Create({"Nebula", "", 100, "", 1}, kNoDeadline));
  ASSERT_TRUE(gone.ok());
  ASSERT_TRUE(RunAwait(service_->Retire(gone->product.id)).ok());
  EXPECT_FALSE(GetOn(*second_, gone->product.id));
  EXPECT_EQ(RunAwait(second_->Knows(gone->product.id)).value(), false);
  EXPECT_EQ(RunAwait(second_->Knows(gone->product.id + 1000)).value(), false);

  clock_.Advance(std::chrono::seconds(3));
  Deliver();
  auto after = GetOn(*second_, id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->product.name, "Comet");
  EXPECT_EQ(after->likes, 1);
  EXPECT_FALSE(GetOn(*second_, gone->product.id));
}

// A basket (cart or wishlist) line written through one instance and read through another:
// the line's product is looked up like a product page's, not dropped from the basket.
TEST_F(TwoCatalogInstancesTest, ABasketShowsAProductCreatedOnTheOtherInstanceBeforeItsEvent) {
  auto created = RunAwait(service_->Create({"Quasar", "", 700, "", 4}, kNoDeadline));
  ASSERT_TRUE(created.ok());
  const std::int64_t id = created->product.id;
  ASSERT_FALSE(second_->Exists(id)) << "no event delivered";
  const std::vector<std::int64_t> ids = {id, id + 1000};
  auto views = RunAwait(second_->Views(ids, 0, kNoDeadline));
  ASSERT_TRUE(views.ok());
  ASSERT_EQ(views->size(), 2u);
  ASSERT_TRUE((*views)[0]) << "a product in the database left out of the basket";
  EXPECT_EQ((*views)[0]->product.name, "Quasar");
  EXPECT_EQ((*views)[0]->product.price, 700);
  EXPECT_FALSE((*views)[1]) << "an id that never existed";
}

TEST_F(TwoCatalogInstancesTest, ConcurrentLikesOnBothInstancesKeepCountsExactOnBoth) {
  const std::vector<std::int64_t> products = {Create("A", 1).product.id, Create("B", 1).product.id,
                                              Create("C", 1).product.id};
  Deliver();
  constexpr int kThreads = 6;
  constexpr int kOpsPerThread = 150;
  constexpr std::int64_t kMembers = 6;
  std::atomic<bool> done{false};
  // The bus delivers while the likes run, so remote changes interleave with local ones.
  std::thread deliverer([&] {
    while (!done.load()) {
      Deliver();
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 31u + 7u);
      CatalogService& on = t % 2 == 0 ? *service_ : *second_;
      for (int i = 0; i < kOpsPerThread; ++i) {
        const std::int64_t member = 1 + static_cast<std::int64_t>(rng() % kMembers);
        const std::int64_t product = products[rng() % products.size()];
        const auto op = static_cast<LikeOp>(rng() % 3);
        auto r = RunAwait(on.ChangeLike(member, product, op));
        ASSERT_TRUE(r.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  deliverer.join();
  Deliver();

  const LikeSnapshot truth = likes_->LoadLikes();
  const std::set<std::pair<std::int64_t, std::int64_t>> rows(truth.likes.begin(),
                                                             truth.likes.end());
  auto check = [&](CatalogService& on, const char* which) {
    for (const std::int64_t p : products) {
      std::int64_t count = 0;
      for (const auto& like : rows) count += like.second == p ? 1 : 0;
      EXPECT_EQ(GetOn(on, p)->likes, count) << which << " product " << p;
      for (std::int64_t m = 1; m <= kMembers; ++m) {
        EXPECT_EQ(GetOn(on, p, m)->liked_by_me, rows.contains({m, p}))
            << which << " member " << m << " product " << p;
      }
    }
    ListQuery by_likes;
    by_likes.sort = SortOrder::kLikes;
    std::vector<std::int64_t> expected = products;
    std::stable_sort(expected.begin(), expected.end(), [&](std::int64_t a, std::int64_t b) {
      const auto n = [&](std::int64_t p) {
        std::int64_t c = 0;
        for (const auto& like : rows) c += like.second == p ? 1 : 0;
        return c;
      };
      return n(a) != n(b) ? n(a) > n(b) : a < b;
    });
    EXPECT_EQ(Listed(on, by_likes), expected) << which;
  };
  check(*service_, "first");
  check(*second_, "second");

  // Replayed from the start onto an instance loaded now: nothing moves back.
  WithReplayedInstance([&](CatalogService& third) { check(third, "third (replayed)"); });
}

TEST(ProductRules, ValidateDraftAndChanges) {
  EXPECT_TRUE(ValidateDraft({"a", "", 0, "", 0}).ok());
  EXPECT_FALSE(ValidateDraft({"a", "", -1, "", 0}).ok());
  EXPECT_FALSE(ValidateDraft({"a", "", kPriceMax + 1, "", 0}).ok());
  EXPECT_FALSE(ValidateDraft({"a", "", 1, "", kStockMax + 1}).ok());
  EXPECT_FALSE(ValidateDraft({"a", "", 1, "ftp://x", 1}).ok());
  EXPECT_FALSE(ValidateDraft({"a", "", 1, "https://x/\"onload", 1}).ok());
  EXPECT_TRUE(ValidateDraft({"a", "", 1, "https://x/y.jpg", 1}).ok());
  EXPECT_FALSE(ValidateChanges({}).ok());
}

}  // namespace
}  // namespace rocketmart::catalog
