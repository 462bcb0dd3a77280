#include "app/checkout_maintenance.hpp"

namespace rocketmart::app {

void ScheduleCheckoutMaintenance(checkout::CheckoutService& checkout,
                                 const checkout::MaintenanceSchedule& schedule,
                                 PeriodicTasks& sweeper, PeriodicTasks& provider_calls) {
  for (checkout::MaintenanceTask& task : checkout::MaintenanceTasks(checkout, schedule)) {
    PeriodicTasks& thread = task.calls_provider ? provider_calls : sweeper;
    thread.Add(std::move(task.name), task.every, std::move(task.run));
  }
}

}  // namespace rocketmart::app
