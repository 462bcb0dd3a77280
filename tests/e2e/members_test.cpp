// Members end to end: the built binary on a free port, mail through the .eml sink (and, in one
// test, a real SMTP server), driven over HTTP like a client would.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <latch>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "auth/base64url.hpp"
#include "core/time_format.hpp"
#include "support/http_client.hpp"
#include "support/mail_folder.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/smtp_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

constexpr const char* kPassword = "correct horse battery";

std::string Json(std::initializer_list<std::pair<const char*, std::string>> fields) {
  boost::json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  return boost::json::serialize(o);
}

// Follows a mailed verification link as a browser does: GET opens the page, and its script
// confirms with POST /member/verify {token} (the token taken from the link).
HttpResponse FollowVerificationLink(HttpClient& c, const std::string& link) {
  const std::string path = link.substr(link.find("/member/verify?token="));
  EXPECT_EQ(c.Get(path).status, 200) << link;
  return c.PostJson("/member/verify", Json({{"token", link.substr(link.find("token=") + 6)}}));
}

class Members : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(
        {.env = {{"ROCKETMART_MEMBERS_PUBLIC_BASE_URL", "https://shop.example"}}});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  HttpClient Client() { return HttpClient(server_->port()); }

  // The newest mail to `to` in the .eml sink (waits, bounded, for the mail worker).
  static std::string MailTo(const std::string& to, std::size_t nth = 1) {
    std::vector<std::string> found;
    const bool arrived = WaitUntil([&] {
      found = MailsIn(server_->data_dir() / "mail", to);
      return found.size() >= nth;
    });
    if (!arrived) return "";
    return found.back();
  }
  static std::string TokenOf(const std::string& link) {
    return link.substr(link.find("token=") + 6);
  }

  // Signs up and follows the verification link; returns the login answer.
  static boost::json::object Register(HttpClient& c, const std::string& email) {
    auto r = c.PostJson("/member/signup", Json({{"email", email},
                                                {"password", kPassword},
                                                {"name", "Ann"},
                                                {"phone", "+82 10-1234-5678"},
                                                {"address", "Seoul"}}));
    EXPECT_EQ(r.status, 202) << r.body;
    const std::string link = FindLink(PlainTextPart(MailTo(email)), "/member/verify?token=");
    EXPECT_FALSE(link.empty());
    EXPECT_EQ(link.rfind("https://shop.example/member/verify?token=", 0), 0u) << link;
    auto v = FollowVerificationLink(c, link);
    EXPECT_EQ(v.status, 200) << v.body;
    return Login(c, email);
  }
  static boost::json::object Login(HttpClient& c, const std::string& email,
                                   const std::string& password = kPassword) {
    auto r = c.PostJson("/auth/login", Json({{"email", email}, {"password", password}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.Json().as_object() : boost::json::object{};
  }
  static std::string Access(const boost::json::object& tokens) {
    return std::string(tokens.at("accessToken").as_string());
  }
  static std::string Refresh(const boost::json::object& tokens) {
    return std::string(tokens.at("refreshToken").as_string());
  }

  static ServerProcess* server_;
};

ServerProcess* Members::server_ = nullptr;

TEST_F(Members, SignupVerifyLoginAndProfile) {
  auto c = Client();
  const auto tokens = Register(c, "ann@example.com");
  EXPECT_EQ(tokens.at("expiresIn").as_int64(), 900);
  auto me = c.Get("/member/me", Access(tokens));
  ASSERT_EQ(me.status, 200) << me.body;
  const auto profile = me.Json().as_object();
  EXPECT_EQ(profile.at("email").as_string(), "ann@example.com");
  EXPECT_EQ(profile.at("phone").as_string(), "+82 10-1234-5678");
  EXPECT_EQ(profile.at("address").as_string(), "Seoul");
  EXPECT_TRUE(profile.at("emailVerified").as_bool());
  EXPECT_EQ(profile.at("role").as_string(), "user");

  auto updated = c.PutJson("/member/update-profile", R"({"address":"Busan"})", Access(tokens));
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Json().at("address").as_string(), "Busan");

  // Something liked shows up on my page, gathered from the catalog.
  auto product = c.PostJson("/products", R"({"name":"Liked","price":1,"stock":1})",
                            server_->FastToken(1, true));
  ASSERT_EQ(product.status, 201) << product.body;
  const std::int64_t product_id = product.Json().at("id").as_int64();
  ASSERT_EQ(c.Request("PUT", "/products/" + std::to_string(product_id) + "/like", "",
                      {{"Authorization", "Bearer " + Access(tokens)}})
                .status,
            200);

  auto page = c.Get("/member/mypage", Access(tokens));
  ASSERT_EQ(page.status, 200) << page.body;
  const auto mypage = page.Json().as_object();
  EXPECT_EQ(mypage.at("profile").at("email").as_string(), "ann@example.com");
  EXPECT_TRUE(mypage.at("orders").as_object().contains("items")) << page.body;
  EXPECT_TRUE(mypage.at("wishlist").as_object().contains("items")) << page.body;
  const auto& likes = mypage.at("likes").at("items").as_array();
  ASSERT_EQ(likes.size(), 1u) << page.body;
  EXPECT_EQ(likes[0].at("productId").as_int64(), product_id);
}

TEST_F(Members, NoEnumerationThroughSignupResendOrReset) {
  auto c = Client();
  Register(c, "bo@example.com");
  auto taken = c.PostJson(
      "/member/signup",
      Json({{"email", "bo@example.com"}, {"password", "another good one"}, {"name", "Mallory"}}));
  auto fresh = c.PostJson(
      "/member/signup",
      Json({{"email", "new-bo@example.com"}, {"password", "another good one"}, {"name", "Bo"}}));
  EXPECT_EQ(taken.status, 202);
  EXPECT_EQ(taken.body, fresh.body);
  EXPECT_NE(MailTo("bo@example.com", 2).find("Someone tried to sign up"), std::string::npos);
  for (const char* path : {"/member/find-password", "/member/resend-verification"}) {
    auto known = c.PostJson(path, Json({{"email", "bo@example.com"}}));
    auto unknown = c.PostJson(path, Json({{"email", "nobody@example.com"}}));
    EXPECT_EQ(known.status, 202) << path;
    EXPECT_EQ(known.body, unknown.body) << path;
  }
  auto wrong =
      c.PostJson("/auth/login", Json({{"email", "bo@example.com"}, {"password", "nope nope"}}));
  auto none =
      c.PostJson("/auth/login", Json({{"email", "zz@example.com"}, {"password", "nope nope"}}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, none.body);
}

TEST_F(Members, BadInputIsRejectedWithoutA500) {
  auto c = Client();
  struct Case {
    std::string path, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"/member/signup", "{", 400, "MALFORMED_JSON"},
      {"/member/signup", "[]", 400, "MALFORMED_JSON"},
      {"/member/signup", R"({"email":"x","password":"correct horse battery","name":"A"})", 400,
       "VALIDATION_FAILED"},
      {"/member/signup", R"({"email":"a@b.com","password":"password","name":"A"})", 400,
       "VALIDATION_FAILED"},
      {"/member/signup",
       R"({"email":"a@b.com","password":"correct horse battery","name":"A","role":"admin"})", 400,
       "VALIDATION_FAILED"},
      {"/member/signup",
       R"({"email":"a@b.com","password":"correct horse battery","name":")" + std::string(101, 'n') +
           "\"}",
       400, "VALIDATION_FAILED"},
      {"/member/signup", "{\"email\":\"" + std::string(5000, 'a') + "\"}", 413,
       "PAYLOAD_TOO_LARGE"},
      {"/auth/login", R"({"email":1,"password":"x"})", 400, "VALIDATION_FAILED"},
      {"/auth/refresh", R"({"refreshToken":"short"})", 401, "UNAUTHENTICATED"},
      {"/member/reset-password", R"({"token":"abc","newPassword":"correct horse battery"})", 400,
       "VALIDATION_FAILED"},
  };
  for (const auto& k : cases) {
    auto r = c.PostJson(k.path, k.body);
    EXPECT_EQ(r.status, k.status) << k.path << " " << k.body.substr(0, 80) << " -> " << r.body;
    EXPECT_EQ(r.ErrorCode(), k.code) << k.path;
  }
  auto text = c.Request("POST", "/auth/login", R"({"email":"a@b.com","password":"x"})",
                        {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.status, 415);
  EXPECT_EQ(c.PostJson("/member/verify", Json({{"token", std::string(64, 'a')}})).status, 400);
  EXPECT_EQ(c.PostJson("/member/verify", "{}").status, 400);
  EXPECT_EQ(c.PostJson("/member/verify", R"({"token":"x","extra":1})").status, 400);
  // Nothing was created by any of it.
  auto login = c.PostJson("/auth/login", Json({{"email", "a@b.com"}, {"password", kPassword}}));
  EXPECT_EQ(login.status, 401);
}

TEST_F(Members, ForgedTokensAreRejectedAtTheGateway) {
  auto c = Client();
  const auto tokens = Register(c, "cy@example.com");
  const std::string good = Access(tokens);
  ASSERT_EQ(c.Get("/member/me", good).status, 200);
  std::string flipped = good;
  flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'A' ? 'B' : 'A';
  const std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  for (const std::string& bad :
       {flipped, std::string("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.") + payload + ".",
        good.substr(0, good.rfind('.') + 1), Refresh(tokens), std::string("garbage")}) {
    auto r = c.Get("/member/me", bad);
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(r.body.find("cy@example.com"), std::string::npos);
  }
}

TEST_F(Members, RefreshRotationReuseAndParallelUse) {
  auto c = Client();
  const auto t0 = Register(c, "dee@example.com");
  auto r1 = c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(t0)}}));
  ASSERT_EQ(r1.status, 200) << r1.body;
  const std::string rotated(r1.Json().at("refreshToken").as_string());
  EXPECT_NE(rotated, Refresh(t0));
  EXPECT_EQ(c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(t0)}})).status, 401);
  EXPECT_EQ(c.PostJson("/auth/refresh", Json({{"refreshToken", rotated}})).status, 401);

  // Six clients, each on its own connection, released together: exactly one refresh wins, the
  // others are told 401 (a spent token).
  const auto t1 = Login(c, "dee@example.com");
  constexpr int kClients = 6;
  std::latch start(kClients);
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] {
      HttpClient own(server_->port());
      const std::string body = Json({{"refreshToken", Refresh(t1)}});
      start.arrive_and_wait();
      const auto r = own.PostJson("/auth/refresh", body);
      if (r.status == 200) {
        ++ok;
      } else if (r.status == 401) {
        ++refused;
      } else {
        ADD_FAILURE() << r.status << " " << r.body;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), kClients - 1);
}

