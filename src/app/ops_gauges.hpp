// What an operator watches during a drop, read at scrape time (GET /metrics on the admin
// listener). Each module registers its own figures (orders by status and the scheduler's lag in
// the orders module; mail and login counters in the members module); here are checkout's, while
// checkout is still built by the root: stock totals (available, held, sold, over the products
// that are not retired; a series per product would grow with the catalog) and open holds, from
// indexed reads of checkout.db through the scraping thread's own read-only connection (NaN when
// a read fails), and the build.
#pragma once

#include "infra/metrics/metrics.hpp"
#include "infra/storage/service_database.hpp"

namespace rocketmart::app {

void RegisterCheckoutGauges(metrics::Registry& registry, storage::ServiceDatabase& checkout);

// rocketmart_build_info{version,revision} 1.
void RegisterBuildInfo(metrics::Registry& registry);

}  // namespace rocketmart::app
