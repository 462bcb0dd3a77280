// The composition root of the gateway run on its own (`rocketmart serve --service gateway`, issue
// 15; docs/cluster.md): the only public entry of a cluster. Verifies members' access tokens
// (auth.secret / auth.secret_file, the same key set members signs with, and the deny-list), then
// forwards each API route to a healthy instance of the service that owns it
// (gateway/proxy/route_table.hpp), found in etcd, with the member's internal identity
// (gateway/proxy/proxy.hpp). Its routes are exactly api/openapi.json's: the services' ones
// forwarded, its own (/health, /openapi.json, /time, the storefront's pages and assets) served
// here as the embedded server serves them; /metrics on the admin listener.
//
// Lifecycle as the embedded root: construct -> Start() (throws) -> Run() (blocks until
// SIGTERM/SIGINT or Shutdown(), then drains the requests in flight).
#pragma once

#include <cstdint>
#include <memory>

#include "core/clock.hpp"
#include "infra/config/config.hpp"

namespace rocketmart::app {

class GatewayRoot {
 public:
  GatewayRoot(config::Config config, const Clock& clock);
  ~GatewayRoot();

  void Start();
  std::uint16_t port() const;
  void Run();
  void Shutdown();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace rocketmart::app
