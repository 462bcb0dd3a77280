// One cart, at most one purchase (issue 11 point 1): the cart's checkout claim in the shopping
// service against the real catalog database and the real checkout service (its SQLite store, its
// idempotency, the simulated processor's ledger), bound in-process as the server binds them.
// Threads race checkouts of one cart; crash windows are rebuilt from the state a crash leaves.
#include <gtest/gtest.h>

#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "infra/http/idempotency_key.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/adapters/sqlite_shopping_repository.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/catalog/clients/in_process/product_directory.hpp"
#include "services/catalog/shopping_service.hpp"
#include "services/checkout/adapters/embedded_checkout_ports.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/checkout/clients/in_process/clients.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::catalog {
namespace {

using testing::RunAwait;

struct Db {
  Db(const std::string& path, std::span<const storage::Migration> migrations) {
    storage::OpenOptions open;
    open.path = path;
    writer = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer->Connection(), migrations);
    writer->Start();
    open.read_only = true;
    readers = std::make_unique<storage::ReadConnections>(open);
  }
  ~Db() { writer->Stop(); }
  std::int64_t Int(const std::string& sql) {
    std::int64_t value = -1;
    writer->RunSync([&](storage::Database& db) {
      auto stmt = db.Prepare(sql);
      if (stmt.Step()) value = stmt.IsNull(0) ? -2 : stmt.Int64(0);
    });
    return value;
  }
  std::unique_ptr<storage::GroupCommitWriter> writer;
  std::unique_ptr<storage::ReadConnections> readers;
};

class CartClaimTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(0.0); }

  void Open(double decline_rate) {
    shopping_.reset();
    client_.reset();
    catalog_.reset();
    availability_.reset();
    checkout_.reset();
    catalog_db_ = std::make_unique<Db>(dir_.File("catalog.db"), CatalogMigrations());
    provider_db_ =
        std::make_unique<Db>(dir_.File("provider.db"), checkout::SimulatedProviderMigrations());
    checkout_db_ = std::make_unique<Db>(dir_.File("checkout.db"), checkout::CheckoutMigrations());
    products_ = std::make_unique<SqliteProductRepository>(*catalog_db_->writer);
    baskets_ =
        std::make_unique<SqliteShoppingRepository>(*catalog_db_->writer, *catalog_db_->readers);
    provider_ = std::make_unique<checkout::SimulatedPaymentProvider>(
        *provider_db_->writer, *provider_db_->readers,
        checkout::SimulatedProviderOptions{decline_rate, 7, std::chrono::milliseconds(0)});
    checkout_ports_ = std::make_unique<checkout::EmbeddedCheckoutPorts>(*checkout_db_->writer,
                                                                        *checkout_db_->readers);
    checkout_ = std::make_unique<checkout::CheckoutService>(
        checkout_ports_->With(*provider_, directory_), clock_, metrics_);
    ASSERT_TRUE(RunAwait(checkout_->Load()).ok());
    availability_ = std::make_unique<checkout::InProcessAvailability>(*checkout_);
    catalog_ = std::make_unique<CatalogService>(*products_, *baskets_, *availability_, clock_);
    catalog_->Load();
    directory_.Bind(*catalog_);
    client_ = std::make_unique<checkout::InProcessCheckoutClient>(*checkout_);
    shopping_ = std::make_unique<ShoppingService>(*catalog_, *baskets_, *client_, clock_);
  }

  // A product in the catalog, known to checkout, on sale from `starts_in` from now.
  std::int64_t Product(std::int64_t stock,
                       std::chrono::seconds starts_in = std::chrono::seconds(-60)) {
    auto created = RunAwait(catalog_->Create({"Drop", "", 1000, "", stock}, kNoDeadline));
    EXPECT_TRUE(created.ok());
    const std::int64_t id = created->product.id;
    checkout::ProductFacts facts;
    facts.product_id = id;
    facts.price = 1000;
    facts.initial_stock = stock;
    facts.version = 1;
    EXPECT_TRUE(
        RunAwait(checkout_->RecordProductFacts(facts, "product-" + std::to_string(id))).ok());
    checkout_->RefreshProductFacts(facts);
    const TimePoint start = clock_.Now() + starts_in;
    auto sale = RunAwait(checkout_->SetSale(
        id, checkout::Sale{start, start + std::chrono::hours(24), 1000}, kNoDeadline));
    EXPECT_TRUE(sale.ok());
    return id;
  }

  void Put(std::int64_t member, std::int64_t product, std::int64_t quantity) {
    ASSERT_TRUE(RunAwait(shopping_->SetCartQuantity(member, product, quantity, kNoDeadline)).ok());
  }

  BasketView Cart(std::int64_t member) {
    auto cart = RunAwait(shopping_->Cart(member, kNoDeadline));
    EXPECT_TRUE(cart.ok());
    return cart.ok() ? *cart : BasketView{};
  }

  CartCheckoutOutcome Checkout(std::int64_t member, std::optional<std::string> key = {}) {
    return RunAwait(shopping_->CheckoutCart(member, true, std::move(key)));
  }

  std::int64_t Payments(std::int64_t member) {
    return checkout_db_->Int("SELECT count(*) FROM payments WHERE member_id = " +
                             std::to_string(member));
  }
  // -1: no row; -2: no open claim.
  std::int64_t OpenClaims(std::int64_t member) {
    return catalog_db_->Int(
        "SELECT count(*) FROM cart_checkouts WHERE claim_key IS NOT NULL AND member_id = " +
        std::to_string(member));
  }

  testing::TempDir dir_{"cart-claim"};
  FakeClock clock_;
  metrics::Registry metrics_;
  std::unique_ptr<Db> catalog_db_, provider_db_, checkout_db_;
  std::unique_ptr<SqliteProductRepository> products_;
  std::unique_ptr<SqliteShoppingRepository> baskets_;
  std::unique_ptr<CatalogService> catalog_;
  std::unique_ptr<checkout::SimulatedPaymentProvider> provider_;
  InProcessProductDirectory directory_;  // bound to catalog_ once it exists
  std::unique_ptr<checkout::EmbeddedCheckoutPorts> checkout_ports_;
  std::unique_ptr<checkout::CheckoutService> checkout_;
  std::unique_ptr<checkout::InProcessAvailability> availability_;
  std::unique_ptr<checkout::InProcessCheckoutClient> client_;
  std::unique_ptr<ShoppingService> shopping_;
};

