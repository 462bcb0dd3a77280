// What an operator watches during a drop, read at scrape time (GET /metrics on the admin
// listener): stock totals (available, held, sold, over the products that are not retired; a
// series per product would grow with the catalog), open holds, orders by status, the order
// scheduler's lag, mail sent and failed, login failures, and the build.
//
// The figures come from indexed reads of checkout.db and orders.db through the scraping thread's
// own read-only connections, and from counters the services keep: nothing runs on a request path.
// A read that fails reports NaN rather than failing the scrape.
#pragma once

#include "core/clock.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/members/adapters/mailers.hpp"
#include "services/members/members_service.hpp"

namespace rocketmart::app {

struct OperationalSources {
  storage::ReadConnections& checkout;
  storage::ReadConnections& orders;
  const members::MailWorker& mail;
  const members::MembersService& members;
  const Clock& clock;
};

void RegisterOperationalMetrics(metrics::Registry& registry, OperationalSources sources);

// rocketmart_build_info{version,revision} 1.
void RegisterBuildInfo(metrics::Registry& registry);

}  // namespace rocketmart::app
