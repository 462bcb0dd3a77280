#include "services/checkout/maintenance.hpp"

#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

std::vector<MaintenanceTask> MaintenanceTasks(CheckoutService& service,
                                              const MaintenanceSchedule& schedule) {
  CheckoutService* s = &service;
  std::vector<MaintenanceTask> tasks;
  tasks.push_back(
      {"hold-expiry", schedule.hold_expiry, false, [s]() -> boost::asio::awaitable<void> {
         // Drain every due hold, one bounded batch per transaction.
         while (co_await s->SweepExpired() > 0) {
         }
       }});
  tasks.push_back({"idempotency-retention", schedule.idempotency_retention, false,
                   [s]() -> boost::asio::awaitable<void> {
                     // Drain every expired record, one bounded batch per transaction.
                     while (co_await s->ForgetExpiredIdempotencyKeys() >=
                            s->idempotency_forget_batch()) {
                     }
                   }});
  tasks.push_back({"reconcile", schedule.reconcile, false, [s]() -> boost::asio::awaitable<void> {
                     const ReconcileReport report = co_await s->Reconcile();
                     (void)report;
                   }});
  tasks.push_back(
      {"stale-payments", schedule.stale_payments, true, [s]() -> boost::asio::awaitable<void> {
         const std::size_t settled = co_await s->ResolveStalePayments(false);
         (void)settled;
       }});
  tasks.push_back(
      {"pending-refunds", schedule.pending_refunds, true, [s]() -> boost::asio::awaitable<void> {
         const std::size_t settled = co_await s->RetryPendingRefunds();
         (void)settled;
       }});
  return tasks;
}

}  // namespace rocketmart::checkout
