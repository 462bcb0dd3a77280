// Likes, wishlist and cart against the real SQLite-backed repositories (a temporary database file,
// the real group-commit writer); threads hammer the services to show the counts stay exact.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/catalog/adapters/http_routes.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/adapters/sqlite_shopping_repository.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/catalog/shopping_service.hpp"
#include "services/catalog/test_doubles.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::catalog {
namespace {

using testing::RunAwait;

class ShoppingTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { writer_->Stop(); }

  void Open() {
    shopping_.reset();
    catalog_.reset();
    baskets_.reset();
    readers_.reset();
    storage::OpenOptions open;
    open.path = dir_.File("catalog.db");
    writer_ = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer_->Connection(), CatalogMigrations());
    writer_->Start();
    readers_ = std::make_unique<storage::ReadConnections>(open);
    products_ = std::make_unique<SqliteProductRepository>(*writer_);
    baskets_ = std::make_unique<SqliteShoppingRepository>(*writer_, *readers_);
    catalog_ = std::make_unique<CatalogService>(*products_, *baskets_, availability_, clock_);
    catalog_->Load();
    shopping_ = std::make_unique<ShoppingService>(*catalog_, *baskets_, checkout_, clock_);
  }
  void Reopen() {
    writer_->Stop();
    Open();
  }

  std::int64_t Create(std::string name, std::int64_t price = 1000) {
    auto r = RunAwait(catalog_->Create({std::move(name), "", price, "", 10}, kNoDeadline));
    EXPECT_TRUE(r.ok());
    return r->product.id;
  }

  std::int64_t Sql(const std::string& sql) {
    std::int64_t value = -1;
    writer_->RunSync([&](storage::Database& db) {
      auto stmt = db.Prepare(sql);
      if (stmt.Step()) value = stmt.Int64(0);
    });
    return value;
  }

  std::optional<ProductView> Get(std::int64_t id, std::int64_t member = 0) {
    return RunAwait(catalog_->Get(id, member, kNoDeadline)).value();
  }
  Result<ListPage> List(const ListQuery& q) { return RunAwait(catalog_->List(q, kNoDeadline)); }
  BasketView Wishlist(std::int64_t member) {
    auto r = RunAwait(shopping_->Wishlist(member, kNoDeadline));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : BasketView{};
  }
  BasketView Cart(std::int64_t member) {
    auto r = RunAwait(shopping_->Cart(member, kNoDeadline));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : BasketView{};
  }

  Result<LikeState> Like(std::int64_t member, std::int64_t product, LikeOp op = LikeOp::kLike) {
    return RunAwait(catalog_->ChangeLike(member, product, op));
  }

  testing::TempDir dir_{"catalog"};
  FakeClock clock_;
  FakeAvailability availability_;
  UnreachableCheckout checkout_;
  std::unique_ptr<storage::GroupCommitWriter> writer_;
  std::unique_ptr<storage::ReadConnections> readers_;
  std::unique_ptr<SqliteProductRepository> products_;
  std::unique_ptr<SqliteShoppingRepository> baskets_;
  std::unique_ptr<CatalogService> catalog_;
  std::unique_ptr<ShoppingService> shopping_;
};

TEST_F(ShoppingTest, LikesAreIdempotentAndToggleFlips) {
  const auto p = Create("Alpha");
  auto r = Like(7, p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->likes, 1);
  EXPECT_TRUE(r->liked_by_me);
  EXPECT_EQ(Like(7, p)->likes, 1);  // idempotent
  EXPECT_EQ(Like(8, p)->likes, 2);
  EXPECT_EQ(Get(p, 7)->liked_by_me, true);
  EXPECT_EQ(Get(p, 9)->liked_by_me, false);
  EXPECT_FALSE(Get(p)->liked_by_me.has_value());
  EXPECT_EQ(Get(p)->likes, 2);
  auto toggled = Like(7, p, LikeOp::kToggle);
  EXPECT_EQ(toggled->likes, 1);
  EXPECT_FALSE(toggled->liked_by_me);
  EXPECT_EQ(Like(7, p, LikeOp::kUnlike)->likes, 1);  // idempotent
  EXPECT_TRUE(Like(7, p, LikeOp::kToggle)->liked_by_me);
  EXPECT_EQ(Like(7, 424242).error().code, Errc::kNotFound);
  ASSERT_TRUE(RunAwait(catalog_->Retire(p)).ok());
  EXPECT_EQ(Like(9, p).error().code, Errc::kNotFound);
}

