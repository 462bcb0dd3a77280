// Logging facade over spdlog. One process-wide logger writing to stderr; the level comes from the
// configuration. Call Init once at start-up, before other threads log. Thread-safe afterwards.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace rocketmart::log {

// Returns false when the level name is unknown.
bool Init(std::string_view level);

}  // namespace rocketmart::log
