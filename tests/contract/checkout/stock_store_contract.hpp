// Contract of StockStore and SaleStore (services/checkout/ports/stock_store.hpp, sale_store.hpp),
// checked only through the checkout store ports.
//
// The promise: a catalog product event is applied once per event id, on any number of instances,
// and never over newer facts; restocks add sellable units and are refused for unknown products;
// the snapshot and the operator's figures agree with what holds and payments did; a sale is the
// last one saved, each write makes the product's next sale version and publishes sale.changed
// with it in its transaction.
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "contract/checkout/checkout_stores_fixture.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout::contract {

class StockStoreContract : public CheckoutStoresTest {
 protected:
  std::optional<InventoryRow> Apply(CheckoutStores& on, ProductFacts facts,
                                    const std::string& event_id) {
    return Ok(
        Await(on.stock.ApplyProductFacts(std::move(facts), "checkout.inventory", event_id, Now())));
  }
};

TEST_P(StockStoreContract, AProductEventIsAppliedOnceAcrossInstancesAndNeverOverNewerFacts) {
  CheckoutStores* instances[] = {&A(), &Second()};
  std::atomic<int> applied{0};
  Together(6, [&](int i) {
    if (Apply(*instances[i % 2], {kProduct, kPrice, 10, false, 1, "Drop"}, "catalog:1")) ++applied;
  });
  EXPECT_EQ(applied.load(), 1);
  auto v3 = Apply(A(), {kProduct, 1500, 10, false, 3, "Drop"}, "catalog:3");
  ASSERT_TRUE(v3.has_value());
  EXPECT_EQ(v3->price, 1500);
  EXPECT_EQ(v3->catalog_version, 3);
  EXPECT_FALSE(Apply(Second(), {kProduct, 1200, 10, false, 2, "Drop"}, "catalog:2").has_value())
      << "older facts never overwrite newer ones";
  const auto rows = A().stock.LoadInventory();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].price, 1500);
  EXPECT_EQ(rows[0].available, 10);
}

TEST_P(StockStoreContract, RestocksAddSellableUnitsOfKnownProductsOnly) {
  Product(2);
  const InventoryRow row = Ok(Await(A().stock.Restock(kProduct, 5, Now())));
  EXPECT_EQ(row.available, 7);
  EXPECT_EQ(row.restocked, 5);
  EXPECT_EQ(Available(), 7);
  auto unknown = Await(A().stock.Restock(99, 5, Now()));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
  ExpectInvariants();
}

TEST_P(StockStoreContract, SnapshotAndFiguresAgreeWithHoldsAndPayments) {
  Product(10);
  PaidHold(7, 2);
  Place(Request(8, 3));
  const StockSnapshot snapshot = Ok(Await(Second().stock.Snapshot(kProduct)));
  EXPECT_EQ(snapshot.available, 5);
  EXPECT_EQ(snapshot.member_units.at(7), 2);
  EXPECT_EQ(snapshot.member_units.at(8), 3);
  auto figures = Ok(Await(A().stock.SaleFigures(kProduct)));
  ASSERT_TRUE(figures.has_value());
  EXPECT_EQ(figures->available, 5);
  EXPECT_EQ(figures->held, 3);
  EXPECT_EQ(figures->sold, 2);
  EXPECT_EQ(figures->revenue, 2 * kPrice);
  EXPECT_FALSE(Ok(Await(A().stock.SaleFigures(99))).has_value());
  auto missing = Await(A().stock.Snapshot(99));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  const auto units = A().stock.LoadMemberUnits();
  EXPECT_EQ(units.at(kProduct).at(8), 3);
  ExpectInvariants();
}

TEST_P(StockStoreContract, TheLastSaleSavedIsTheSaleWithTheNextVersion) {
  const Sale first{Now(), Now() + std::chrono::hours(1), 2};
  const Sale second{Now() + std::chrono::hours(1), Now() + std::chrono::hours(3), 5};
  EXPECT_EQ(Ok(Await(A().sales.SaveSale(kProduct, first, Now()))), 1);
  EXPECT_EQ(Ok(Await(Second().sales.SaveSale(kProduct, second, Now()))), 2);
  EXPECT_EQ(Ok(Await(A().sales.SaveSale(kProduct + 1, first, Now()))), 1) << "per product";
  auto sales = A().sales.LoadSales();
  std::sort(sales.begin(), sales.end(),
            [](const StoredSale& a, const StoredSale& b) { return a.product_id < b.product_id; });
  ASSERT_EQ(sales.size(), 2u);
  EXPECT_EQ(sales[0].product_id, kProduct);
  EXPECT_EQ(sales[0].version, 2);
  EXPECT_EQ(sales[0].sale.per_member_limit, 5);
  EXPECT_EQ(ToUnixMillis(sales[0].sale.starts_at), ToUnixMillis(second.starts_at));
  EXPECT_EQ(ToUnixMillis(sales[0].sale.ends_at), ToUnixMillis(second.ends_at));
  EXPECT_EQ(sales[1].version, 1);
}

// Every checkout instance learns sales from checkout's outbox: each write appends sale.changed,
// committed with it, carrying the version it made. Writes racing on two instances get distinct
// versions, and the sale kept is the one the highest version describes.
TEST_P(StockStoreContract, EverySaleWriteIsPublishedWithTheVersionItMade) {
  CheckoutStores* instances[] = {&A(), &Second()};
  constexpr int kWrites = 8;
  std::mutex mu;
  std::map<std::int64_t, std::int64_t> limit_by_version;
  Together(kWrites, [&](int i) {
    const Sale sale{Now(), Now() + std::chrono::hours(1 + i), 1 + i};
    const std::int64_t version = Ok(Await(instances[i % 2]->sales.SaveSale(kProduct, sale, Now())));
    std::lock_guard lock(mu);
    EXPECT_TRUE(limit_by_version.emplace(version, sale.per_member_limit).second)
        << "version " << version << " made twice";
  });
  ASSERT_EQ(limit_by_version.size(), static_cast<std::size_t>(kWrites));
  EXPECT_EQ(limit_by_version.begin()->first, 1);
  EXPECT_EQ(limit_by_version.rbegin()->first, kWrites);

  std::map<std::int64_t, api::SaleChanged> published;
  for (const events::Event& event : fixture_->Published()) {
    if (event.topic != api::kSaleChanged) continue;
    auto changed = api::DecodeSaleChanged(event.payload);
    ASSERT_TRUE(changed.ok()) << event.payload;
    EXPECT_EQ(changed->product_id, kProduct);
    EXPECT_TRUE(published.emplace(changed->version, *changed).second) << event.payload;
  }
  ASSERT_EQ(published.size(), limit_by_version.size()) << "one event per write";
  for (const auto& [version, limit] : limit_by_version) {
    EXPECT_EQ(published.at(version).per_member_limit, limit) << "version " << version;
    EXPECT_EQ(ToUnixMillis(published.at(version).ends_at),
              ToUnixMillis(Now() + std::chrono::hours(limit)));
  }
  const auto kept = A().sales.LoadSales();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].version, kWrites);
  EXPECT_EQ(kept[0].sale.per_member_limit, limit_by_version.at(kWrites));
}

}  // namespace rocketmart::checkout::contract
