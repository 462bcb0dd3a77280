// How the gateway reads checkout's Idempotency-Key state when the services run apart (docs/adr/
// 0049): the gateway's PurchaseKeys port bound to the Redis every checkout instance keeps its
// in-flight claims and recorded keys in (adapters/redis/redis_key_state.hpp). One script per call,
// the one checkout itself runs before a keyed sold-out answer (RedisAdmission::KeyHeldOrUsed),
// so the gateway's answer and checkout's are decided by the same atomic read. The client must
// reach the same Redis under the same key prefix as checkout (one redis.url and redis.key_prefix
// for the cluster); a Redis without checkout's admission epoch answers "not unused" to every key.
#pragma once

#include <string>

#include "infra/redis/client.hpp"
#include "services/gateway/ports/purchase_keys.hpp"

namespace rocketmart::checkout {

class RedisPurchaseKeys final : public gateway::PurchaseKeys {
 public:
  RedisPurchaseKeys(redis::Client& client, std::string prefix);
  boost::asio::awaitable<bool> Unused(std::int64_t member_id, std::string_view key) override;

 private:
  redis::Client& client_;
  const std::string prefix_;
  const std::string keys_set_;
  const std::string epoch_key_;
};

}  // namespace rocketmart::checkout
