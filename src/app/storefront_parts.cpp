#include "app/storefront_parts.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "services/catalog/catalog_service.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/storefront/adapters/http_routes.hpp"

namespace rocketmart::app {
namespace {

// The live stream reads checkout's in-memory stock and sale (embedded binding of StockReader).
class CheckoutStockReader final : public storefront::StockReader {
 public:
  CheckoutStockReader(const catalog::CatalogService& catalog,
                      const checkout::CheckoutService& checkout, const Clock& clock)
      : catalog_(catalog), checkout_(checkout), clock_(clock) {}

  std::optional<storefront::StockReading> Read(std::int64_t product_id) const override {
    if (!catalog_.Exists(product_id)) return std::nullopt;
    storefront::StockReading reading;
    reading.figures.product_id = product_id;
    reading.figures.stock = checkout_.Available(product_id);
    if (auto sale = checkout_.GetSale(product_id)) {
      reading.figures.state = sale->state;
      reading.figures.starts_at = sale->sale.starts_at;
      reading.figures.ends_at = sale->sale.ends_at;
      const TimePoint now = clock_.Now();
      if (now < sale->sale.starts_at) {
        reading.next_state_change = sale->sale.starts_at;
      } else if (now < sale->sale.ends_at) {
        reading.next_state_change = sale->sale.ends_at;
      }
    }
    return reading;
  }

 private:
  const catalog::CatalogService& catalog_;
  const checkout::CheckoutService& checkout_;
  const Clock& clock_;
};

std::filesystem::path AssetsDir(const config::Config& config) {
  if (!config.storefront.assets_dir.empty()) return config.storefront.assets_dir;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("web") : exe.parent_path() / "web";
}

}  // namespace

struct StorefrontParts::Impl {
  std::unique_ptr<CheckoutStockReader> reader;
  std::unique_ptr<storefront::StockStreamHub> hub;
};

StorefrontParts::StorefrontParts(const config::Config& config,
                                 const catalog::CatalogService& catalog,
                                 checkout::CheckoutService& checkout, const Clock& clock,
                                 metrics::Registry& metrics, http::Router& router)
    : impl_(std::make_unique<Impl>()) {
  impl_->reader = std::make_unique<CheckoutStockReader>(catalog, checkout, clock);
  storefront::StreamOptions options;
  options.max_streams = static_cast<std::size_t>(config.storefront.max_streams);
  options.min_interval = std::chrono::milliseconds(config.storefront.stream_interval_ms);
  options.heartbeat = std::chrono::seconds(config.storefront.stream_heartbeat_s);
  impl_->hub = std::make_unique<storefront::StockStreamHub>(*impl_->reader, checkout.stock_signal(),
                                                            clock, options, metrics);
  storefront::RegisterStreamRoutes(router, *impl_->hub, *impl_->reader);
  storefront::RegisterTimeRoute(router, clock);
  const auto dir = AssetsDir(config);
  auto assets = storefront::StaticAssets::Load(dir);
  if (assets.ok()) {
    spdlog::info("storefront: {} assets from {}", (*assets)->size(), dir.string());
    storefront::RegisterPageRoutes(router, *assets);
  } else {
    spdlog::warn("storefront: pages answer 503: {}", assets.error().message);
    storefront::RegisterPageRoutes(router, nullptr);
  }
  impl_->hub->Start();
}

StorefrontParts::~StorefrontParts() {
  if (impl_ && impl_->hub) impl_->hub->Stop();
}

}  // namespace rocketmart::app
