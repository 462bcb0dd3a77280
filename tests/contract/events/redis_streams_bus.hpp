// The Redis Streams bus the contract instantiations build over an outbox engine's stores: on one
// real redis-server for the test process (tests/support/local_redis.*), under a key prefix named
// after the test's directory, so the crash clause's child (same directory) sees the same stream
// and groups.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::events::contract {

inline std::unique_ptr<EventBus> NewRedisStreamsBus(const std::filesystem::path& dir,
                                                    const Clock& clock,
                                                    std::chrono::milliseconds retry_backoff,
                                                    OutboxSource& producer,
                                                    ConsumerStore& consumer) {
  const auto& server = rocketmart::testing::SharedLocalRedis();
  auto bus = std::make_unique<redis_streams::RedisStreamsEventBus>(
      redis::ParseEndpoint(server.unix_url()).value(), clock,
      redis_streams::RedisStreamsEventBusOptions{
          .key_prefix = dir.filename().string() + ":",
          .poll_interval = std::chrono::milliseconds(50),
          .block = std::chrono::milliseconds(200),
          .claim_idle = std::chrono::milliseconds(300),  // a killed child's entries
          .claim_interval = std::chrono::milliseconds(100),
          .retry_backoff_initial = retry_backoff,
          .retry_backoff_max = retry_backoff * 4,
          .housekeeping_interval = std::chrono::milliseconds(50),
          .trim_keep = 0,
      });
  bus->AddProducer(producer);
  bus->AddConsumer(consumer);
  return bus;
}

}  // namespace rocketmart::events::contract