TEST_F(CartClaimTest, ConcurrentCheckoutsOfOneCartBuyItOnceWhateverTheKeys) {
  const std::int64_t a = Product(1000), b = Product(1000);
  constexpr int kThreads = 16;
  std::int64_t member = 100;
  for (int mode = 0; mode < 3; ++mode) {  // no key, a new key each, the same key
    SCOPED_TRACE(mode);
    ++member;
    Put(member, a, 2);
    Put(member, b, 1);
    std::mutex mutex;
    int created = 0, replayed = 0, already = 0;
    std::vector<std::string> other;
    std::set<std::int64_t> orders;
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        std::optional<std::string> key;
        if (mode == 1) key = "tab-" + std::to_string(i);
        if (mode == 2) key = "retry";
        start.arrive_and_wait();
        const CartCheckoutOutcome out = Checkout(member, key);
        std::lock_guard lock(mutex);
        if (out.answer.result.ok()) {
          orders.insert(out.answer.result->order_id);
          ++(out.answer.replayed ? replayed : created);
        } else if (out.answer.result.error().code == Errc::kCartAlreadyCheckedOut) {
          ++already;
          orders.insert(out.checked_out_order.value_or(0));
        } else {
          other.push_back(std::string(ErrcName(out.answer.result.error().code)));
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(created, 1);
    EXPECT_EQ(created + replayed + already, kThreads);
    EXPECT_TRUE(other.empty()) << other.front();
    EXPECT_EQ(orders.size(), 1u);
    EXPECT_EQ(Payments(member), 1);
    EXPECT_TRUE(Cart(member).items.empty());
    EXPECT_EQ(OpenClaims(member), 0);
  }
}

// The crash window: the purchase was paid under the claim's key but the process died before the
// claim was closed (the cart still holds the lines). The next checkout, under any key, joins the
// claim, is answered from checkout's record and closes it, removing exactly the bought lines.
TEST_F(CartClaimTest, AClaimLeftByACrashAfterPaymentIsReplayedAndClosed) {
  const std::int64_t a = Product(10), b = Product(10);
  constexpr std::int64_t kMember = 7;
  Put(kMember, a, 1);
  Put(kMember, b, 2);
  auto claim = RunAwait(baskets_->ClaimCartCheckout(kMember, "crashed", clock_.Now()));
  ASSERT_TRUE(claim.ok());
  ASSERT_EQ(claim->kind, CartClaim::Kind::kStarted);
  std::vector<CheckoutLine> lines{{a, 1}, {b, 2}};
  std::optional<CheckoutKey> key = CheckoutKey{"crashed", std::string(kCartCheckoutFingerprint)};
  auto paid =
      RunAwait(client_->Purchase(kMember, true, std::move(lines), std::move(key), kNoDeadline));
  ASSERT_TRUE(paid.result.ok());
  // ...crash: the claim was never closed and the lines never removed.
  clock_.Advance(std::chrono::seconds(5));
  Put(kMember, a, 3);  // edited after the payment: this line is the member's new wish and stays

  auto next = Checkout(kMember, "another tab");
  ASSERT_TRUE(next.answer.result.ok()) << next.answer.result.error().message;
  EXPECT_TRUE(next.answer.replayed);
  EXPECT_EQ(next.answer.result->order_id, paid.result->order_id);
  EXPECT_EQ(Payments(kMember), 1);
  EXPECT_EQ(OpenClaims(kMember), 0);
  const auto cart = Cart(kMember).items;
  ASSERT_EQ(cart.size(), 1u);
  EXPECT_EQ(cart[0].product_id, a);
  EXPECT_EQ(cart[0].quantity, 3);
  // The edited line is a new cart: it buys once more, under a new claim.
  auto again = Checkout(kMember);
  ASSERT_TRUE(again.answer.result.ok());
  EXPECT_FALSE(again.answer.replayed);
  EXPECT_EQ(Payments(kMember), 2);
  auto empty = Checkout(kMember);
  EXPECT_EQ(empty.answer.result.error().code, Errc::kCartAlreadyCheckedOut);
  EXPECT_EQ(empty.checked_out_order, again.answer.result->order_id);
}

// A crash before anything reached checkout leaves a claim with nothing under its key: the next
// checkout joins it and buys once.
TEST_F(CartClaimTest, AClaimLeftByACrashBeforePurchaseBuysOnce) {
  const std::int64_t a = Product(10);
  constexpr std::int64_t kMember = 8;
  Put(kMember, a, 1);
  ASSERT_TRUE(RunAwait(baskets_->ClaimCartCheckout(kMember, "crashed", clock_.Now())).ok());
  auto next = Checkout(kMember);
  ASSERT_TRUE(next.answer.result.ok());
  EXPECT_FALSE(next.answer.replayed);
  EXPECT_EQ(Payments(kMember), 1);
  EXPECT_EQ(OpenClaims(kMember), 0);
  EXPECT_EQ((*RunAwait(checkout_ports_->stores.idempotency.Find(kMember, "crashed")))->hold_id,
            checkout_db_->Int("SELECT hold_id FROM payments WHERE member_id = 8"))
      << "bought under the claim's key";
}

// A refusal that wrote nothing under the key (the sale has not started) keeps the claim: the next
// checkout, whatever its key, buys under the same key, once.
TEST_F(CartClaimTest, ARefusalKeepsTheClaimAndTheRetryBuysUnderItsKey) {
  const std::int64_t a = Product(10, std::chrono::seconds(30));
  constexpr std::int64_t kMember = 9;
  Put(kMember, a, 1);
  auto early = Checkout(kMember, "first click");
  EXPECT_EQ(early.answer.result.error().code, Errc::kSaleNotStarted);
  EXPECT_EQ(OpenClaims(kMember), 1);
  clock_.Advance(std::chrono::seconds(31));
  auto later = Checkout(kMember, "second click");
  ASSERT_TRUE(later.answer.result.ok());
  EXPECT_EQ((*RunAwait(checkout_ports_->stores.idempotency.Find(kMember, "first click")))->hold_id,
            checkout_db_->Int("SELECT hold_id FROM payments WHERE member_id = 9"));
  EXPECT_FALSE(
      RunAwait(checkout_ports_->stores.idempotency.Find(kMember, "second click"))->has_value());
  EXPECT_EQ(OpenClaims(kMember), 0);
  EXPECT_EQ(Payments(kMember), 1);
}

// A declined payment spends its key (checkout replays the decline for it forever): the claim
// closes, so the next checkout tries again under a new key instead of replaying the decline.
TEST_F(CartClaimTest, ADeclineClosesTheClaimSoTheNextCheckoutTriesAgain) {
  Open(1.0);
  const std::int64_t a = Product(10);
  constexpr std::int64_t kMember = 10;
  Put(kMember, a, 1);
  auto first = Checkout(kMember);
  EXPECT_EQ(first.answer.result.error().code, Errc::kPaymentDeclined);
  EXPECT_EQ(OpenClaims(kMember), 0);
  auto second = Checkout(kMember);
  EXPECT_EQ(second.answer.result.error().code, Errc::kPaymentDeclined);
  EXPECT_FALSE(second.answer.replayed) << "a new attempt, not the old decline replayed";
  EXPECT_EQ(checkout_db_->Int("SELECT count(*) FROM holds WHERE member_id = 10"), 2);
  EXPECT_EQ(Cart(kMember).items.size(), 1u);
}

// Keys a client sent to an earlier version were stored with the HTTP fingerprint of the request;
// the constant every cart checkout now uses is that same fingerprint, so they still replay.
TEST(CartCheckoutFingerprint, IsTheHttpFingerprintOfTheBodylessRequest) {
  http::RawRequest raw{http::Method::post, "/cart/checkout", 11};
  raw.set("Idempotency-Key", "k");
  http::Request req{raw, "/cart/checkout", "", {}, std::nullopt, "", {}, {}};
  auto key = http::ReadIdempotencyKey(req);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(key->has_value());
  EXPECT_EQ((*key)->fingerprint, kCartCheckoutFingerprint);
}

}  // namespace
}  // namespace rocketmart::catalog
