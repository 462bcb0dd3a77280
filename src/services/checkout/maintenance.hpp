// Checkout's periodic work, as the service defines it; the composition root only decides on which
// thread each task runs. Hold expiry, the idempotency retention and the reconciler (admission
// rebuilt from the database) touch only the stores: they may share a thread with other sweepers.
// Settling stale payments and retrying refunds wait for the payment provider (`calls_provider`):
// they must run where a provider that stalls, even one whose client blocks its thread, cannot
// delay an expiry that is due. Every task claims its work in the store (guarded transitions and
// leases), so the same schedule may run on several instances over one database.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace rocketmart::checkout {

class CheckoutService;

struct MaintenanceSchedule {
  std::chrono::milliseconds hold_expiry{1000};
  std::chrono::milliseconds reconcile{60'000};
  std::chrono::milliseconds idempotency_retention{60'000};
  std::chrono::milliseconds stale_payments{10'000};
  std::chrono::milliseconds pending_refunds{10'000};
};

struct MaintenanceTask {
  std::string name;
  std::chrono::milliseconds every{};
  bool calls_provider = false;  // waits for the payment provider: run apart from the sweeper
  std::function<boost::asio::awaitable<void>()> run;
};

// The tasks, each bound to `service` (which must outlive them).
std::vector<MaintenanceTask> MaintenanceTasks(CheckoutService& service,
                                              const MaintenanceSchedule& schedule);

}  // namespace rocketmart::checkout
