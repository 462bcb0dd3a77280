// The storefront's module (ADR 0008, ADR 0030): the built pages (served from memory), the live
// stock stream (Server-Sent Events, its own fan-out thread) and GET /time. No database and no
// events: the stream reads stock through its StockReader port and wakes on the stock signal,
// both checkout's (in-process bindings).
#pragma once

#include <memory>

#include "core/change_signal.hpp"
#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"
#include "services/storefront/ports/stock_reader.hpp"

namespace rocketmart::storefront {

class StockStreamHub;
class StaticAssets;

class StorefrontModule final : public module::Module {
 public:
  // What the stream reads and what wakes it: each must outlive the module.
  struct Clients {
    const StockReader& stock;
    ChangeSignal& stock_changed;
  };

  // Loads the built pages (storefront.assets_dir, else web/ next to the binary); without them the
  // pages answer 503 and the API still serves.
  StorefrontModule(const config::Config& config, const Clock& clock, metrics::Registry& metrics,
                   Clients clients);
  ~StorefrontModule() override;

  std::string_view Name() const override { return "storefront"; }
  std::vector<module::Database*> Databases() override { return {}; }
  void Load() override {}
  // The stream hub's thread; it posts to the server's threads, so it stops before they go.
  void StartWorkers() override;
  void StopWorkers() override;
  std::vector<events::Subscription> Subscriptions() override { return {}; }
  void RegisterRoutes(http::Router& router) override;
  std::vector<module::PeriodicTask> PeriodicTasks() override { return {}; }
  boost::asio::awaitable<std::vector<module::StoreHealth>> CheckStores() override {
    co_return std::vector<module::StoreHealth>{};
  }

 private:
  const Clock& clock_;
  const StockReader& stock_;
  std::unique_ptr<StockStreamHub> hub_;
  std::shared_ptr<const StaticAssets> assets_;  // null: the pages answer 503
};

}  // namespace rocketmart::storefront
