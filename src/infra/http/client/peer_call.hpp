// A call from one service to another when the services run apart (issue 15): the HTTP client of
// the peer (client.hpp) plus the identity the callee authenticates, signed with the cluster's
// internal key (auth/internal_identity.hpp) exactly as the gateway signs it. What the client
// bindings in src/services/<callee>/clients/http/ build on.
//
//   PeerCaller catalog{client, internal_keys, clock};
//   auto body = co_await catalog.Json({.method = Method::get, .target = "/products/7",
//                                      .deadline = request.deadline},
//                                     PeerCaller::Member(member_id));
//
// Answers: a 2xx with a JSON object body is the object; any other answer is an Error: the code of
// the peer's error body when it names one this version knows (NOT_FOUND, SOLD_OUT, ...), else
// kUnavailable (a 5xx, a body that is not ours: the peer cannot answer now, and the caller's
// request says so with 503, never 500). Transport failures keep their code (kTimeout,
// kUnavailable, kOverloaded). Thread-safe as the client is.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>

#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/http/client/client.hpp"

namespace rocketmart::http::client {

// The member id of a call a service makes for itself, not for a member (the orders service's read
// of a paid purchase, an operator's sale summary): above every real (< 2^53) and synthetic
// (2^53 + n, n ≤ 2^62) member id, so it can never be a member's.
inline constexpr std::int64_t kServiceCallerId = INT64_MAX;

class PeerCaller {
 public:
  PeerCaller(Client& client, const auth::Keyring& internal_keys, const Clock& clock)
      : client_(client), keys_(internal_keys), clock_(clock) {}

  // A member's own call (their my page, their cart), with what the callee checks of them.
  static auth::Identity Member(std::int64_t member_id, bool email_verified = true);
  // The service itself: an admin identity no member can hold.
  static auth::Identity Service();

  // Sends `request` as `as` (the X-Rocketmart-Identity header) and returns the raw reply.
  boost::asio::awaitable<Result<Reply>> Call(CallRequest request, const auth::Identity& as);
  // The same, answered as described above: the 2xx body as a JSON object, or an Error.
  boost::asio::awaitable<Result<boost::json::object>> Json(CallRequest request,
                                                           const auth::Identity& as);

  // GET `target` as `as` by `deadline` (the caller's request's: the call stops there, the peer is
  // told the time left), answered as Json() answers.
  boost::asio::awaitable<Result<boost::json::object>> GetJson(std::string target, auth::Identity as,
                                                              Deadline deadline);

  // The same, with a 404 NOT_FOUND answered as nullopt (a lookup of something that may not exist).
  boost::asio::awaitable<Result<std::optional<boost::json::object>>> FindJson(std::string target,
                                                                              auth::Identity as,
                                                                              Deadline deadline);

  Client& client() { return client_; }

 private:
  Client& client_;
  const auth::Keyring& keys_;
  const Clock& clock_;
};

// The Error an answer that is not a 2xx stands for (see above). Pure.
Error ErrorOfReply(const Reply& reply);
// The body of a 2xx answer as a JSON object, else ErrorOfReply (or kUnavailable for a body that
// is not a JSON object). Pure.
Result<boost::json::object> JsonOfReply(const Reply& reply);

}  // namespace rocketmart::http::client
