// The storefront's part of the composition root: the stock reader binding (checkout's memory),
// the live stock stream hub, the built pages, and their routes.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/http/router.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::catalog {
class CatalogService;
}
namespace rocketmart::checkout {
class CheckoutService;
}

namespace rocketmart::app {

class StorefrontParts {
 public:
  // Registers the storefront's routes on `router`; starts the stream hub's thread.
  StorefrontParts(const config::Config& config, const catalog::CatalogService& catalog,
                  checkout::CheckoutService& checkout, const Clock& clock,
                  metrics::Registry& metrics, http::Router& router);
  // Stops the hub (before the server that runs the streams goes away).
  ~StorefrontParts();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rocketmart::app
