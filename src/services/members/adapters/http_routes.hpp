// The members HTTP surface (/auth/**, /member/**): strict JSON in, JSON out, translated to
// MembersService calls. Nothing else. Identity comes only from the gateway-verified token
// (Request::identity): no route takes a member id from the client, so no route can reach another
// member's data.
#pragma once

#include "infra/http/router.hpp"
#include "services/members/members_service.hpp"

namespace rocketmart::members {

inline constexpr std::size_t kMaxBodyBytes = 4096;

void RegisterRoutes(http::Router& router, MembersService& members);

}  // namespace rocketmart::members
