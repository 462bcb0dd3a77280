// The composition root of one service run on its own (`rocketmart serve --service members|catalog|
// checkout|orders`, issue 15; docs/cluster.md). Beside the embedded root (embedded_app.*), it
// builds ONE module with its stores from [<service>.database], and instead of in-process bindings
// gives it HTTP bindings of the client ports it calls (src/services/<callee>/clients/http/), whose
// peers it finds in etcd (ClusterLink). Events travel on the Redis Streams bus over the module's
// own outbox (ADR 0041). It serves only the module's routes (checkout adds the storefront's live
// stock streams, which read its memory), /health and /openapi.json, and /metrics on the admin
// listener, and runs only the module's periodic tasks.
//
// Identity: requests are authenticated only by the internal identity the gateway signs
// (X-Rocketmart-Identity, auth.internal_secret): a member's access token alone, a forged or an
// expired internal token answers 401 (gateway/internal_authenticator.hpp).
//
// Refused starts (one line, before anything is written): auth.internal_secret, redis.url or
// discovery.etcd_url unset; for members also auth.secret / auth.secret_file (the shared token key)
// and members.data_key (every instance seals personal data with the same key).
//
// Lifecycle: construct -> Start() (throws on failure; registers in etcd once it serves) -> Run()
// (blocks; on SIGTERM/SIGINT or Shutdown(): deregisters from etcd first, waits
// kDeregisterGrace for peers to stop choosing it, then drains) -> destructor stops the rest.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "infra/config/config.hpp"

namespace rocketmart::app {

// Between the deregistration and the drain: a peer's watch sees the key go within milliseconds;
// this leaves room for the calls it had already chosen this instance for.
inline constexpr std::chrono::milliseconds kDeregisterGrace{500};

// True for a name `serve --service` runs with this root (not the gateway).
bool IsServiceName(std::string_view name);

class ServiceRoot {
 public:
  ServiceRoot(config::Config config, const Clock& clock, std::string service);
  ~ServiceRoot();

  void Start();
  std::uint16_t port() const;
  void Run();
  void Shutdown();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

// The checks every cluster process makes before it opens anything (shared with the gateway):
// auth.internal_secret, redis.url and discovery.etcd_url are set. Throws std::runtime_error
// naming the key.
void RequireClusterConfig(const config::Config& config);

}  // namespace rocketmart::app
