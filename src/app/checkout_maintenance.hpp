// Where checkout's periodic work runs (the tasks are the service's: services/checkout/
// maintenance.hpp): the store-only tasks on `sweeper`, the thread shared with the order
// scheduler; those that wait for the payment provider on `provider_calls`, a thread of their own,
// so a provider that stalls never delays an expiry that is due or the order schedule.
#pragma once

#include "app/periodic_tasks.hpp"
#include "services/checkout/maintenance.hpp"

namespace rocketmart::app {

void ScheduleCheckoutMaintenance(checkout::CheckoutService& checkout,
                                 const checkout::MaintenanceSchedule& schedule,
                                 PeriodicTasks& sweeper, PeriodicTasks& provider_calls);

}  // namespace rocketmart::app
