#include "services/checkout/clients/redis/purchase_keys.hpp"

#include "services/checkout/adapters/redis/redis_key_state.hpp"

namespace rocketmart::checkout {

RedisPurchaseKeys::RedisPurchaseKeys(redis::Client& client, std::string prefix)
    : client_(client),
      prefix_(std::move(prefix)),
      keys_set_(AdmissionKeysSet(prefix_)),
      epoch_key_(AdmissionEpochKey(prefix_)) {}

boost::asio::awaitable<bool> RedisPurchaseKeys::Unused(std::int64_t member_id,
                                                       std::string_view key) {
  std::string claim = IdempotencyClaimKey(prefix_, member_id, key);
  std::string field = AdmissionKeyField(member_id, key);
  const bool matters = co_await KeyHeldOrUsedInRedis(client_, std::move(claim), keys_set_,
                                                     epoch_key_, std::move(field));
  co_return !matters;
}

}  // namespace rocketmart::checkout
