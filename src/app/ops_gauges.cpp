#include "app/ops_gauges.hpp"

#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "app/build_info.hpp"
#include "services/orders/domain/order.hpp"

namespace rocketmart::app {
namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// The first column of the first row of `sql` (bound to `arg` when given), as a number.
double ReadNumber(storage::ReadConnections& readers, std::string_view sql,
                  std::optional<std::int64_t> arg = std::nullopt,
                  std::optional<std::string_view> text = std::nullopt) {
  try {
    storage::Statement& statement = readers.ForThisThread().Cached(sql);
    if (arg) statement.BindInt64(1, *arg);
    if (text) statement.BindText(1, *text);
    const double value =
        statement.Step() && !statement.IsNull(0) ? static_cast<double>(statement.Int64(0)) : 0.0;
    statement.Reset();
    return value;
  } catch (const std::exception&) {
    return kUnknown;
  }
}

}  // namespace

void RegisterOperationalMetrics(metrics::Registry& registry, OperationalSources s) {
  storage::ReadConnections* checkout = &s.checkout;
  registry.AddGauge(
      "checkout_stock_available_units",
      "Units on sale not held or sold, summed over products that are not retired", "", [checkout] {
        return ReadNumber(*checkout, "SELECT SUM(available) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge("checkout_stock_held_units",
                    "Units in open holds (awaiting payment), summed over products", "", [checkout] {
                      return ReadNumber(*checkout,
                                        "SELECT SUM(held) FROM inventory WHERE retired = 0");
                    });
  registry.AddGauge("checkout_stock_sold_units",
                    "Units sold and not refunded, summed over products", "", [checkout] {
                      return ReadNumber(*checkout,
                                        "SELECT SUM(sold) FROM inventory WHERE retired = 0");
                    });
  registry.AddGauge(
      "checkout_holds_open", "Holds awaiting payment (ACTIVE or PAYING)", "", [checkout] {
        return ReadNumber(*checkout,
                          "SELECT COUNT(*) FROM holds WHERE status IN ('ACTIVE', 'PAYING')");
      });

  storage::ReadConnections* orders = &s.orders;
  for (int i = static_cast<int>(orders::OrderStatus::kPaid);
       i <= static_cast<int>(orders::OrderStatus::kReturned); ++i) {
    const std::string_view status = orders::OrderStatusName(static_cast<orders::OrderStatus>(i));
    registry.AddGauge("orders_by_status", "Orders in each status",
                      "status=\"" + metrics::EscapeLabel(status) + "\"", [orders, status] {
                        return ReadNumber(*orders, "SELECT COUNT(*) FROM orders WHERE status = ?1",
                                          std::nullopt, status);
                      });
  }
  const Clock* clock = &s.clock;
  registry.AddGauge(
      "orders_scheduler_lag_seconds",
      "How long the oldest due order transition (shipping, delivery, ...) has waited; 0 when none",
      "", [orders, clock] {
        const std::int64_t now = ToUnixMillis(clock->Now());
        const double due = ReadNumber(
            *orders,
            "SELECT s.due_at_ms FROM order_schedule s JOIN orders o ON o.id = s.order_id "
            "WHERE s.due_at_ms <= ?1 AND o.on_hold = 0 ORDER BY s.due_at_ms LIMIT 1",
            now);
        if (std::isnan(due)) return kUnknown;
        return due == 0 ? 0.0 : static_cast<double>(now - static_cast<std::int64_t>(due)) / 1000.0;
      });

  const members::MailWorker* mail = &s.mail;
  registry.AddCounterFn("mail_sent_total", "Mails the transport took", "",
                        [mail] { return mail->sent(); });
  registry.AddCounterFn("mail_send_failures_total",
                        "Mail submissions that failed and will be retried", "",
                        [mail] { return mail->failures(); });
  const members::MembersService* members = &s.members;
  registry.AddCounterFn("members_login_failures_total", "Logins refused", "reason=\"credentials\"",
                        [members] { return members->LoginFailures(); });
  registry.AddCounterFn("members_login_failures_total", "Logins refused", "reason=\"throttled\"",
                        [members] { return members->LoginsThrottled(); });
  registry.AddCounterFn("members_revocations_unpublished_total",
                        "Revocations committed that the token deny-list did not take at once "
                        "(replayed from members.db until it does)",
                        "", [members] { return members->RevocationsUnpublished(); });
}

void RegisterBuildInfo(metrics::Registry& registry) {
  registry.AddGauge("rocketmart_build_info", "The running build (always 1)",
                    "version=\"" + metrics::EscapeLabel(kBuildVersion) + "\",revision=\"" +
                        metrics::EscapeLabel(kBuildRevision) + "\"",
                    [] { return 1.0; });
}

}  // namespace rocketmart::app