TEST_F(Members, RefreshReuseAndLogoutEndTheSessionsAccessTokensAtOnce) {
  auto c = Client();
  const auto first = Register(c, "dot@example.com");
  auto rotated = c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(first)}}));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const auto second = rotated.Json().as_object();
  const auto other = Login(c, "dot@example.com");  // another session of the same member
  ASSERT_EQ(c.Get("/member/me", Access(first)).status, 200);
  ASSERT_EQ(c.Get("/member/me", Access(second)).status, 200);

  // The spent refresh token comes back: someone holds a copy. The family is revoked and every
  // access token it issued stops at once, not when it expires 15 minutes later.
  EXPECT_EQ(c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(first)}})).status, 401);
  EXPECT_EQ(c.Get("/member/me", Access(first)).status, 401);
  EXPECT_EQ(c.Get("/member/me", Access(second)).status, 401);
  EXPECT_EQ(c.Get("/member/me", Access(other)).status, 200);  // the other session lives

  // Logout with the newest access token also ends the older ones of its session.
  auto next = c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(other)}}));
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(c.PostJson("/auth/logout", "", Access(next.Json().as_object())).status, 204);
  EXPECT_EQ(c.Get("/member/me", Access(other)).status, 401);
}

TEST_F(Members, ATokenFromBeforeVerificationIsToldToRefresh) {
  auto c = Client();
  const std::int64_t product = CreateProductOnSale(*server_, 10, 5);
  ASSERT_EQ(
      c.PostJson("/member/signup",
                 Json({{"email", "pre@example.com"}, {"password", kPassword}, {"name", "Pre"}}))
          .status,
      202);
  const auto early = Login(c, "pre@example.com");  // before verifying: email_verified is false
  const std::string link =
      FindLink(PlainTextPart(MailTo("pre@example.com")), "/member/verify?token=");
  ASSERT_EQ(FollowVerificationLink(c, link).status, 200);
  const std::string buy = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  auto refused = c.PostJson("/payment/request", buy, Access(early));
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.ErrorCode(), "EMAIL_NOT_VERIFIED");
  // The address is verified by now; the token was minted before. The message says what to do.
  const std::string message(refused.Json().at("error").at("message").as_string());
  EXPECT_NE(message.find("POST /auth/refresh"), std::string::npos) << message;
  EXPECT_NE(message.find("log in again"), std::string::npos) << message;
  auto refreshed = c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(early)}}));
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(c.PostJson("/payment/request", buy, Access(refreshed.Json().as_object())).status, 201);
}

