// Operational endpoints: GET /health, GET /metrics (Prometheus text), GET /openapi.json.
#pragma once

#include <functional>
#include <string>

#include "infra/http/router.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::app {

// `ready` answers whether every module is up (databases open, relays running).
void RegisterOpsRoutes(http::Router& router, metrics::Registry& metrics,
                       std::function<bool()> ready);

// The OpenAPI document compiled into the binary from api/openapi.json.
extern const char* const kOpenApiDocument;

}  // namespace rocketmart::app