TEST_F(ShoppingTest, ConcurrentLikesAndUnlikesKeepCountsExact) {
  const std::vector<std::int64_t> products = {Create("A"), Create("B"), Create("C")};
  constexpr int kThreads = 8;
  constexpr int kOpsPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kOpsPerThread; ++i) {
        // Few members shared by all threads, so the same (member, product) races constantly.
        const std::int64_t member = 1 + static_cast<std::int64_t>(rng() % 6);
        const std::int64_t product = products[rng() % products.size()];
        const auto op = static_cast<LikeOp>(rng() % 3);
        auto r = Like(member, product, op);
        ASSERT_TRUE(r.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto check = [&] {
    for (std::int64_t p : products) {
      const std::string id = std::to_string(p);
      const std::int64_t rows = Sql("SELECT COUNT(*) FROM likes WHERE product_id = " + id);
      EXPECT_EQ(Sql("SELECT like_count FROM products WHERE id = " + id), rows);
      EXPECT_EQ(Get(p)->likes, rows);
      for (std::int64_t m = 1; m <= 6; ++m) {
        const bool stored = Sql("SELECT COUNT(*) FROM likes WHERE product_id = " + id +
                                " AND member_id = " + std::to_string(m)) == 1;
        EXPECT_EQ(Get(p, m)->liked_by_me, stored) << "member " << m << " product " << p;
      }
    }
  };
  check();
  Reopen();
  check();
}

TEST(LikeIndexTest, OutOfOrderResumesKeepTheNewestCommittedState) {
  LikeIndex index;
  index.Load(LikeSnapshot{{{1, 10}}, {{10, 1, 4}}});  // member 1 likes product 10, as of seq 4
  // Two changes by member 1 in flight; the later-committed unlike (seq 6) resumes first.
  index.Begin(1, 10);
  index.Begin(1, 10);
  index.Apply(1, 10, LikeChange{0, false, 6});
  EXPECT_FALSE(index.Liked(1, 10));
  index.Apply(1, 10, LikeChange{1, true, 5});  // older: must not resurrect the like or the count
  EXPECT_FALSE(index.Liked(1, 10));
  EXPECT_EQ(index.Count(10), 0);
  // Nothing in flight and unliked, but the event feed has not passed seq 6 yet: a late, older
  // "liked" event must still find the entry.
  EXPECT_EQ(index.LikeEntries(), 1u);
  index.Refresh(1, 10, LikeChange{1, true, 5});
  EXPECT_FALSE(index.Liked(1, 10));
  EXPECT_EQ(index.Count(10), 0);
  index.Refresh(1, 10, LikeChange{0, false, 6});
  EXPECT_EQ(index.LikeEntries(), 0u) << "settled: dropped";
  index.Refresh(1, 10, LikeChange{1, true, 5});  // redelivered after it was dropped
  EXPECT_FALSE(index.Liked(1, 10));
  index.Refresh(1, 10, LikeChange{1, true, 3});  // older than the snapshot
  EXPECT_FALSE(index.Liked(1, 10));
  EXPECT_EQ(index.Count(10), 0);
  // An abandoned change leaves the state as it was.
  index.Begin(2, 10);
  index.Abandon(2, 10);
  EXPECT_FALSE(index.Liked(2, 10));
  EXPECT_EQ(index.LikeEntries(), 0u);
  index.Begin(2, 10);
  index.Apply(2, 10, LikeChange{1, true, 7});
  EXPECT_TRUE(index.Liked(2, 10));
  EXPECT_EQ(index.Count(10), 1);
}

// Another instance's changes arrive only through the feed: a member's like appears and goes, the
// count follows the newest sequence number, and this instance's own change seen again is a no-op.
TEST(LikeIndexTest, TheEventFeedBringsOtherInstancesChanges) {
  LikeIndex index;
  index.Load(LikeSnapshot{});
  index.Refresh(3, 20, LikeChange{1, true, 1});
  EXPECT_TRUE(index.Liked(3, 20));
  EXPECT_EQ(index.Count(20), 1);
  index.Begin(4, 20);  // this instance's own like, seq 2
  index.Apply(4, 20, LikeChange{2, true, 2});
  index.Refresh(3, 20, LikeChange{1, false, 3});
  EXPECT_FALSE(index.Liked(3, 20));
  EXPECT_EQ(index.Count(20), 1);
  index.Refresh(4, 20, LikeChange{2, true, 2});  // its own, late: older than the count's seq 3
  EXPECT_EQ(index.Count(20), 1);
  EXPECT_TRUE(index.Liked(4, 20));
  EXPECT_EQ(index.LikeEntries(), 1u) << "member 3's settled unlike is dropped";
}

TEST_F(ShoppingTest, WishlistIsBoundedAndOneMembersListIsTheirs) {
  for (int i = 0; i < kWishlistMaxItems; ++i) {
    ASSERT_TRUE(
        RunAwait(shopping_->AddToWishlist(6, Create("w" + std::to_string(i)), 1, kNoDeadline))
            .ok());
  }
  const auto extra = Create("extra");
  auto refused = RunAwait(shopping_->AddToWishlist(6, extra, 1, kNoDeadline));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kConflict);
  EXPECT_EQ(Wishlist(6).items.size(), static_cast<std::size_t>(kWishlistMaxItems));
  EXPECT_TRUE(RunAwait(shopping_->AddToWishlist(7, extra, 1, kNoDeadline))
                  .ok());  // another member: own list
  EXPECT_EQ(Wishlist(7).items.size(), 1u);
}

