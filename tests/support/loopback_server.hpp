// The options of a real http::Server that stands in for a peer service in a test: 127.0.0.1, a
// port the system picks (0), one thread, no access log, no signal handling, a short drain. Used by
// the service-to-service client's tests and by the tests of the services' HTTP client bindings.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "infra/http/server.hpp"

namespace rocketmart::testing {

inline http::ServerOptions LoopbackServerOptions(std::string name) {
  http::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  options.access_log = false;
  options.handle_signals = false;
  options.shutdown_grace = std::chrono::milliseconds{2000};
  options.name = std::move(name);
  return options;
}

}  // namespace rocketmart::testing
