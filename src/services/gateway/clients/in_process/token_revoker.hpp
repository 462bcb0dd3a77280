// Members tell the gateway which access tokens are void: the in-process binding of members'
// TokenRevoker port to the gateway's deny-list (TokenDenials). Distributed, members write to the
// shared deny-list store (Redis) through their own adapter of the same port instead.
#pragma once

#include "services/gateway/ports/token_denylist.hpp"
#include "services/members/ports/token_revoker.hpp"

namespace rocketmart::gateway {

class InProcessTokenRevoker final : public members::TokenRevoker {
 public:
  explicit InProcessTokenRevoker(TokenDenials& denials) : denials_(denials) {}
  boost::asio::awaitable<Status> DenyToken(std::int64_t member_id, std::string token_id,
                                           TimePoint expires_at) override {
    co_return co_await denials_.DenyToken(member_id, std::move(token_id), expires_at);
  }
  boost::asio::awaitable<Status> DenyFamily(std::int64_t member_id, std::string family_id,
                                            TimePoint expires_at) override {
    co_return co_await denials_.DenyFamily(member_id, std::move(family_id), expires_at);
  }
  boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                  TimePoint valid_after) override {
    co_return co_await denials_.InvalidateBefore(member_id, valid_after);
  }

 private:
  TokenDenials& denials_;
};

}  // namespace rocketmart::gateway