TEST_F(ShoppingTest, SortByLikesIsCursorStable) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(Create("p" + std::to_string(i)));
  for (int i = 0; i < 9; ++i) {
    for (int m = 0; m < i % 4; ++m) ASSERT_TRUE(Like(100 + m, ids[static_cast<size_t>(i)]).ok());
  }
  ListQuery q;
  q.sort = SortOrder::kLikes;
  q.limit = 2;
  std::vector<std::int64_t> seen;
  std::int64_t last_likes = INT64_MAX;
  for (int page = 0; page < 10; ++page) {
    auto r = List(q);
    ASSERT_TRUE(r.ok());
    for (const auto& v : r->items) {
      EXPECT_LE(v.likes, last_likes);
      last_likes = v.likes;
      seen.push_back(v.product.id);
    }
    if (r->next_cursor.empty()) break;
    q.cursor = r->next_cursor;
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, ids);
}

TEST_F(ShoppingTest, SaleStateFollowsTheClockAndStockAndFilters) {
  const auto none = Create("none");
  const auto sale = Create("sale");
  const TimePoint start = clock_.Now() + std::chrono::hours(1);
  availability_.sales[sale] = SaleInfo{start, start + std::chrono::hours(2), 1};
  availability_.stock[sale] = 5;
  EXPECT_EQ(Get(none)->sale_state, SaleState::kNone);
  EXPECT_EQ(Get(sale)->sale_state, SaleState::kUpcoming);
  ListQuery q;
  q.sale_state = SaleState::kUpcoming;
  ASSERT_EQ(List(q)->items.size(), 1u);
  EXPECT_EQ(List(q)->items[0].product.id, sale);
  clock_.Set(start);
  // Inventory has not heard of the product yet: shown with its initial stock, not as sold out.
  availability_.stock.erase(sale);
  EXPECT_EQ(Get(sale)->sale_state, SaleState::kPreparing);
  q.sale_state = SaleState::kPreparing;
  EXPECT_EQ(List(q)->items.size(), 1u);
  availability_.stock[sale] = 5;
  EXPECT_EQ(Get(sale)->sale_state, SaleState::kLive);
  availability_.stock[sale] = 0;
  EXPECT_EQ(Get(sale)->sale_state, SaleState::kSoldOut);
  q.sale_state = SaleState::kSoldOut;
  EXPECT_EQ(List(q)->items.size(), 1u);
  q.sale_state = SaleState::kNone;
  ASSERT_EQ(List(q)->items.size(), 1u);
  EXPECT_EQ(List(q)->items[0].product.id, none);
  clock_.Set(start + std::chrono::hours(2));
  EXPECT_EQ(Get(sale)->sale_state, SaleState::kEnded);
}