TEST_F(Members, LogoutPasswordChangeAndResetEndSessions) {
  auto c = Client();
  const auto a = Register(c, "eve@example.com");
  const auto b = Login(c, "eve@example.com");
  EXPECT_EQ(c.PostJson("/auth/logout", Json({{"refreshToken", Refresh(a)}}), Access(a)).status,
            204);
  EXPECT_EQ(c.Get("/member/me", Access(a)).status, 401);  // denied at once, not at exp
  EXPECT_EQ(c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(a)}})).status, 401);
  EXPECT_EQ(c.Get("/member/me", Access(b)).status, 200);  // the other session lives

  const auto d = Login(c, "eve@example.com");
  auto wrong = c.PutJson(
      "/member/update-password",
      Json({{"currentPassword", "not it at all"}, {"newPassword", "new secret one"}}), Access(d));
  EXPECT_EQ(wrong.status, 400);
  auto changed = c.PutJson(
      "/member/update-password",
      Json({{"currentPassword", kPassword}, {"newPassword", "new secret one"}}), Access(d));
  ASSERT_EQ(changed.status, 204) << changed.body;
  EXPECT_EQ(c.Get("/member/me", Access(b)).status, 401);
  EXPECT_EQ(c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(b)}})).status, 401);
  auto mine = c.PostJson("/auth/refresh", Json({{"refreshToken", Refresh(d)}}));
  EXPECT_EQ(mine.status, 200) << mine.body;  // the caller's own session continues

  // Reset, asked with a hostile Host header: the link still uses the configured base URL.
  auto asked = c.Request("POST", "/member/find-password", Json({{"email", "eve@example.com"}}),
                         {{"Content-Type", "application/json"}, {"Host", "evil.example"}});
  EXPECT_EQ(asked.status, 202);
  const std::string mail = PlainTextPart(MailTo("eve@example.com", 2));
  EXPECT_EQ(mail.find("evil.example"), std::string::npos);
  const std::string link = FindLink(mail, "/member/reset-password?token=");
  ASSERT_FALSE(link.empty()) << mail;
  const std::string body = Json({{"token", TokenOf(link)}, {"newPassword", "after the reset"}});
  EXPECT_EQ(c.PostJson("/member/reset-password", body).status, 204);
  EXPECT_EQ(c.PostJson("/member/reset-password", body).status, 400);  // single use
  const auto e = Login(c, "eve@example.com", "after the reset");
  EXPECT_FALSE(e.empty());

  EXPECT_EQ(c.PostJson("/auth/logout-all", "", Access(e)).status, 204);
  EXPECT_EQ(c.Get("/member/me", Access(e)).status, 401);
}

TEST_F(Members, BruteForceIsThrottledWithRetryAfter) {
  auto c = Client();
  Register(c, "fay@example.com");
  int limited = 0;
  std::string retry_after;
  for (int i = 0; i < 8; ++i) {
    auto r = c.PostJson("/auth/login", Json({{"email", "fay@example.com"},
                                             {"password", "guess " + std::to_string(i)}}));
    EXPECT_NE(r.status, 200);
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.ErrorCode(), "RATE_LIMITED");
      retry_after = r.Header("Retry-After");
    }
  }
  EXPECT_GT(limited, 0);
  EXPECT_FALSE(retry_after.empty());
}

