#include "app/ops_gauges.hpp"

#include "app/build_info.hpp"

namespace rocketmart::app {

void RegisterCheckoutGauges(metrics::Registry& registry, storage::ServiceDatabase& db) {
  storage::ServiceDatabase* checkout = &db;
  registry.AddGauge(
      "checkout_stock_available_units",
      "Units on sale not held or sold, summed over products that are not retired", "", [checkout] {
        return checkout->ReadNumber("SELECT SUM(available) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge(
      "checkout_stock_held_units", "Units in open holds (awaiting payment), summed over products",
      "", [checkout] {
        return checkout->ReadNumber("SELECT SUM(held) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge(
      "checkout_stock_sold_units", "Units sold and not refunded, summed over products", "",
      [checkout] {
        return checkout->ReadNumber("SELECT SUM(sold) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge("checkout_holds_open", "Holds awaiting payment (ACTIVE or PAYING)", "",
                    [checkout] {
                      return checkout->ReadNumber(
                          "SELECT COUNT(*) FROM holds WHERE status IN ('ACTIVE', 'PAYING')");
                    });
}

void RegisterBuildInfo(metrics::Registry& registry) {
  registry.AddGauge("rocketmart_build_info", "The running build (always 1)",
                    "version=\"" + metrics::EscapeLabel(kBuildVersion) + "\",revision=\"" +
                        metrics::EscapeLabel(kBuildRevision) + "\"",
                    [] { return 1.0; });
}

}  // namespace rocketmart::app