// Checkout's figures cannot be read (a projection not yet warm, an unreachable checkout): products,
// carts and wishlists are still shown, with their sale state unknown; only a list filtered by sale
// state, which cannot be computed, is refused (503 UNAVAILABLE), never a 500.
TEST_F(ShoppingTest, WithoutCheckoutsFiguresProductsShowAnUnknownSaleState) {
  const auto p = Create("Drop", 300);
  const TimePoint start = clock_.Now() - std::chrono::hours(1);
  availability_.sales[p] = SaleInfo{start, start + std::chrono::hours(2), 1};
  availability_.stock[p] = 3;
  ASSERT_TRUE(RunAwait(shopping_->SetCartQuantity(5, p, 2, kNoDeadline)).ok());
  ASSERT_EQ(Get(p)->sale_state, SaleState::kLive);
  availability_.failing = true;
  const auto view = Get(p, 7);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->sale_state, SaleState::kUnknown);
  EXPECT_FALSE(view->sale.has_value());
  EXPECT_EQ(view->stock, 10) << "the initial stock, as while checkout does not know the product";
  EXPECT_EQ(view->product.name, "Drop");
  EXPECT_EQ(ProductJson(*view).at("saleState").as_string(), "unknown");
  auto page = List(ListQuery{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].sale_state, SaleState::kUnknown);
  ListQuery live;
  live.sale_state = SaleState::kLive;
  auto filtered = List(live);
  ASSERT_FALSE(filtered.ok());
  EXPECT_EQ(filtered.error().code, Errc::kUnavailable);
  const auto cart = Cart(5);
  ASSERT_EQ(cart.items.size(), 1u);
  EXPECT_EQ(cart.items[0].sale_state, SaleState::kUnknown);
  EXPECT_EQ(cart.total, 600);
  EXPECT_FALSE(ParseSaleState("unknown")) << "not a list filter";
  availability_.failing = false;
  EXPECT_EQ(Get(p)->sale_state, SaleState::kLive);
}

TEST(SaleStateRules, WindowBoundaries) {
  const TimePoint t0{std::chrono::seconds(1000)};
  const SaleInfo s{t0, t0 + std::chrono::seconds(10), 1};
  EXPECT_EQ(ComputeSaleState(std::nullopt, 5, t0), SaleState::kNone);
  EXPECT_EQ(ComputeSaleState(s, 5, t0 - std::chrono::milliseconds(1)), SaleState::kUpcoming);
  EXPECT_EQ(ComputeSaleState(s, 5, t0), SaleState::kLive);
  EXPECT_EQ(ComputeSaleState(s, 0, t0), SaleState::kSoldOut);
  EXPECT_EQ(ComputeSaleState(s, 5, t0 + std::chrono::seconds(10)), SaleState::kEnded);
  EXPECT_EQ(ComputeSaleState(s, std::nullopt, t0), SaleState::kPreparing);
  EXPECT_EQ(ComputeSaleState(s, std::nullopt, t0 - std::chrono::milliseconds(1)),
            SaleState::kUpcoming);
  EXPECT_EQ(ParseSaleState("soldout"), SaleState::kSoldOut);
  EXPECT_EQ(ParseSaleState("preparing"), SaleState::kPreparing);
  EXPECT_FALSE(ParseSaleState("LIVE"));
  EXPECT_EQ(SaleStateName(SaleState::kRetired), "retired");
  EXPECT_FALSE(ParseSaleState("retired")) << "retired products are never listed";
}