TEST_F(Members, NoRouteReadsAnotherMembersData) {
  auto c = Client();
  const auto gus = Register(c, "gus@example.com");
  const auto hal = Register(c, "hal@example.com");
  for (const char* path : {"/member/1", "/member/gus@example.com", "/member/me/1"}) {
    auto r = c.Get(path, Access(hal));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("gus@example.com"), std::string::npos);
  }
  EXPECT_EQ(c.Get("/member/me", Access(hal)).Json().at("email").as_string(), "hal@example.com");
  // Mass assignment: id, email and role are not profile fields.
  for (const char* body : {R"({"role":"admin"})", R"({"id":1})", R"({"email":"x@y.com"})"}) {
    EXPECT_EQ(c.PutJson("/member/update-profile", body, Access(hal)).status, 400) << body;
  }
  EXPECT_EQ(c.Get("/member/me", Access(hal)).Json().at("role").as_string(), "user");
  EXPECT_EQ(c.Get("/member/me", Access(gus)).Json().at("email").as_string(), "gus@example.com");
}

TEST_F(Members, AdminBootstrapFromTheCommandLine) {
  RunCommand({BinaryPath(), "admin", "create", "--data-dir", server_->data_dir().string(),
              "--email", "root@example.com"},
             {{"ROCKETMART_ADMIN_PASSWORD", "a long admin passphrase"}});
  auto c = Client();
  const auto tokens = Login(c, "root@example.com", "a long admin passphrase");
  auto me = c.Get("/member/me", Access(tokens));
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.Json().at("role").as_string(), "admin");
  EXPECT_TRUE(me.Json().at("emailVerified").as_bool());
  auto created =
      c.PostJson("/products", R"({"name":"Rocket","price":1000,"stock":5})", Access(tokens));
  EXPECT_EQ(created.status, 201) << created.body;
}

TEST(MembersSmtp, VerificationMailGoesThroughARealSmtpServer) {
  SmtpServer smtp;
  ServerProcess server({.env = {{"ROCKETMART_MAIL_TRANSPORT", "smtp"},
                                {"ROCKETMART_MAIL_SMTP_URL", smtp.Url()},
                                {"ROCKETMART_MEMBERS_PUBLIC_BASE_URL", "https://shop.example"}}});
  HttpClient c(server.port());
  auto r =
      c.PostJson("/member/signup",
                 Json({{"email", "smtp@example.com"}, {"password", kPassword}, {"name", "Sam"}}));
  ASSERT_EQ(r.status, 202);
  auto messages = smtp.WaitForMessages(1);
  ASSERT_EQ(messages.size(), 1u);
  const std::string link = FindLink(PlainTextPart(messages[0]), "/member/verify?token=");
  ASSERT_EQ(link.rfind("https://shop.example/member/verify?token=", 0), 0u) << link;
  EXPECT_EQ(FollowVerificationLink(c, link).status, 200);
  auto login =
      c.PostJson("/auth/login", Json({{"email", "smtp@example.com"}, {"password", kPassword}}));
  ASSERT_EQ(login.status, 200);
  auto me = c.Get("/member/me", std::string(login.Json().at("accessToken").as_string()));
  EXPECT_TRUE(me.Json().at("emailVerified").as_bool());
}

}  // namespace
}  // namespace rocketmart::testing

