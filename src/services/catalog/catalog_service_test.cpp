// CatalogService over the real SQLite repository: writes go through the group-commit writer to a
// temporary database file; the clock is fake.
#include "services/catalog/catalog_service.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
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

  std::optional<ProductView> Get(std::int64_t id) { return RunAwait(service_->Get(id)); }
  Result<ListPage> List(const ListQuery& q) { return RunAwait(service_->List(q)); }

  ProductView Create(std::string name, std::int64_t price) {
    auto r = RunAwait(service_->Create({std::move(name), "", price, "", 10}));
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
  auto updated = RunAwait(service_->Update(a.product.id, changes));
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->product.price, 250);
  EXPECT_EQ(updated->product.version, 2);
  EXPECT_EQ(updated->product.updated_at, clock_.Now());
  auto missing = RunAwait(service_->Update(9999, changes));
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
        auto r = RunAwait(service_->Update(a.product.id, changes));
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
