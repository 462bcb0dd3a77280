#include "services/members/adapters/http_routes.hpp"

#include <boost/json.hpp>

#include "core/time_format.hpp"
#include "infra/json/json.hpp"
#include "services/members/adapters/link_pages.hpp"

namespace rocketmart::members {
namespace {

using boost::asio::awaitable;
using http::Request;
using http::Response;

// Loose bounds at the JSON layer (shape and size); the domain applies the real rules so one
// message explains them.
constexpr json::StringBounds kEmail{.min_chars = 1, .max_chars = kEmailMaxChars};
constexpr json::StringBounds kPassword{.min_chars = 1, .max_chars = kPasswordMaxChars};
constexpr json::StringBounds kName{.min_chars = 1, .max_chars = kNameMaxChars};
constexpr json::StringBounds kPhone{.min_chars = 0, .max_chars = kPhoneMaxChars};
constexpr json::StringBounds kAddress{.min_chars = 0, .max_chars = kAddressMaxChars};
constexpr json::StringBounds kToken{.min_chars = 1, .max_chars = kTokenMaxChars};
constexpr std::int64_t kMaxMembersPage = 100;

constexpr http::RouteOptions kPublic{
    .access = http::Access::kPublic, .json_body = true, .max_body_bytes = kMaxBodyBytes};
constexpr http::RouteOptions kMember{
    .access = http::Access::kMember, .json_body = true, .max_body_bytes = kMaxBodyBytes};
// The HTML pages mailed links open (GET, no body).
constexpr http::RouteOptions kPage{
    .access = http::Access::kPublic, .json_body = false, .max_body_bytes = kMaxBodyBytes};
// A page opened from a mailed link carries its token in the query (read by the page's script).
http::RouteOptions TokenPage() {
  http::RouteOptions options = kPage;
  options.query = {"token"};
  return options;
}

Response Error(const rocketmart::Error& error) {
  if (error.code == Errc::kRateLimited) {
    rocketmart::Error shown = error;
    const std::string retry_after = shown.field;
    shown.field.clear();
    Response res = http::ErrorResponse(shown);
    if (!retry_after.empty()) res.set(http::beast_http::field::retry_after, retry_after);
    return res;
  }
  return http::ErrorResponse(error);
}

Response Accepted() {
  boost::json::object o;
  o["status"] = "accepted";
  o["message"] = "If the address can receive mail from us, a message is on its way.";
  return http::JsonResponse(http::Status::accepted, o);
}

// Throttles key on the client the server vouches for (a trusted proxy's report), not the peer.
std::string Ip(const Request& req) {
  return req.client.to_string();
}

boost::json::object TokensJson(const TokenPair& t) {
  boost::json::object o;
  o["accessToken"] = t.access_token;
  o["refreshToken"] = t.refresh_token;
  o["expiresIn"] = t.expires_in;
  o["tokenType"] = "Bearer";
  return o;
}

boost::json::value Optional(const std::optional<std::string>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

boost::json::object ProfileJson(const ProfileView& p) {
  boost::json::object o;
  o["id"] = p.id;
  o["email"] = p.email;
  o["name"] = p.name;
  o["phone"] = Optional(p.phone);
  o["address"] = Optional(p.address);
  o["emailVerified"] = p.email_verified;
  o["role"] = RoleName(p.role);
  o["createdAt"] = FormatRfc3339(p.created_at);
  return o;
}

template <class T, class F>
boost::json::value SectionJson(const Section<T>& section, F to_json) {
  if (!section.items) return boost::json::object{{"error", "unavailable"}};
  boost::json::array items;
  for (const T& item : *section.items) items.push_back(to_json(item));
  return boost::json::object{{"items", std::move(items)}};
}

// Parses a body of exactly the given string fields. Every route answers errors the same way.
Result<boost::json::object> Body(const Request& req) {
  return json::ParseObject(req.Body());
}

}  // namespace

void RegisterRoutes(http::Router& router, MembersService& members) {
  router.Add(http::Method::post, "/member/signup", kPublic,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto email = r.RequiredString("email", kEmail);
               auto password = r.RequiredString("password", kPassword);
               auto name = r.RequiredString("name", kName);
               auto phone = r.OptionalString("phone", kPhone);
               auto address = r.OptionalString("address", kAddress);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               SignupInput input{std::move(*email), std::move(*password), std::move(*name),
                                 phone.value_or(""), address.value_or("")};
               auto st = co_await members.Signup(std::move(input), Ip(req));
               if (!st.ok()) co_return Error(st.error());
               co_return Accepted();
             });

