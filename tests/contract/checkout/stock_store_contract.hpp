// Contract of StockStore and SaleStore (services/checkout/ports/stock_store.hpp, sale_store.hpp),
// checked only through the checkout store ports.
//
// The promise: a catalog product event is applied once per event id, on any number of instances,
// and never over newer facts; restocks add sellable units and are refused for unknown products;
// the snapshot and the operator's figures agree with what holds and payments did; a sale is the
// last one saved.
#pragma once

#include <atomic>

#include "contract/checkout/checkout_stores_fixture.hpp"

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

TEST_P(StockStoreContract, TheLastSaleSavedIsTheSale) {
  const Sale first{Now(), Now() + std::chrono::hours(1), 2};
  const Sale second{Now() + std::chrono::hours(1), Now() + std::chrono::hours(3), 5};
  ASSERT_TRUE(Await(A().sales.SaveSale(kProduct, first, Now())).ok());
  ASSERT_TRUE(Await(Second().sales.SaveSale(kProduct, second, Now())).ok());
  const auto sales = A().sales.LoadSales();
  ASSERT_EQ(sales.size(), 1u);
  EXPECT_EQ(sales[0].first, kProduct);
  EXPECT_EQ(sales[0].second.per_member_limit, 5);
  EXPECT_EQ(ToUnixMillis(sales[0].second.starts_at), ToUnixMillis(second.starts_at));
}

}  // namespace rocketmart::checkout::contract
