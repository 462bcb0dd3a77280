#include "infra/http/client/peer_call.hpp"

#include <boost/json/parse.hpp>
#include <string>

#include "auth/internal_identity.hpp"

namespace rocketmart::http::client {

auth::Identity PeerCaller::Member(std::int64_t member_id, bool email_verified) {
  auth::Identity identity;
  identity.member_id = member_id;
  identity.role = auth::Role::kUser;
  identity.email_verified = email_verified;
  return identity;
}

auth::Identity PeerCaller::Service() {
  auth::Identity identity;
  identity.member_id = kServiceCallerId;
  identity.role = auth::Role::kAdmin;
  identity.email_verified = true;
  return identity;
}

boost::asio::awaitable<Result<Reply>> PeerCaller::Call(CallRequest request,
                                                       const auth::Identity& as) {
  request.headers.emplace_back(std::string(auth::kInternalIdentityHeader),
                               auth::SignInternalIdentity(as, keys_, clock_.Now()));
  co_return co_await client_.Call(std::move(request));
}

boost::asio::awaitable<Result<boost::json::object>> PeerCaller::Json(CallRequest request,
                                                                     const auth::Identity& as) {
  auto reply = co_await Call(std::move(request), as);
  if (!reply.ok()) co_return std::move(reply).error();
  co_return JsonOfReply(*reply);
}

boost::asio::awaitable<Result<boost::json::object>> PeerCaller::GetJson(std::string target,
                                                                        auth::Identity as,
                                                                        Deadline deadline) {
  CallRequest request;
  request.method = Method::get;
  request.target = std::move(target);
  request.deadline = deadline;
  co_return co_await Json(std::move(request), as);
}

boost::asio::awaitable<Result<std::optional<boost::json::object>>> PeerCaller::FindJson(
    std::string target, auth::Identity as, Deadline deadline) {
  auto body = co_await GetJson(std::move(target), std::move(as), deadline);
  if (body.ok()) co_return std::optional<boost::json::object>(std::move(*body));
  if (body.error().code == Errc::kNotFound) co_return std::optional<boost::json::object>();
  co_return std::move(body).error();
}

Error ErrorOfReply(const Reply& reply) {
  const unsigned status = reply.response.result_int();
  const std::string where = " (" + reply.endpoint_id + " answered " + std::to_string(status) + ")";
  if (status < 500) {
    boost::system::error_code ec;
    const boost::json::value body = boost::json::parse(reply.response.body(), ec);
    if (!ec && body.is_object()) {
      const auto* error = body.as_object().if_contains("error");
      if (error && error->is_object()) {
        const auto* code = error->as_object().if_contains("code");
        const auto* message = error->as_object().if_contains("message");
        if (code && code->is_string()) {
          if (const auto errc = ErrcFromName(code->as_string())) {
            return MakeError(*errc, message && message->is_string()
                                        ? std::string(message->as_string())
                                        : std::string(ErrcName(*errc)));
          }
        }
      }
    }
  }
  return MakeError(Errc::kUnavailable, "the peer service cannot answer now" + where);
}

Result<boost::json::object> JsonOfReply(const Reply& reply) {
  const unsigned status = reply.response.result_int();
  if (status < 200 || status >= 300) return ErrorOfReply(reply);
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(reply.response.body(), ec);
  if (ec || !body.is_object()) {
    return MakeError(Errc::kUnavailable, "the peer service answered a body that is not JSON (" +
                                             reply.endpoint_id + ")");
  }
  return std::move(body.as_object());
}

}  // namespace rocketmart::http::client
