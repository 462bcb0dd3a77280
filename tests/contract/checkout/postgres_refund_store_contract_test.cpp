// The RefundStore contract for the PostgreSQL adapter
// (services/checkout/adapters/postgres/postgres_checkout_stores), and what only that adapter
// shows: the order in which its transactions lock rows.
#include <string>
#include <vector>

#include "contract/checkout/postgres_checkout_stores.hpp"
#include "contract/checkout/refund_store_contract.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, RefundStoreContract,
                         ::testing::Values(&MakePostgresCheckoutStores));

// Every transaction that touches a product's inventory row and a member's units for it locks the
// inventory rows first, in product order, then the units (checkout_place_hold does so line by
// line). A refund or a release that took the member's units first deadlocked with a purchase of
// the same member and product on another instance: PostgreSQL broke the cycle after a second,
// the adapter retried, and the purchase waited past its statement timeout (a 503 TIMEOUT in
// OrdersE2E on two checkout instances). Deadlocks are counted in the server's log, where
// PostgreSQL reports each one when it breaks it.
class PostgresLockOrder : public RefundStoreContract {
 protected:
  static int DeadlocksLogged() {
    const std::string log = rocketmart::testing::SharedLocalPostgres().LogTail(64 * 1024 * 1024);
    int n = 0;
    for (std::size_t at = log.find("deadlock detected"); at != std::string::npos;
         at = log.find("deadlock detected", at + 1)) {
      ++n;
    }
    return n;
  }
};

TEST_P(PostgresLockOrder, RefundsReleasesAndPurchasesOfOneMemberOnTwoInstancesNeverDeadlock) {
  constexpr std::int64_t kOther = kProduct + 1;
  constexpr int kRounds = 60;
  Product(1'000'000);
  Product(1'000'000, kOther);
  const auto two_lines = [&](std::int64_t member) {
    HoldRequest r = Request(member);
    r.lines.push_back({kOther, 1, kPrice});
    r.per_member_limits[kOther] = 1'000'000;
    return r;
  };
  std::vector<std::int64_t> to_refund, to_release;
  for (int i = 0; i < kRounds; ++i) {
    to_refund.push_back(PaidHold(7).payment_id);
    to_release.push_back(Place(two_lines(7)).id);
  }
  const int before = DeadlocksLogged();
  Together(3, [&](int worker) {
    for (int i = 0; i < kRounds; ++i) {
      if (worker == 0) {
        Place(i % 2 == 0 ? Request(7) : two_lines(7), &Second());
      } else if (worker == 1) {
        EXPECT_TRUE(Refund(A(), to_refund[i], "orders:cancel-" + std::to_string(i)));
      } else {
        Ok(Await(Second().holds.ReleaseHold(to_release[i], 7, HoldStatus::kActive,
                                            ReleaseReason::kCancelled, Now())));
      }
    }
  });
  EXPECT_EQ(DeadlocksLogged() - before, 0);
  ExpectInvariants();
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresLockOrder,
                         ::testing::Values(&MakePostgresCheckoutStores));

}  // namespace rocketmart::checkout::contract
