// The composition root of the embedded (all-in-one) deployment: the only place that names concrete
// adapters. It opens one SQLite database per service under the data directory, wires services to
// their ports, registers every route and runs the HTTP server.
//
// Lifecycle: construct -> Start() (open, migrate, load, bind; throws on failure) -> Run() (blocks
// until SIGTERM/SIGINT or Shutdown()) -> destructor stops relays and writers in reverse order.
#pragma once

#include <cstdint>
#include <memory>

#include "core/clock.hpp"
#include "infra/config/config.hpp"

namespace rocketmart::app {

class EmbeddedApp {
 public:
  EmbeddedApp(config::Config config, const Clock& clock);
  ~EmbeddedApp();

  void Start();
  std::uint16_t port() const;
  void Run();
  void Shutdown();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace rocketmart::app
