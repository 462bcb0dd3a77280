// Where checkout keeps an Idempotency-Key's state in Redis, and the one atomic read of it that
// decides whether a sold-out answer from memory may be given to a keyed purchase (the port's
// KeyHeldOrUsed, ports/admission.hpp). Checkout's adapters and the gateway's PurchaseKeys binding
// (clients/redis/purchase_keys.hpp, docs/adr/0049) name the keys through these functions only.
//   <prefix>idem:<member>:<key>  the in-flight gate's claim (redis_idempotency_gate.hpp)
//   <prefix>adm:keys             admission's set of "<member>:<key>" that may have a record
//   <prefix>adm:epoch            admission's epoch (redis_admission.hpp)
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "infra/redis/client.hpp"

namespace rocketmart::checkout {

std::string IdempotencyClaimKey(std::string_view prefix, std::int64_t member_id,
                                std::string_view key);
std::string AdmissionKeysSet(std::string_view prefix);
std::string AdmissionEpochKey(std::string_view prefix);
// A member's key as admission's set holds it.
std::string AdmissionKeyField(std::int64_t member_id, std::string_view key);

// Whether the key matters, in one script: a claim holds it, it may have a record (the set holds
// its field), or admission's epoch is missing: this Redis does not hold checkout's state (a
// restart without AOF, FLUSHALL, another server), so it cannot say a key is unused. The claim is
// read in the same atomic step as the record: an original request records its key before it
// releases its claim. Unknown (Redis down, an error reply): true.
boost::asio::awaitable<bool> KeyHeldOrUsedInRedis(redis::Client& client, std::string claim_key,
                                                  std::string keys_set, std::string epoch_key,
                                                  std::string field);

}  // namespace rocketmart::checkout
