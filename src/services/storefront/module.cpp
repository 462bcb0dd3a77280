#include "services/storefront/module.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "services/storefront/adapters/http_routes.hpp"
#include "services/storefront/adapters/static_files.hpp"
#include "services/storefront/adapters/stock_stream_hub.hpp"

namespace rocketmart::storefront {
namespace {

std::filesystem::path AssetsDir(const config::Config& config) {
  if (!config.storefront.assets_dir.empty()) return config.storefront.assets_dir;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("web") : exe.parent_path() / "web";
}

}  // namespace

StorefrontModule::StorefrontModule(const config::Config& config, const Clock& clock,
                                   metrics::Registry& metrics, Clients clients)
    : clock_(clock), stock_(clients.stock) {
  StreamOptions options;
  options.max_streams = static_cast<std::size_t>(config.storefront.max_streams);
  options.min_interval = std::chrono::milliseconds(config.storefront.stream_interval_ms);
  options.heartbeat = std::chrono::seconds(config.storefront.stream_heartbeat_s);
  hub_ = std::make_unique<StockStreamHub>(clients.stock, clients.stock_changed, clock, options,
                                          metrics);
  const auto dir = AssetsDir(config);
  auto assets = StaticAssets::Load(dir);
  if (assets.ok()) {
    spdlog::info("storefront: {} assets from {}", (*assets)->size(), dir.string());
    assets_ = std::move(*assets);
  } else {
    spdlog::warn("storefront: pages answer 503: {}", assets.error().message);
  }
}

StorefrontModule::~StorefrontModule() = default;

void StorefrontModule::StartWorkers() {
  hub_->Start();
}

void StorefrontModule::StopWorkers() {
  hub_->Stop();
}

void StorefrontModule::RegisterRoutes(http::Router& router) {
  RegisterStreamRoutes(router, *hub_, stock_);
  RegisterTimeRoute(router, clock_);
  RegisterPageRoutes(router, assets_);
}

}  // namespace rocketmart::storefront
