#include "infra/log/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace rocketmart::log {

bool Init(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_logger_mt("rocketmart");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  // Flushing every access-log line would cost a write(2) per request; warnings and errors are
  // flushed at once, everything else within a second.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return true;
}

}  // namespace rocketmart::log