TEST_F(ShoppingTest, ConcurrentWishlistAddsNeverDuplicate) {
  const auto p = Create("Wish", 700);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(RunAwait(shopping_->AddToWishlist(3, p, 2, kNoDeadline)).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM wishlist WHERE member_id = 3"), 1);
  auto list = Wishlist(3);
  ASSERT_EQ(list.items.size(), 1u);
  EXPECT_EQ(list.items[0].quantity, 80);
  EXPECT_EQ(list.items[0].line_total, 80 * 700);
  // Over the bound: refused, nothing changed.
  EXPECT_EQ(RunAwait(shopping_->AddToWishlist(3, p, 20, kNoDeadline)).error().code,
            Errc::kValidationFailed);
  EXPECT_EQ(Wishlist(3).items[0].quantity, 80);
  // The current price is shown, not a snapshot.
  ProductChanges changes;
  changes.price = 900;
  ASSERT_TRUE(RunAwait(catalog_->Update(p, changes, kNoDeadline)).ok());
  EXPECT_EQ(Wishlist(3).items[0].price, 900);
  EXPECT_TRUE(Wishlist(4).items.empty());  // another member sees nothing
  EXPECT_EQ(RunAwait(shopping_->RemoveFromWishlist(4, p)).error().code, Errc::kNotFound);
  EXPECT_TRUE(RunAwait(shopping_->RemoveFromWishlist(3, p)).ok());
  EXPECT_TRUE(Wishlist(3).items.empty());
}

TEST_F(ShoppingTest, CartRulesAndBadInputChangeNothing) {
  const auto a = Create("A", 100);
  const auto b = Create("B", 250);
  ASSERT_TRUE(RunAwait(shopping_->SetCartQuantity(5, a, 2, kNoDeadline)).ok());
  auto cart = RunAwait(shopping_->SetCartQuantity(5, b, 3, kNoDeadline));
  ASSERT_TRUE(cart.ok());
  EXPECT_EQ(cart->total, 2 * 100 + 3 * 250);
  ASSERT_EQ(cart->items.size(), 2u);
  EXPECT_EQ(cart->items[0].product_id, a);
  EXPECT_EQ(cart->items[1].stock, 10);
  cart = RunAwait(shopping_->SetCartQuantity(5, a, 1, kNoDeadline));  // sets, not adds
  EXPECT_EQ(cart->items[0].quantity, 1);
  for (std::int64_t bad : {0, -1, 100}) {
    EXPECT_EQ(RunAwait(shopping_->SetCartQuantity(5, a, bad, kNoDeadline)).error().code,
              Errc::kValidationFailed);
  }
  EXPECT_EQ(RunAwait(shopping_->SetCartQuantity(5, 999999, 1, kNoDeadline)).error().code,
            Errc::kNotFound);
  EXPECT_EQ(RunAwait(shopping_->RemoveFromCart(5, 999999, kNoDeadline)).error().code,
            Errc::kNotFound);
  EXPECT_EQ(Cart(5).total, 1 * 100 + 3 * 250);
  // At most kCartMaxLines lines.
  std::vector<std::int64_t> more;
  for (int i = 0; i < kCartMaxLines - 2; ++i) {
    more.push_back(Create("m" + std::to_string(i)));
    ASSERT_TRUE(RunAwait(shopping_->SetCartQuantity(5, more.back(), 1, kNoDeadline)).ok());
  }
  const auto extra = Create("extra");
  auto full = RunAwait(shopping_->SetCartQuantity(5, extra, 1, kNoDeadline));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kConflict);
  EXPECT_EQ(Cart(5).items.size(), static_cast<std::size_t>(kCartMaxLines));
  EXPECT_TRUE(RunAwait(shopping_->SetCartQuantity(5, a, 4, kNoDeadline))
                  .ok());  // existing line still editable
  // Retiring a product removes its lines; clearing empties the cart.
  ASSERT_TRUE(RunAwait(catalog_->Retire(b)).ok());
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM cart_items WHERE product_id = " + std::to_string(b)), 0);
  EXPECT_EQ(Cart(5).items.size(), static_cast<std::size_t>(kCartMaxLines - 1));
  std::vector<std::int64_t> paid{a, more[0]};
  EXPECT_EQ(*RunAwait(shopping_->RemoveCartLines(5, paid)), 2);
  ASSERT_TRUE(RunAwait(shopping_->ClearCart(5)).ok());
  EXPECT_TRUE(Cart(5).items.empty());
}

// Issue 15: when the services run apart checkout's figures are an HTTP call; every product read
// asks them by the request's deadline (one distinct deadline per read here).
TEST_F(ShoppingTest, EveryProductReadAsksCheckoutsFiguresByTheRequestsDeadline) {
  const auto at = [](int ms) { return Deadline{std::chrono::milliseconds(ms)}; };
  const auto asked_by = [this] {
    std::lock_guard lock(availability_.mu);
    return availability_.asked_by;
  };
  auto created = RunAwait(catalog_->Create({"Comet", "", 900, "", 5}, at(1)));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(asked_by(), at(1));
  const std::int64_t p = created->product.id;
  ProductChanges changes;
  changes.price = 800;
  ASSERT_TRUE(RunAwait(catalog_->Update(p, changes, at(2))).ok());
  EXPECT_EQ(asked_by(), at(2));
  auto got = RunAwait(catalog_->Get(p, 0, at(3)));
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ(asked_by(), at(3));
  ASSERT_TRUE(RunAwait(catalog_->List(ListQuery{}, at(4))).ok());
  EXPECT_EQ(asked_by(), at(4));
  ASSERT_TRUE(RunAwait(shopping_->AddToWishlist(5, p, 1, at(5))).ok());
  EXPECT_EQ(asked_by(), at(5));
  ASSERT_TRUE(RunAwait(shopping_->Wishlist(5, at(6))).ok());
  EXPECT_EQ(asked_by(), at(6));
  ASSERT_TRUE(RunAwait(shopping_->SetCartQuantity(5, p, 2, at(7))).ok());
  EXPECT_EQ(asked_by(), at(7));
  ASSERT_TRUE(RunAwait(shopping_->Cart(5, at(8))).ok());
  EXPECT_EQ(asked_by(), at(8));
  ASSERT_TRUE(RunAwait(shopping_->RemoveFromCart(5, p, at(9))).ok());
  EXPECT_EQ(asked_by(), at(9));
}

}  // namespace
}  // namespace rocketmart::catalog