namespace rocketmart::testing {
namespace {

std::string TokenCommand(const ServerProcess& server, std::vector<std::string> args) {
  std::vector<std::string> argv = {BinaryPath(), "token", "--data-dir", server.data_dir().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out = RunCommand(argv);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(MembersTokens, TokensAreForRealMembersOrSyntheticIdentitiesThatNeverCollide) {
  ServerProcess server;
  HttpClient c(server.port());
  // Nobody has signed up yet: there is no member 1, and the command refuses to sign for it.
  EXPECT_THROW(TokenCommand(server, {"--member", "1"}), std::runtime_error);
  EXPECT_THROW(TokenCommand(server, {"--member", "1", "--role", "admin"}), std::runtime_error);
  // The synthetic range is only reachable by asking for it.
  EXPECT_THROW(TokenCommand(server, {"--member", "9007199254740993"}), std::runtime_error);

  // A synthetic load-test identity buys (no signup needed)...
  const std::int64_t product = CreateProductOnSale(server, 10, 5);
  const std::string buy = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  const std::string synthetic = TokenCommand(server, {"--synthetic", "--member", "1"});
  ASSERT_EQ(c.PostJson("/payment/request", buy, synthetic).status, 201);
  EXPECT_TRUE(WaitUntil(
      [&] { return c.Get("/order", synthetic).Json().at("items").as_array().size() == 1; }));
  EXPECT_EQ(c.Get("/member/me", synthetic).status, 404);  // it is nobody

  // ...and the first real member, id 1, inherits nothing of it.
  RunCommand({BinaryPath(), "admin", "create", "--data-dir", server.data_dir().string(), "--email",
              "first@example.com"},
             {{"ROCKETMART_ADMIN_PASSWORD", "a long admin passphrase"}});
  const std::string first = TokenCommand(server, {"--member", "1"});
  auto me = c.Get("/member/me", first);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Json().at("id").as_int64(), 1);
  EXPECT_EQ(me.Json().at("role").as_string(), "admin");  // the member's own role by default
  EXPECT_EQ(c.Get("/order", first).Json().at("items").as_array().size(), 0u);

  // A token never claims more than the member has: no admin role for a user, and an unverified
  // member's token says so.
  ASSERT_EQ(c.PostJson("/member/signup", R"({"email":"second@example.com","password":)"
                                         R"("correct horse battery","name":"Second"})")
                .status,
            202);
  EXPECT_THROW(TokenCommand(server, {"--member", "2", "--role", "admin"}), std::runtime_error);
  const std::string second = TokenCommand(server, {"--member", "2"});
  EXPECT_EQ(c.Get("/member/me", second).Json().at("email").as_string(), "second@example.com");
  EXPECT_EQ(c.PostJson("/payment/request", buy, second).ErrorCode(), "EMAIL_NOT_VERIFIED");

  // Read-only, so it works while the server runs and after it stopped.
  server.Terminate();
  EXPECT_FALSE(TokenCommand(server, {"--member", "1"}).empty());
  EXPECT_THROW(TokenCommand(server, {"--member", "3"}), std::runtime_error);
}

}  // namespace
}  // namespace rocketmart::testing

namespace rocketmart::testing {
namespace {

std::map<std::string, std::string> ReadDemoAccounts(const std::filesystem::path& data_dir) {
  std::map<std::string, std::string> values;
  std::ifstream in(data_dir / "demo-accounts.env");
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

TEST(MembersDemo, TheDemoAccountsAreRealWithPasswordsGeneratedPerDataDirectory) {
  if (OnCluster()) GTEST_SKIP() << kNoDemoSeedOnCluster;
  ServerOptions options;
  options.seed_demo = true;
  ServerProcess server(options);
  const auto file = server.data_dir() / "demo-accounts.env";
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto demo = ReadDemoAccounts(server.data_dir());
  ASSERT_EQ(demo.size(), 6u);

  // The buyer logs in like any client, is verified and buys a demo product (the sneakers).
  HttpClient c(server.port());
  auto login = c.PostJson("/auth/login", boost::json::serialize(boost::json::object{
                                             {"email", demo["DEMO_BUYER_EMAIL"]},
                                             {"password", demo["DEMO_BUYER_PASSWORD"]}}));
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string buyer(login.Json().at("accessToken").as_string());
  auto me = c.Get("/member/me", buyer);
  EXPECT_EQ(me.Json().at("role").as_string(), "user");
  EXPECT_TRUE(me.Json().at("emailVerified").as_bool());
  EXPECT_EQ(std::to_string(me.Json().at("id").as_int64()), demo["DEMO_BUYER_ID"]);
  EXPECT_TRUE(WaitUntil([&] {
    auto s = c.Get("/payment/1/sale");
    return s.status == 200 && s.Json().at("state").as_string() == "live";
  }));
  EXPECT_EQ(c.PostJson("/payment/request", R"({"productId":1,"amount":1})", buyer).status, 201);

  // The admin, through `rocketmart token --member <its id>`, is an admin.
  const std::string admin = TokenCommand(server, {"--member", demo["DEMO_ADMIN_ID"]});
  EXPECT_EQ(c.Get("/member/me", admin).Json().at("role").as_string(), "admin");
  EXPECT_EQ(
      c.PostJson("/products", R"({"name":"Comet Jacket","price":259000,"stock":50})", admin).status,
      201);

  // Another data directory gets other passwords; a restart keeps these ones.
  ServerProcess other(options);
  const auto other_demo = ReadDemoAccounts(other.data_dir());
  EXPECT_NE(other_demo.at("DEMO_BUYER_PASSWORD"), demo["DEMO_BUYER_PASSWORD"]);
  EXPECT_NE(other_demo.at("DEMO_ADMIN_PASSWORD"), demo["DEMO_ADMIN_PASSWORD"]);
  server.Restart();
  EXPECT_EQ(ReadDemoAccounts(server.data_dir()), demo);
  HttpClient again(server.port());
  EXPECT_EQ(again
                .PostJson("/auth/login", boost::json::serialize(boost::json::object{
                                             {"email", demo["DEMO_ADMIN_EMAIL"]},
                                             {"password", demo["DEMO_ADMIN_PASSWORD"]}}))
                .status,
            200);
}

// The key id in a token's header.
std::string KidOf(const std::string& token) {
  const auto header = auth::Base64UrlDecode(token.substr(0, token.find('.')));
  if (!header) return "";
  return std::string(boost::json::parse(*header).at("kid").as_string());
}

// Battery G2 through the real binary: a server signing with k1 is restarted on k2 with k1 as the
// retiring key. k1's access tokens keep working during the grace period, the session's refresh
// token too (it is opaque: no key), and new tokens carry only k2; once the grace period is over
// (the same directory started with an end in the past), k1's tokens answer 401 and k2's keep
// working.
TEST(MembersKeys, ARotatedKeysTokensWorkUntilTheGraceEndsAndNewTokensCarryTheNewKey) {
  if (OnCluster()) GTEST_SKIP() << kNoDemoSeedOnCluster;
  TempDir dir;
  const std::string k1_secret(64, 'a'), k2_secret(64, 'b');
  auto login = [](HttpClient& c, std::map<std::string, std::string>& demo) {
    auto r = c.PostJson("/auth/login", boost::json::serialize(boost::json::object{
                                           {"email", demo["DEMO_BUYER_EMAIL"]},
                                           {"password", demo["DEMO_BUYER_PASSWORD"]}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.Json().as_object() : boost::json::object{};
  };
  auto text = [](const boost::json::object& o, const char* name) {
    return std::string(o.at(name).as_string());
  };

  std::string k1_access, k1_refresh;
  std::map<std::string, std::string> demo;
  {
    ServerProcess k1(
        {.env = {{"ROCKETMART_AUTH_SECRET", k1_secret}, {"ROCKETMART_AUTH_KEY_ID", "k1"}},
         .data_dir = dir.path(),
         .seed_demo = true});
    demo = ReadDemoAccounts(dir.path());
    HttpClient c(k1.port());
    const auto tokens = login(c, demo);
    k1_access = text(tokens, "accessToken");
    k1_refresh = text(tokens, "refreshToken");
    EXPECT_EQ(KidOf(k1_access), "k1");
    EXPECT_EQ(c.Get("/member/me", k1_access).status, 200);
  }

  std::map<std::string, std::string> rotated = {
      {"ROCKETMART_AUTH_SECRET", k2_secret},
      {"ROCKETMART_AUTH_KEY_ID", "k2"},
      {"ROCKETMART_AUTH_PREVIOUS_KEY_ID", "k1"},
      {"ROCKETMART_AUTH_PREVIOUS_SECRET", k1_secret},
      {"ROCKETMART_AUTH_PREVIOUS_KEY_UNTIL",
       FormatRfc3339(std::chrono::system_clock::now() + std::chrono::hours(1))}};
  std::string k2_access;
  {
    ServerProcess during({.env = rotated, .data_dir = dir.path(), .seed_demo = true});
    HttpClient c(during.port());
    EXPECT_EQ(c.Get("/member/me", k1_access).status, 200);  // in its grace period
    const auto fresh = login(c, demo);
    k2_access = text(fresh, "accessToken");
    EXPECT_EQ(KidOf(k2_access), "k2");
    // A refresh token is opaque (a database record, no key): the session from before the
    // rotation goes on, and the access token it returns is signed with k2.
    auto refreshed = c.PostJson(
        "/auth/refresh", boost::json::serialize(boost::json::object{{"refreshToken", k1_refresh}}));
    ASSERT_EQ(refreshed.status, 200) << refreshed.body;
    EXPECT_EQ(KidOf(text(refreshed.Json().as_object(), "accessToken")), "k2");
    EXPECT_EQ(c.Get("/member/me", k2_access).status, 200);
  }

  rotated["ROCKETMART_AUTH_PREVIOUS_KEY_UNTIL"] =
      FormatRfc3339(std::chrono::system_clock::now() - std::chrono::seconds(1));
  ServerProcess after({.env = rotated, .data_dir = dir.path(), .seed_demo = true});
  HttpClient c(after.port());
  auto refused = c.Get("/member/me", k1_access);
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_EQ(c.Get("/member/me", k2_access).status, 200);
}

}  // namespace
}  // namespace rocketmart::testing

namespace rocketmart::testing {
namespace {

// Wilcoxon signed-rank test of paired differences, as a z score (normal approximation, ties
// given their mean rank, zero differences left out).
double SignedRankZ(const std::vector<double>& diffs) {
  std::vector<std::pair<double, bool>> ranked;  // |d|, d > 0
  for (double d : diffs) {
    if (d != 0) ranked.emplace_back(std::abs(d), d > 0);
  }
  std::sort(ranked.begin(), ranked.end());
  double positive_rank_sum = 0;
  for (std::size_t i = 0; i < ranked.size();) {
    std::size_t j = i;
    while (j < ranked.size() && ranked[j].first == ranked[i].first) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) {
      if (ranked[k].second) positive_rank_sum += mean_rank;
    }
    i = j;
  }
  const double n = static_cast<double>(ranked.size());
  if (n == 0) return 0;
  return (positive_rank_sum - n * (n + 1) / 4) / std::sqrt(n * (n + 1) * (2 * n + 1) / 24);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// POST /member/find-password and /member/resend-verification must not tell, by their answer time,
// whether an address is registered: the same status, body and headers are not enough if a
// registered address takes a millisecond longer. Each address is asked about as an attacker would
// (a few times at most, so per-account mail limits do not hide the difference).
//
// The samples are pairs: a registered and an unknown address asked back to back, in an order a
// coin decides, and the test looks at each pair's difference (registered minus unknown). Noise
// that lasts longer than two requests falls on both halves of a pair alike and cancels: on the
// cluster (two more hops, a dozen processes on two cores) answer times jump between ~0.5 ms and
// ~4 ms for stretches of dozens of requests, which moved the medians of two unpaired samples by
// up to 1 ms with no difference in path (z -1.27, medians 1.18 vs 2.27 ms). The coin makes each
// difference's sign a fair coin unless the address changes the answer time, whatever the noise,
// so the signed-rank test below holds in that case; a real difference of 1 ms moves nearly every
// pair's sign and gives |z| far above the bound (a 1 ms delay for registered addresses gave
// z 12.3 embedded and 8.4 on the cluster: docs/cluster.md, "Mail-request timing"). The data
// directory is on storage.synchronous=normal: with full, every commit's fsync adds the disk's noise
// to both sides alike, which this test does not need to measure.
TEST(MembersTiming, MailRequestsTakeTheSameTimeForRegisteredAndUnknownAddresses) {
  ServerProcess server({.env = {{"ROCKETMART_MEMBERS_MAILS_PER_IP_PER_HOUR", "1000000"},
                                {"ROCKETMART_MEMBERS_SIGNUPS_PER_IP_PER_HOUR", "1000000"},
                                {"ROCKETMART_STORAGE_SYNCHRONOUS", "normal"}}});
  HttpClient c(server.port());
  constexpr int kAccounts = 100;
  constexpr int kAsksPerAddress = 2;  // within the per-account limit of 3 mails an hour
  std::vector<std::string> registered, unknown;
  for (int i = 0; i < kAccounts; ++i) {
    registered.push_back("timing" + std::to_string(i) + "@example.com");
    unknown.push_back("nobody" + std::to_string(i) + "@example.com");
    // Signed up, not verified: resend-verification has work to do for them.
    ASSERT_EQ(
        c.PostJson(
             "/member/signup",
             Json({{"email", registered.back()}, {"password", kPassword}, {"name", "Timing"}}))
            .status,
        202);
  }
  std::mt19937 rng(20261129);
  for (const char* path : {"/member/find-password", "/member/resend-verification"}) {
    std::vector<std::size_t> pairs;  // account i's registered and unknown address, together
    for (int round = 0; round < kAsksPerAddress; ++round) {
      for (std::size_t i = 0; i < kAccounts; ++i) pairs.push_back(i);
    }
    std::shuffle(pairs.begin(), pairs.end(), rng);
    for (int i = 0; i < 20; ++i) c.PostJson(path, Json({{"email", "warmup@example.com"}}));
    int not_accepted = 0;
    const auto timed = [&](const std::string& email) {
      const std::string body = Json({{"email", email}});
      const auto start = std::chrono::steady_clock::now();
      auto r = c.PostJson(path, body);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (r.status != 202 && not_accepted++ == 0) ADD_FAILURE() << path << " " << r.body;
      return ms;
    };
    std::vector<double> diffs, all_ms;
    for (const std::size_t i : pairs) {
      double known = 0, other = 0;
      if (rng() % 2 == 0) {
        known = timed(registered[i]);
        other = timed(unknown[i]);
      } else {
        other = timed(unknown[i]);
        known = timed(registered[i]);
      }
      diffs.push_back(known - other);
      all_ms.push_back(known);
      all_ms.push_back(other);
    }
    ASSERT_EQ(not_accepted, 0) << path;
    const double median_diff = Median(diffs), median_ms = Median(all_ms);
    const double z = SignedRankZ(diffs);
    std::printf(
        "%s: median %.3f ms, median paired difference (registered - unknown) %+.3f ms, "
        "signed-rank z %.2f (%zu pairs)\n",
        path, median_ms, median_diff, z, diffs.size());
    // The z test says whether the two differ at all; this bound, how much a difference could
    // tell an attacker: 0.1 ms, or a quarter of a request where requests are slower.
    EXPECT_LT(std::abs(median_diff), std::max(0.1, 0.25 * median_ms)) << path;
    EXPECT_LT(std::abs(z), 3.0) << path;
  }
}

}  // namespace
}  // namespace rocketmart::testing

namespace rocketmart::testing {
namespace {

// Every secret a member's journey handles, and the server's whole log at the most verbose level
// with the access log on: none of the secrets may appear in it (ASVS 7.1.1: no tokens, passwords
// or session identifiers in logs).
TEST(MembersLogs, SecretsNeverReachTheLog) {
  TempDir logs{"members-logs"};
  const auto log_file = logs.path() / "server.log";
  ServerProcess server({.env = {{"ROCKETMART_LOG_LEVEL", "trace"},
                                {"ROCKETMART_LOG_ACCESS_LOG", "true"},
                                {"ROCKETMART_MEMBERS_PUBLIC_BASE_URL", "https://shop.example"}},
                        .log_file = log_file});
  HttpClient c(server.port());
  std::vector<std::string> secrets = {kPassword, "a new secret phrase", "wrong guess here"};
  const auto link_tokens = [&](const std::string& path) {
    std::vector<std::string> out;
    for (const auto& mail : MailsIn(server.data_dir() / "mail")) {
      const std::string link = FindLink(PlainTextPart(mail), path);
      if (!link.empty()) out.push_back(link.substr(link.find("token=") + 6));
    }
    return out;
  };
  // Waits until `n` links to `path` were mailed and returns their tokens from that same read.
  const auto wait_for_link_tokens = [&](const std::string& path, std::size_t n) {
    std::vector<std::string> tokens;
    EXPECT_TRUE(WaitUntil([&] {
      tokens = link_tokens(path);
      return tokens.size() == n;
    })) << path;
    return tokens;
  };
  const std::string email = "secret@example.com";
  ASSERT_EQ(
      c.PostJson("/member/signup", Json({{"email", email}, {"password", kPassword}, {"name", "S"}}))
          .status,
      202);
  ASSERT_EQ(wait_for_link_tokens("/member/verify?token=", 1).size(), 1u);
  ASSERT_EQ(c.PostJson("/member/resend-verification", Json({{"email", email}})).status, 202);
  const auto verify_tokens = wait_for_link_tokens("/member/verify?token=", 2);
  ASSERT_EQ(verify_tokens.size(), 2u);
  for (const auto& t : verify_tokens) secrets.push_back(t);
  for (const auto& t : verify_tokens) {  // one is current
    c.Get("/member/verify?token=" + t);
    c.PostJson("/member/verify", Json({{"token", t}}));
  }
  EXPECT_EQ(
      c.PostJson("/auth/login", Json({{"email", email}, {"password", "wrong guess here"}})).status,
      401);
  auto login = c.PostJson("/auth/login", Json({{"email", email}, {"password", kPassword}}));
  ASSERT_EQ(login.status, 200) << login.body;
  secrets.push_back(std::string(login.Json().at("accessToken").as_string()));
  secrets.push_back(std::string(login.Json().at("refreshToken").as_string()));
  EXPECT_EQ(c.Get("/member/me", secrets.back()).status, 401);  // a refresh token as a bearer
  auto refreshed = c.PostJson(
      "/auth/refresh",
      Json({{"refreshToken", std::string(login.Json().at("refreshToken").as_string())}}));
  ASSERT_EQ(refreshed.status, 200);
  secrets.push_back(std::string(refreshed.Json().at("accessToken").as_string()));
  secrets.push_back(std::string(refreshed.Json().at("refreshToken").as_string()));
  EXPECT_EQ(c.Get("/member/me", secrets.back() + "x").status, 401);
  ASSERT_EQ(c.PostJson("/member/find-password", Json({{"email", email}})).status, 202);
  const auto reset_tokens = wait_for_link_tokens("/member/reset-password?token=", 1);
  ASSERT_EQ(reset_tokens.size(), 1u);
  const std::string reset = reset_tokens[0];
  secrets.push_back(reset);
  EXPECT_EQ(c.PostJson("/member/reset-password",
                       Json({{"token", reset}, {"newPassword", "a new secret phrase"}}))
                .status,
            204);
  EXPECT_EQ(c.PostJson("/member/reset-password",
                       Json({{"token", reset}, {"newPassword", "a new secret phrase"}}))
                .status,
            400);      // spent: its failure is logged too, if anything is
  server.Terminate();  // flushes the log

  std::ifstream in(log_file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string log = ss.str();
  ASSERT_NE(log.find("listening on"), std::string::npos) << "the log was captured";
  ASSERT_NE(log.find("access"), std::string::npos) << "the access log was on";
  for (const auto& secret : secrets) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "in the log: " << secret;
  }
}

}  // namespace
}  // namespace rocketmart::testing

namespace rocketmart::testing {
namespace {

std::string Sha256Base64(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(size));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

std::string Between(const std::string& text, const std::string& open, const std::string& close) {
  const auto start = text.find(open);
  if (start == std::string::npos) return "";
  const auto end = text.find(close, start + open.size());
  return end == std::string::npos ? ""
                                  : text.substr(start + open.size(), end - start - open.size());
}

// A mailed link opens a small page and nothing else happens: the page's script confirms with a
// POST. So a mail scanner's prefetch or a double click cannot use a token up, and no link points
// at a route that only answers POST. Links start with the server's own address when
// members.public_base_url is not configured (not a hard-coded http://localhost:8080).
TEST(MembersLinks, EveryMailedLinkOpensAPageThatConfirmsWithAPost) {
  ServerProcess server;  // members.public_base_url not set; 127.0.0.1 on a port picked at start
  HttpClient c(server.port());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.public_port());
  const std::string email = "links@example.com";
  const auto mail_to = [&](std::size_t nth) {
    std::string found;
    EXPECT_TRUE(WaitUntil([&] {
      const auto all = MailsIn(server.data_dir() / "mail", email);
      if (all.size() < nth) return false;
      found = PlainTextPart(all[nth - 1]);
      return true;
    }));
    return found;
  };
  const auto expect_page = [&](const std::string& link) {
    SCOPED_TRACE(link);
    ASSERT_EQ(link.rfind(base + "/member/", 0), 0u);
    auto page = c.Get(link.substr(base.size()));
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.Header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(page.Header("Cache-Control"), "no-store");
    const std::string csp = page.Header("Content-Security-Policy");
    EXPECT_EQ(csp.rfind("default-src 'none';", 0), 0u) << csp;
    // Self-contained: nothing loaded from anywhere; the inline style and script are allowed by
    // their hashes, so a browser runs them (and nothing else).
    EXPECT_EQ(page.body.find("http"), std::string::npos);
    EXPECT_EQ(page.body.find(" src="), std::string::npos);
    EXPECT_EQ(page.body.find("<link"), std::string::npos);
    EXPECT_NE(page.body.find("<form"), std::string::npos);
    const std::string script = Between(page.body, "<script>", "</script>");
    const std::string style = Between(page.body, "<style>", "</style>");
    EXPECT_NE(script.find("method: 'POST'"), std::string::npos);
    EXPECT_NE(csp.find("script-src 'sha256-" + Sha256Base64(script) + "'"), std::string::npos);
    EXPECT_NE(csp.find("style-src 'sha256-" + Sha256Base64(style) + "'"), std::string::npos);
  };

  ASSERT_EQ(
      c.PostJson("/member/signup", Json({{"email", email}, {"password", kPassword}, {"name", "L"}}))
          .status,
      202);
  const std::string verify = FindLink(mail_to(1), "/member/verify?token=");
  ASSERT_EQ(verify.rfind(base + "/member/verify?token=", 0), 0u) << verify;
  expect_page(verify);
  expect_page(verify);  // a scanner's prefetch, then the member's click: still unused
  const auto before = c.PostJson("/auth/login", Json({{"email", email}, {"password", kPassword}}));
  ASSERT_EQ(before.status, 200);
  EXPECT_FALSE(c.Get("/member/me", std::string(before.Json().at("accessToken").as_string()))
                   .Json()
                   .at("emailVerified")
                   .as_bool());
  const std::string token = verify.substr(verify.find("token=") + 6);
  auto first = c.PostJson("/member/verify", Json({{"token", token}}));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_FALSE(first.Json().at("alreadyVerified").as_bool());
  auto second = c.PostJson("/member/verify", Json({{"token", token}}));  // a double click
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_TRUE(second.Json().at("alreadyVerified").as_bool());

  // The duplicate-signup mail links to the forgot-password page, which a GET opens.
  ASSERT_EQ(c.PostJson("/member/signup",
                       Json({{"email", email}, {"password", "another good one"}, {"name", "M"}}))
                .status,
            202);
  const std::string attempt = mail_to(2);
  ASSERT_NE(attempt.find("Someone tried"), std::string::npos) << attempt;
  const std::string find = FindLink(attempt, "/member/");
  EXPECT_EQ(find, base + "/member/find-password");
  expect_page(find);

  // The reset link opens its page (twice); the token still works for the POST the page sends.
  ASSERT_EQ(c.PostJson("/member/find-password", Json({{"email", email}})).status, 202);
  const std::string reset = FindLink(mail_to(3), "/member/reset-password?token=");
  ASSERT_EQ(reset.rfind(base + "/member/reset-password?token=", 0), 0u) << reset;
  expect_page(reset);
  expect_page(reset);
  EXPECT_EQ(
      c.PostJson("/member/reset-password", Json({{"token", reset.substr(reset.find("token=") + 6)},
                                                 {"newPassword", "after the reset"}}))
          .status,
      204);
  EXPECT_EQ(
      c.PostJson("/auth/login", Json({{"email", email}, {"password", "after the reset"}})).status,
      200);
}

}  // namespace
}  // namespace rocketmart::testing