  // The mailed link: a page that confirms with the POST below. The GET never reads the token.
  router.Add(http::Method::get, "/member/verify", TokenPage(), [](Request&) -> awaitable<Response> {
    co_return LinkPageResponse(LinkPage::kVerifyEmail);
  });

  router.Add(http::Method::post, "/member/verify", kPublic,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto token = r.RequiredString("token", kToken);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto outcome = co_await members.VerifyEmail(std::move(*token), Ip(req));
               if (!outcome.ok()) co_return Error(outcome.error());
               boost::json::object o;
               o["status"] = "verified";
               o["alreadyVerified"] = outcome->already_verified;
               o["message"] = outcome->already_verified
                                  ? "Your email address was already verified."
                                  : "Your email address is verified. Refresh your access token "
                                    "(POST /auth/refresh) or log in again to buy.";
               Response res = http::JsonResponse(http::Status::ok, o);
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });

  router.Add(http::Method::post, "/member/resend-verification", kPublic,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto email = r.RequiredString("email", kEmail);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto st = co_await members.ResendVerification(std::move(*email), Ip(req));
               if (!st.ok()) co_return Error(st.error());
               co_return Accepted();
             });

  router.Add(
      http::Method::post, "/auth/login", kPublic, [&members](Request& req) -> awaitable<Response> {
        auto object = Body(req);
        if (!object.ok()) co_return Error(object.error());
        json::FieldReader r(*object);
        auto email = r.RequiredString("email", kEmail);
        auto password = r.RequiredString("password", kPassword);
        if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
        auto tokens = co_await members.Login(std::move(*email), std::move(*password), Ip(req));
        if (!tokens.ok()) co_return Error(tokens.error());
        Response res = http::JsonResponse(http::Status::ok, TokensJson(*tokens));
        res.set(http::beast_http::field::cache_control, "no-store");
        co_return res;
      });

  router.Add(http::Method::post, "/auth/refresh", kPublic,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto token = r.RequiredString("refreshToken", kToken);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto tokens = co_await members.Refresh(std::move(*token));
               if (!tokens.ok()) co_return Error(tokens.error());
               Response res = http::JsonResponse(http::Status::ok, TokensJson(*tokens));
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });

  router.Add(http::Method::post, "/auth/logout", kMember,
             [&members](Request& req) -> awaitable<Response> {
               std::optional<std::string> token;
               if (!req.Body().empty()) {
                 auto object = Body(req);
                 if (!object.ok()) co_return Error(object.error());
                 json::FieldReader r(*object);
                 token = r.OptionalString("refreshToken", kToken);
                 if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               }
               auto st = co_await members.Logout(*req.identity, std::move(token));
               if (!st.ok()) co_return Error(st.error());
               co_return http::NoContent();
             });

  router.Add(http::Method::post, "/auth/logout-all",
             {.access = http::Access::kMember, .body = http::BodyRule::kNone},
             [&members](Request& req) -> awaitable<Response> {
               auto st = co_await members.LogoutAll(*req.identity);
               if (!st.ok()) co_return Error(st.error());
               co_return http::NoContent();
             });

  router.Add(http::Method::put, "/member/update-password", kMember,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto current = r.RequiredString("currentPassword", kPassword);
               auto next = r.RequiredString("newPassword", kPassword);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto st = co_await members.UpdatePassword(*req.identity, std::move(*current),
                                                         std::move(*next));
               if (!st.ok()) co_return Error(st.error());
               co_return http::NoContent();
             });

  router.Add(
      http::Method::get, "/member/find-password", kPage,
      [](Request&) -> awaitable<Response> { co_return LinkPageResponse(LinkPage::kFindPassword); });

  router.Add(http::Method::post, "/member/find-password", kPublic,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto email = r.RequiredString("email", kEmail);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto st = co_await members.FindPassword(std::move(*email), Ip(req));
               if (!st.ok()) co_return Error(st.error());
               co_return Accepted();
             });

  router.Add(http::Method::get, "/member/reset-password", TokenPage(),
             [](Request&) -> awaitable<Response> {
               co_return LinkPageResponse(LinkPage::kResetPassword);
             });

  router.Add(http::Method::post, "/member/reset-password", kPublic,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               auto token = r.RequiredString("token", kToken);
               auto next = r.RequiredString("newPassword", kPassword);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto st =
                   co_await members.ResetPassword(std::move(*token), std::move(*next), Ip(req));
               if (!st.ok()) co_return Error(st.error());
               co_return http::NoContent();
             });

  router.Add(http::Method::get, "/member/me", kMember,
             [&members](Request& req) -> awaitable<Response> {
               auto profile = co_await members.Me(req.MemberId());
               if (!profile.ok()) co_return Error(profile.error());
               Response res = http::JsonResponse(http::Status::ok, ProfileJson(*profile));
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });

  router.Add(http::Method::put, "/member/update-profile", kMember,
             [&members](Request& req) -> awaitable<Response> {
               auto object = Body(req);
               if (!object.ok()) co_return Error(object.error());
               json::FieldReader r(*object);
               ProfileChanges changes;
               changes.name = r.OptionalString("name", kName);
               changes.phone = r.OptionalString("phone", kPhone);
               changes.address = r.OptionalString("address", kAddress);
               if (auto st = r.Finish(); !st.ok()) co_return Error(st.error());
               auto profile = co_await members.UpdateProfile(req.MemberId(), std::move(changes));
               if (!profile.ok()) co_return Error(profile.error());
               Response res = http::JsonResponse(http::Status::ok, ProfileJson(*profile));
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });

  // Operators: every member, newest first, or a search by email or name prefix.
  router.Add(http::Method::get, "/admin/members",
             {.access = http::Access::kAdmin, .query = {"q", "cursor", "limit"}},
             [&members](Request& req) -> awaitable<Response> {
               auto limit = req.IntQueryParam("limit", 1, kMaxMembersPage, 20);
               if (!limit.ok()) co_return Error(limit.error());
               auto before = req.IntQueryParam("cursor", 1, INT64_MAX, 0);
               if (!before.ok()) co_return Error(before.error());
               std::optional<std::string> q = req.QueryParam("q");
               auto page = co_await members.ListMembers(std::move(q), *before,
                                                        static_cast<std::size_t>(*limit));
               if (!page.ok()) co_return Error(page.error());
               boost::json::array items;
               for (const MemberSummary& m : page->items) {
                 items.push_back({{"id", m.id},
                                  {"email", m.email},
                                  {"name", m.name},
                                  {"role", RoleName(m.role)},
                                  {"emailVerified", m.email_verified},
                                  {"createdAt", FormatRfc3339(m.created_at)}});
               }
               boost::json::object o{{"items", std::move(items)}};
               o["total"] =
                   page->total ? boost::json::value(*page->total) : boost::json::value(nullptr);
               o["nextCursor"] = page->next_before_id > 0
                                     ? boost::json::value(std::to_string(page->next_before_id))
                                     : boost::json::value(nullptr);
               Response res = http::JsonResponse(http::Status::ok, o);
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });

  router.Add(http::Method::get, "/member/mypage", kMember,
             [&members](Request& req) -> awaitable<Response> {
               auto page = co_await members.MyPage(req.MemberId(), req.deadline);
               if (!page.ok()) co_return Error(page.error());
               boost::json::object o;
               o["profile"] = ProfileJson(page->profile);
               o["orders"] = SectionJson(page->orders, [](const OrderSummary& s) {
                 return boost::json::object{{"id", s.id},
                                            {"status", s.status},
                                            {"total", s.total},
                                            {"createdAt", FormatRfc3339(s.created_at)}};
               });
               o["wishlist"] = SectionJson(page->wishlist, [](const WishlistEntry& w) {
                 return boost::json::object{{"productId", w.product_id}, {"quantity", w.quantity}};
               });
               o["likes"] = SectionJson(page->likes, [](const LikedProduct& l) {
                 return boost::json::object{{"productId", l.product_id}};
               });
               Response res = http::JsonResponse(http::Status::ok, o);
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });
}

}  // namespace rocketmart::members
