// MembersService over the real SQLite repository, the real libsodium hasher and cipher, and a
// capturing mailer fed by the real outbox worker. The clock is fake: expiry and throttling are
// tested by moving it, never by sleeping.
#include "services/members/members_service.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <latch>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "auth/identity.hpp"
#include "infra/storage/migrations.hpp"
#include "services/members/adapters/in_memory_throttle_store.hpp"
#include "services/members/adapters/mailers.hpp"
#include "services/members/adapters/sodium_crypto.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::members {
namespace {

using rocketmart::testing::RunAwait;

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef-members-test";
constexpr const char* kPassword = "correct horse battery";

// Thread-safe, as the gateway's deny-list is: parallel requests revoke from their own threads.
class RecordingRevoker final : public TokenRevoker {
 public:
  boost::asio::awaitable<Status> DenyToken(std::int64_t, std::string token_id, TimePoint) override {
    if (fail) co_return MakeError(Errc::kUnavailable, "deny-list store down");
    std::lock_guard lock(mu_);
    denied.push_back(token_id);
    co_return Ok();
  }
  boost::asio::awaitable<Status> DenyFamily(std::int64_t, std::string family_id,
                                            TimePoint expires_at) override {
    if (fail) co_return MakeError(Errc::kUnavailable, "deny-list store down");
    std::lock_guard lock(mu_);
    denied_families.emplace_back(family_id, expires_at);
    co_return Ok();
  }
  boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                  TimePoint valid_after) override {
    if (fail) co_return MakeError(Errc::kUnavailable, "deny-list store down");
    std::lock_guard lock(mu_);
    valid_after_[member_id] = valid_after;
    co_return Ok();
  }
  // Forgets what was recorded and fails no more.
  void Clear() {
    std::lock_guard lock(mu_);
    denied.clear();
    denied_families.clear();
    valid_after_.clear();
    fail = false;
  }
  bool fail = false;
  // Read by the test once the requests are done.
  std::mutex mu_;
  std::vector<std::string> denied;
  std::vector<std::pair<std::string, TimePoint>> denied_families;
  std::map<std::int64_t, TimePoint> valid_after_;
};

class CapturingMailer final : public Mailer {
 public:
  Status Send(const MailMessage& mail, const std::string&) override {
    if (fail) return MakeError(Errc::kUnavailable, "smtp down");
    sent.push_back(mail);
    return Ok();
  }
  bool fail = false;
  std::vector<MailMessage> sent;
};

// My page's other services: answers set by the test (members reads them through client ports).
// Each records the deadline it was last asked by.
class FakeOrders final : public OrdersClient {
 public:
  boost::asio::awaitable<Result<std::vector<OrderSummary>>> RecentOrders(
      std::int64_t, std::size_t, Deadline deadline) override {
    asked_by = deadline;
    if (!up) co_return MakeError(Errc::kUnavailable, "orders down");
    co_return std::vector<OrderSummary>{{41, "PAID", 1200, TimePoint{}}};
  }
  bool up = true;
  Deadline asked_by{};
};
class FakeWishlist final : public WishlistClient {
 public:
  boost::asio::awaitable<Result<std::vector<WishlistEntry>>> Wishlist(std::int64_t, std::size_t,
                                                                      Deadline deadline) override {
    asked_by = deadline;
    if (!up) co_return MakeError(Errc::kUnavailable, "catalog down");
    co_return std::vector<WishlistEntry>{{7, 2}};
  }
  bool up = true;
  Deadline asked_by{};
};
class FakeLikes final : public LikesClient {
 public:
  boost::asio::awaitable<Result<std::vector<LikedProduct>>> Likes(std::int64_t, std::size_t,
                                                                  Deadline deadline) override {
    asked_by = deadline;
    if (!up) co_return MakeError(Errc::kUnavailable, "catalog down");
    co_return std::vector<LikedProduct>{{7}, {9}};
  }
  bool up = true;
  Deadline asked_by{};
};

HasherOptions FastHasher() {
  // libsodium's minimum: these tests are about flows, not hash strength (tested separately).
  return {.threads = 1,
          .max_queue = 32,
          .opslimit = crypto_pwhash_OPSLIMIT_MIN,
          .memlimit = crypto_pwhash_MEMLIMIT_MIN};
}

class MembersServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(FastHasher()); }
  void TearDown() override { writer_->Stop(); }

  void Open(HasherOptions hasher_options) {
    if (writer_) writer_->Stop();
    service_.reset();
    storage::OpenOptions open;
    open.path = dir_.File("members.db");
    writer_ = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer_->Connection(), MembersMigrations());
    writer_->Start();
    open.read_only = true;
    readers_ = std::make_unique<storage::ReadConnections>(open);
    repository_ = std::make_unique<SqliteMemberRepository>(*writer_, *readers_);
    outbox_ = std::make_unique<SqliteMailOutbox>(*writer_, *readers_);
    hasher_ = std::make_unique<SodiumPasswordHasher>(hasher_options);
    ASSERT_TRUE(keyring_.Contains("k1") || keyring_.Add({"k1", std::string(kSecret)}, true).ok());
    MembersOptions options;
    options.public_base_url = "https://shop.example";
    service_ = std::make_unique<MembersService>(MembersPorts{.repository = *repository_,
                                                             .hasher = *hasher_,
                                                             .cipher = cipher_,
                                                             .revoker = revoker_,
                                                             .throttles = throttles_,
                                                             .orders = orders_,
                                                             .wishlist = wishlist_,
                                                             .likes = likes_},
                                                keyring_, clock_, options);
    ASSERT_TRUE(RunAwait(service_->Load()).ok());
    worker_ = std::make_unique<MailWorker>(*outbox_, cipher_, mailer_, clock_,
                                           [this] { return service_->ResolveMailRequests(); });
  }

  std::optional<MemberRecord> Find(const std::string& email) {
    auto found = RunAwait(repository_->FindByEmail(email));
    EXPECT_TRUE(found.ok());
    return found.ok() ? *found : std::nullopt;
  }
  std::int64_t MailRequestsRecorded() {
    auto stmt = readers_->ForThisThread().Prepare("SELECT count(*) FROM mail_requests");
    return stmt.Step() ? stmt.Int64(0) : -1;
  }

  // Delivers queued mail and returns the newest one to `to`.
  MailMessage LastMailTo(const std::string& to) {
    worker_->RunOnce();
    for (auto it = mailer_.sent.rbegin(); it != mailer_.sent.rend(); ++it) {
      if (it->to == to) return *it;
    }
    ADD_FAILURE() << "no mail to " << to;
    return {};
  }
  static std::string TokenOf(const std::string& link) {
    return link.substr(link.find("token=") + 6);
  }

  Status Signup(const std::string& email, const std::string& password = kPassword,
                const std::string& phone = "", const std::string& address = "") {
    return RunAwait(service_->Signup({email, password, "Ann", phone, address}, "10.0.0.1"));
  }
  // Signs up and verifies; returns the member id.
  std::int64_t Member(const std::string& email) {
    EXPECT_TRUE(Signup(email).ok());
    const std::string link = LastMailTo(email).link;
    EXPECT_TRUE(RunAwait(service_->VerifyEmail(TokenOf(link), "10.0.0.1")).ok());
    return Find(email)->id;
  }
  Result<TokenPair> Login(const std::string& email, const std::string& password = kPassword,
                          const std::string& ip = "10.0.0.9") {
    return RunAwait(service_->Login(email, password, ip));
  }
  auth::Identity IdentityOf(const TokenPair& pair) {
    auto claims =
        auth::Verify(pair.access_token, keyring_,
                     {.issuer = "rocketmart", .audience = "rocketmart-api"}, clock_.Now());
    EXPECT_TRUE(claims.ok());
    return *auth::IdentityFromClaims(*claims);
  }
  std::string DatabaseBytes() {
    writer_->Stop();
    std::string all;
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream in(dir_.File(std::string("members.db") + suffix), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }

  rocketmart::testing::TempDir dir_{"members"};
  FakeClock clock_;
  auth::Keyring keyring_;
  SodiumFieldCipher cipher_{kSecret};
  RecordingRevoker revoker_;
  InMemoryThrottleStore throttles_;
  FakeOrders orders_;
  FakeWishlist wishlist_;
  FakeLikes likes_;
  CapturingMailer mailer_;
  std::unique_ptr<storage::GroupCommitWriter> writer_;
  std::unique_ptr<storage::ReadConnections> readers_;
  std::unique_ptr<SqliteMemberRepository> repository_;
  std::unique_ptr<SqliteMailOutbox> outbox_;
  std::unique_ptr<SodiumPasswordHasher> hasher_;
  std::unique_ptr<MailWorker> worker_;
  std::unique_ptr<MembersService> service_;
};

TEST(MembersDomain, EmailSyntax) {
  for (const char* good : {"a@example.com", "first.last+tag@sub.example.co.kr", "x_y@a-b.io"}) {
    EXPECT_TRUE(ValidateEmail(good).ok()) << good;
  }
  for (const char* bad : {"", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com",
                          ".a@b.com", "a.@b.com", "a..b@c.com", "a@-b.com", "a@b-.com", "a@b.c",
                          "a@b.12", "a@[127.0.0.1]", "\"q\"@b.com", "a@b.com\r\n", "é@b.com"}) {
    EXPECT_FALSE(ValidateEmail(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateEmail(std::string(65, 'a') + "@b.com").ok());
  EXPECT_FALSE(ValidateEmail("a@" + std::string(250, 'b') + ".com").ok());
}

TEST(MembersDomain, PasswordPolicy) {
  EXPECT_FALSE(ValidatePassword("short1!").ok());
  EXPECT_TRUE(ValidatePassword("eightchr").ok());  // no composition rules
  EXPECT_TRUE(ValidatePassword(std::string(128, 'x')).ok());
  EXPECT_FALSE(ValidatePassword(std::string(129, 'x')).ok());
  EXPECT_FALSE(ValidatePassword("Password1").ok());  // common, case-insensitively
  EXPECT_FALSE(ValidatePassword("12345678").ok());
  EXPECT_TRUE(ValidatePassword("비밀번호는길어요").ok());  // 8 code points, not bytes
}

TEST(MembersDomain, ProfileFields) {
  EXPECT_TRUE(ValidatePhone("+82 10-1234-5678").ok());
  EXPECT_TRUE(ValidatePhone("(02) 123-4567").ok());
  EXPECT_FALSE(ValidatePhone("12345").ok());
  EXPECT_FALSE(ValidatePhone("1234567a").ok());
  EXPECT_FALSE(ValidatePhone("12+3456789").ok());
  EXPECT_FALSE(ValidateName(std::string(101, 'n')).ok());
  EXPECT_FALSE(ValidateName("   ").ok());
  EXPECT_FALSE(ValidateAddress(std::string(501, 'a')).ok());
  EXPECT_FALSE(ValidateAddress("line\nbreak").ok());
}

TEST_F(MembersServiceTest, SignupMailsASingleUseVerificationLink) {
  ASSERT_TRUE(Signup("ann@example.com", kPassword, "+82 10-1234-5678", "Seoul").ok());
  const MailMessage mail = LastMailTo("ann@example.com");
  ASSERT_EQ(mail.link.rfind("https://shop.example/member/verify?token=", 0), 0u) << mail.link;
  EXPECT_NE(mail.text.find(mail.link), std::string::npos);
  EXPECT_NE(mail.html.find("Verify my email"), std::string::npos);
  const std::string token = TokenOf(mail.link);
  EXPECT_EQ(token.size(), 64u);  // 256 bits

  auto before = Find("ann@example.com");
  ASSERT_TRUE(before);
  EXPECT_FALSE(before->email_verified);
  EXPECT_TRUE(before->password_hash.starts_with("$argon2id$"));

  auto first = RunAwait(service_->VerifyEmail(token, "10.0.0.1"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->already_verified);
  EXPECT_TRUE(Find("ann@example.com")->email_verified);
  // A second use (double click, another device) is not an error, and changes nothing.
  auto again = RunAwait(service_->VerifyEmail(token, "10.0.0.1"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_verified);
  // Until the link expires: then it is an invalid link like any other.
  clock_.Advance(std::chrono::hours{24} + std::chrono::seconds{1});
  auto late = RunAwait(service_->VerifyEmail(token, "10.0.0.1"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kValidationFailed);

  auto me = RunAwait(service_->Me(before->id));
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->phone, "+82 10-1234-5678");
  EXPECT_EQ(me->address, "Seoul");
  // Nothing sensitive in the database file in plain text: not the phone, the address, the token.
  const std::string bytes = DatabaseBytes();
  EXPECT_EQ(bytes.find("1234-5678"), std::string::npos);
  EXPECT_EQ(bytes.find("Seoul"), std::string::npos);
  EXPECT_EQ(bytes.find(token), std::string::npos);
  EXPECT_NE(bytes.find(MembersService::HashToken(token)), std::string::npos);
}

TEST_F(MembersServiceTest, VerificationLinkExpiresIsSupersededAndCannotBeGuessed) {
  ASSERT_TRUE(Signup("bo@example.com").ok());
  const std::string first = TokenOf(LastMailTo("bo@example.com").link);
  ASSERT_TRUE(RunAwait(service_->ResendVerification("bo@example.com", "10.0.0.1")).ok());
  const std::string second = TokenOf(LastMailTo("bo@example.com").link);
  ASSERT_NE(first, second);
  EXPECT_FALSE(RunAwait(service_->VerifyEmail(first, "10.0.0.1")).ok());  // superseded
  clock_.Advance(std::chrono::hours{24} + std::chrono::seconds{1});
  EXPECT_FALSE(RunAwait(service_->VerifyEmail(second, "10.0.0.1")).ok());  // expired
  EXPECT_FALSE(Find("bo@example.com")->email_verified);
  // Guessing: malformed and random tokens fail, and the client address is throttled.
  int limited = 0;
  for (int i = 0; i < 150; ++i) {
    auto r = RunAwait(service_->VerifyEmail(std::string(64, 'a' + i % 6), "10.6.6.6"));
    ASSERT_FALSE(r.ok());
    if (r.error().code == Errc::kRateLimited) ++limited;
  }
  EXPECT_GT(limited, 0);
  EXPECT_FALSE(Find("bo@example.com")->email_verified);
}

TEST_F(MembersServiceTest, ALiveLinkOfAnAddressVerifiedByAResetAnswersAlreadyVerified) {
  ASSERT_TRUE(Signup("rae@example.com").ok());
  const std::string verify = TokenOf(LastMailTo("rae@example.com").link);
  ASSERT_TRUE(RunAwait(service_->FindPassword("rae@example.com", "10.0.0.1")).ok());
  const std::string reset = TokenOf(LastMailTo("rae@example.com").link);
  ASSERT_TRUE(RunAwait(service_->ResetPassword(reset, "a fresh passphrase", "10.0.0.1")).ok());
  ASSERT_TRUE(Find("rae@example.com")->email_verified);  // by the reset
  auto outcome = RunAwait(service_->VerifyEmail(verify, "10.0.0.1"));
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->already_verified);
}

TEST_F(MembersServiceTest, DuplicateSignupAnswersTheSameAndWarnsTheOwner) {
  ASSERT_TRUE(Signup("cy@example.com").ok());
  const auto original = Find("cy@example.com");
  ASSERT_TRUE(Signup("CY@Example.com", "another password 2").ok());  // same answer as new
  const MailMessage mail = LastMailTo("CY@Example.com");
  EXPECT_EQ(mail.subject, "Someone tried to sign up with your email address");
  EXPECT_TRUE(mail.link.empty());
  // Its only link opens the forgot-password page (a GET route), not a POST-only route.
  EXPECT_NE(mail.text.find("https://shop.example/member/find-password\n"), std::string::npos)
      << mail.text;
  const auto after = Find("cy@example.com");
  EXPECT_EQ(after->id, original->id);
  EXPECT_EQ(after->password_hash, original->password_hash);  // no state change
}

TEST_F(MembersServiceTest, RealMembersNeverGetASyntheticIdentitysId) {
  const std::int64_t id = Member("last-ordinary@example.com");
  EXPECT_FALSE(auth::IsSyntheticMember(id));
  // Jump the id sequence to the last ordinary id: the next member would get 2^53.
  writer_->RunSync([](storage::Database& db) {
    db.Exec("UPDATE sqlite_sequence SET seq = 9007199254740991 WHERE name = 'members'");
  });
  EXPECT_ANY_THROW(Signup("first-synthetic@example.com"));
  EXPECT_FALSE(Find("first-synthetic@example.com"));
  EXPECT_TRUE(Find("last-ordinary@example.com"));
}

TEST_F(MembersServiceTest, RejectedSignupsChangeNothing) {
  EXPECT_EQ(Signup("not-an-email").error().code, Errc::kValidationFailed);
  EXPECT_EQ(Signup("dee@example.com", "password").error().field, "password");
  EXPECT_EQ(Signup("dee@example.com", "short").error().field, "password");
  EXPECT_EQ(Signup("dee@example.com", kPassword, "call me").error().field, "phone");
  EXPECT_FALSE(Find("dee@example.com"));
  worker_->RunOnce();
  EXPECT_TRUE(mailer_.sent.empty());
}

TEST_F(MembersServiceTest, LoginIsGenericAndThrottled) {
  const std::int64_t id = Member("eve@example.com");
  auto unknown = Login("nobody@example.com", "whatever pass");
  auto wrong = Login("eve@example.com", "wrong password");
  ASSERT_FALSE(unknown.ok());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(unknown.error().code, Errc::kUnauthenticated);
  EXPECT_EQ(unknown.error().message, wrong.error().message);

  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(Login("eve@example.com", "wrong").error().code, Errc::kUnauthenticated);
  auto limited = Login("eve@example.com", kPassword);  // even the right password waits
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, Errc::kRateLimited);
  EXPECT_EQ(limited.error().field, "1");  // Retry-After seconds
  clock_.Advance(std::chrono::seconds{2});
  auto ok = Login("eve@example.com", kPassword);
  ASSERT_TRUE(ok.ok());
  const auth::Identity identity = IdentityOf(*ok);
  EXPECT_EQ(identity.member_id, id);
  EXPECT_TRUE(identity.email_verified);
  EXPECT_EQ(ok->expires_in, 900);
}

// A free coroutine (not a capturing lambda): its arguments live in the coroutine frame.
boost::asio::awaitable<void> LoginInto(MembersService& service, std::string email,
                                       std::string password, std::string ip,
                                       std::vector<std::optional<Errc>>* outcomes) {
  auto r = co_await service.Login(std::move(email), std::move(password), std::move(ip));
  outcomes->push_back(r.ok() ? std::nullopt : std::optional<Errc>(r.error().code));
}

TEST_F(MembersServiceTest, ParallelGuessesOfOnePasswordGetNoMoreTriesThanSequentialOnes) {
  // Twenty wrong passwords for one account at once, from twenty addresses: they all reach the
  // throttle before the first hash is verified. Only the free attempts plus the one that starts
  // the lockout may be checked, as if they had come one by one.
  Member("pia@example.com");
  boost::asio::io_context ioc;
  std::vector<std::optional<Errc>> outcomes;
  for (int i = 0; i < 20; ++i) {
    boost::asio::co_spawn(ioc,
                          LoginInto(*service_, "pia@example.com", "wrong password",
                                    "10.7.0." + std::to_string(i), &outcomes),
                          boost::asio::detached);
  }
  ioc.run();
  ASSERT_EQ(outcomes.size(), 20u);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), Errc::kUnauthenticated), 6);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), Errc::kRateLimited), 14);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), std::nullopt), 0);
}

TEST_F(MembersServiceTest, PerAddressThrottleCoversManyAccounts) {
  int limited = 0;
  for (int i = 0; i < 120; ++i) {
    auto r = Login("user" + std::to_string(i) + "@example.com", "wrong password", "10.9.9.9");
    if (!r.ok() && r.error().code == Errc::kRateLimited) ++limited;
  }
  EXPECT_GT(limited, 0);
  EXPECT_TRUE(Login("fresh@example.com", "wrong password", "10.1.1.1").error().code ==
              Errc::kUnauthenticated);
}

TEST_F(MembersServiceTest, UnverifiedMembersLogInWithoutThePurchaseClaim) {
  ASSERT_TRUE(Signup("fay@example.com").ok());
  auto tokens = Login("fay@example.com");
  ASSERT_TRUE(tokens.ok());
  EXPECT_FALSE(IdentityOf(*tokens).email_verified);
  ASSERT_TRUE(
      RunAwait(service_->VerifyEmail(TokenOf(LastMailTo("fay@example.com").link), "1.1.1.1")).ok());
  auto refreshed = RunAwait(service_->Refresh(tokens->refresh_token));
  ASSERT_TRUE(refreshed.ok());
  EXPECT_TRUE(IdentityOf(*refreshed).email_verified);
}

TEST_F(MembersServiceTest, RefreshRotatesAndReuseRevokesTheFamily) {
  Member("gus@example.com");
  auto r0 = Login("gus@example.com");
  ASSERT_TRUE(r0.ok());
  auto r1 = RunAwait(service_->Refresh(r0->refresh_token));
  ASSERT_TRUE(r1.ok());
  EXPECT_NE(r1->refresh_token, r0->refresh_token);
  const std::string family = IdentityOf(*r0).token_id.substr(0, 32);
  ASSERT_EQ(IdentityOf(*r1).token_id.substr(0, 33), family + ".");
  EXPECT_TRUE(revoker_.denied_families.empty());
  auto reuse = RunAwait(service_->Refresh(r0->refresh_token));
  ASSERT_FALSE(reuse.ok());
  EXPECT_EQ(reuse.error().code, Errc::kUnauthenticated);
  // The family's access tokens are void at the gateway at once, for as long as one can live.
  ASSERT_EQ(revoker_.denied_families.size(), 1u);
  EXPECT_EQ(revoker_.denied_families[0].first, family);
  EXPECT_EQ(revoker_.denied_families[0].second, clock_.Now() + std::chrono::minutes{15});
  revoker_.Clear();
  ASSERT_TRUE(RunAwait(service_->Load()).ok());  // and after a restart
  ASSERT_EQ(revoker_.denied_families.size(), 1u);
  EXPECT_EQ(revoker_.denied_families[0].first, family);
  EXPECT_FALSE(RunAwait(service_->Refresh(r1->refresh_token)).ok());  // family revoked
  EXPECT_FALSE(RunAwait(service_->Refresh(std::string(64, 'f'))).ok());
  EXPECT_FALSE(RunAwait(service_->Refresh("not-a-token")).ok());
  // Absolute lifetime.
  auto other = Login("gus@example.com");
  clock_.Advance(std::chrono::hours{24 * 30} + std::chrono::seconds{1});
  EXPECT_FALSE(RunAwait(service_->Refresh(other->refresh_token)).ok());
}

TEST_F(MembersServiceTest, ParallelRefreshOfOneTokenSucceedsExactlyOnce) {
  Member("hal@example.com");
  auto r0 = Login("hal@example.com");
  ASSERT_TRUE(r0.ok());
  // Eight threads, released together, each refreshing the same token through the real service
  // and SQLite repository (each runs its own coroutine, as request threads do).
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::atomic<int> successes{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto r = RunAwait(service_->Refresh(r0->refresh_token));
      if (r.ok()) {
        ++successes;
      } else if (r.error().code == Errc::kUnauthenticated) {
        ++refused;
      } else {
        ADD_FAILURE() << r.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
}

TEST_F(MembersServiceTest, LogoutAndLogoutAllRevoke) {
  Member("ida@example.com");
  auto a = Login("ida@example.com");
  auto b = Login("ida@example.com");
  const auth::Identity id_a = IdentityOf(*a);
  ASSERT_TRUE(RunAwait(service_->Logout(id_a, a->refresh_token)).ok());
  // The whole session ends: the jti is "<family>.<random>", and the family is denied.
  ASSERT_EQ(revoker_.denied_families.size(), 1u);
  EXPECT_EQ(revoker_.denied_families[0].first + "." + id_a.token_id.substr(33), id_a.token_id);
  EXPECT_FALSE(RunAwait(service_->Refresh(a->refresh_token)).ok());
  EXPECT_TRUE(RunAwait(service_->Refresh(b->refresh_token)).ok());  // other session lives

  auto c = Login("ida@example.com");
  ASSERT_TRUE(RunAwait(service_->LogoutAll(IdentityOf(*c))).ok());
  EXPECT_FALSE(RunAwait(service_->Refresh(c->refresh_token)).ok());
  const TimePoint after = revoker_.valid_after_.at(id_a.member_id);
  EXPECT_GT(after, IdentityOf(*c).expires_at - std::chrono::minutes{15});
  // A login in the same second is not voided by the logout-all.
  auto d = Login("ida@example.com");
  auto claims = auth::Verify(d->access_token, keyring_,
                             {.issuer = "rocketmart", .audience = "rocketmart-api"}, clock_.Now());
  ASSERT_TRUE(claims.ok());
  EXPECT_GE(claims->issued_at, after);
  // Restart: the denylist is replayed from the database.
  revoker_.Clear();
  ASSERT_TRUE(RunAwait(service_->Load()).ok());
  // a's session (logout) and c's (its refresh token came back after the logout-all).
  EXPECT_EQ(revoker_.denied_families.size(), 2u);
  EXPECT_EQ(revoker_.valid_after_.count(id_a.member_id), 1u);
}

TEST_F(MembersServiceTest, ARevocationTheGatewayDidNotTakeIsReportedAndReplayed) {
  const std::int64_t id = Member("ike@example.com");
  auto a = Login("ike@example.com");
  auto b = Login("ike@example.com");
  revoker_.fail = true;
  // The logout is committed (the refresh token is dead) but not in force at the gateway: the
  // caller is told, never answered as if the access token were void everywhere.
  auto out = RunAwait(service_->Logout(IdentityOf(*a), a->refresh_token));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, Errc::kUnavailable);
  // Presenting the revoked refresh token denies its session again: not in force either.
  auto refreshed = RunAwait(service_->Refresh(a->refresh_token));
  ASSERT_FALSE(refreshed.ok());
  EXPECT_EQ(refreshed.error().code, Errc::kUnavailable);
  auto all = RunAwait(service_->LogoutAll(IdentityOf(*b)));
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.error().code, Errc::kUnavailable);
  EXPECT_EQ(service_->RevocationsUnpublished(), 3u);
  EXPECT_FALSE(RunAwait(service_->RepublishRevocations()));  // still down: stays pending
  EXPECT_TRUE(revoker_.denied_families.empty());
  // Once the deny-list takes writes again, the durable record is replayed into it, once.
  revoker_.fail = false;
  EXPECT_TRUE(RunAwait(service_->RepublishRevocations()));
  ASSERT_EQ(revoker_.denied_families.size(), 1u);
  EXPECT_EQ(revoker_.denied_families[0].first + "." + IdentityOf(*a).token_id.substr(33),
            IdentityOf(*a).token_id);
  EXPECT_EQ(revoker_.valid_after_.count(id), 1u);
  EXPECT_FALSE(RunAwait(service_->RepublishRevocations()));  // nothing pending any more
  EXPECT_EQ(revoker_.denied_families.size(), 1u);
}

TEST_F(MembersServiceTest, RevocationsInTheSameSecondStillVoidTokensIssuedBetween) {
  const std::int64_t id = Member("ivy@example.com");
  auto a = Login("ivy@example.com");
  ASSERT_TRUE(RunAwait(service_->LogoutAll(IdentityOf(*a))).ok());
  const TimePoint first = revoker_.valid_after_.at(id);
  auto b = Login("ivy@example.com");  // same second: iat is stamped `first`
  auto claims = auth::Verify(b->access_token, keyring_,
                             {.issuer = "rocketmart", .audience = "rocketmart-api"}, clock_.Now());
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->issued_at, first);
  ASSERT_TRUE(RunAwait(service_->LogoutAll(IdentityOf(*b))).ok());
  EXPECT_GT(revoker_.valid_after_.at(id), claims->issued_at);  // b is void too
}

TEST_F(MembersServiceTest, PasswordChangeNeedsTheCurrentOneAndEndsOtherSessions) {
  Member("jo@example.com");
  auto mine = Login("jo@example.com");
  auto other = Login("jo@example.com");
  const auth::Identity me = IdentityOf(*mine);
  auto wrong = RunAwait(service_->UpdatePassword(me, "not my password", "brand new secret"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().field, "currentPassword");
  EXPECT_EQ(RunAwait(service_->UpdatePassword(me, kPassword, "password1")).error().field,
            "newPassword");
  ASSERT_TRUE(RunAwait(service_->UpdatePassword(me, kPassword, "brand new secret")).ok());
  EXPECT_FALSE(RunAwait(service_->Refresh(other->refresh_token)).ok());
  EXPECT_TRUE(RunAwait(service_->Refresh(mine->refresh_token)).ok());
  EXPECT_EQ(revoker_.valid_after_.count(me.member_id), 1u);
  EXPECT_FALSE(Login("jo@example.com").ok());
  EXPECT_TRUE(Login("jo@example.com", "brand new secret").ok());
}

TEST_F(MembersServiceTest, ResetLinkIsSingleUseExpiresAndRevokesSessions) {
  Member("kim@example.com");
  auto session = Login("kim@example.com");
  ASSERT_TRUE(RunAwait(service_->FindPassword("kim@example.com", "10.0.0.1")).ok());
  ASSERT_TRUE(RunAwait(service_->FindPassword("ghost@example.com", "10.0.0.1")).ok());  // same
  const MailMessage mail = LastMailTo("kim@example.com");
  ASSERT_EQ(mail.link.rfind("https://shop.example/member/reset-password?token=", 0), 0u);
  for (const auto& m : mailer_.sent) EXPECT_NE(m.to, "ghost@example.com");
  const std::string token = TokenOf(mail.link);

  ASSERT_TRUE(RunAwait(service_->ResetPassword(token, "a fresh passphrase", "10.0.0.1")).ok());
  EXPECT_FALSE(RunAwait(service_->ResetPassword(token, "yet another one", "10.0.0.1")).ok());
  EXPECT_FALSE(RunAwait(service_->Refresh(session->refresh_token)).ok());
  EXPECT_TRUE(Login("kim@example.com", "a fresh passphrase").ok());

  ASSERT_TRUE(RunAwait(service_->FindPassword("kim@example.com", "10.0.0.1")).ok());
  const std::string late = TokenOf(LastMailTo("kim@example.com").link);
  clock_.Advance(std::chrono::minutes{30} + std::chrono::seconds{1});
  EXPECT_FALSE(RunAwait(service_->ResetPassword(late, "too late for this", "10.0.0.1")).ok());
  EXPECT_TRUE(Login("kim@example.com", "a fresh passphrase").ok());
}

TEST_F(MembersServiceTest, MailRequestsAreRecordedAlikeAndResolvedByTheMailWorker) {
  Member("nia@example.com");                    // verified
  ASSERT_TRUE(Signup("ola@example.com").ok());  // not verified
  worker_->RunOnce();
  const std::size_t before = mailer_.sent.size();
  for (const char* email : {"nia@example.com", "ghost@example.com"}) {
    ASSERT_TRUE(RunAwait(service_->FindPassword(email, "10.0.0.1")).ok());
  }
  for (const char* email : {"ola@example.com", "nia@example.com", "ghost@example.com"}) {
    ASSERT_TRUE(RunAwait(service_->ResendVerification(email, "10.0.0.1")).ok());
  }
  // The requests did the same thing for every address: one row each, no lookup, no link, no mail.
  EXPECT_EQ(MailRequestsRecorded(), 5);
  EXPECT_EQ(outbox_->Pending(), 0);
  worker_->RunOnce();  // the worker looks the addresses up and sends what is due
  EXPECT_EQ(MailRequestsRecorded(), 0);
  std::vector<std::pair<std::string, std::string>> got;
  for (std::size_t i = before; i < mailer_.sent.size(); ++i) {
    got.emplace_back(mailer_.sent[i].to, mailer_.sent[i].subject);
  }
  const std::vector<std::pair<std::string, std::string>> want = {
      {"nia@example.com", "Reset your Rocket Mart password"},
      {"ola@example.com", "Verify your Rocket Mart email address"}};
  EXPECT_EQ(got, want);  // nothing to the unknown address, no verification for a verified one
  EXPECT_EQ(DatabaseBytes().find("ghost@example.com"), std::string::npos);  // sealed at rest
}

TEST_F(MembersServiceTest, ResetMailsAreRateLimitedPerAccountSilently) {
  Member("lu@example.com");
  const std::size_t before = mailer_.sent.size();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(
        RunAwait(service_->FindPassword("lu@example.com", "10.0.0." + std::to_string(i))).ok());
  }
  worker_->RunOnce();
  EXPECT_EQ(mailer_.sent.size() - before, 3u);
}

TEST_F(MembersServiceTest, ProfileUpdateValidatesAndSeals) {
  const std::int64_t id = Member("mo@example.com");
  auto updated = RunAwait(service_->UpdateProfile(
      id, {.name = "Mo", .phone = "010-9876-5432", .address = std::nullopt}));
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->name, "Mo");
  EXPECT_EQ(updated->phone, "010-9876-5432");
  EXPECT_FALSE(updated->address);
  auto bad = RunAwait(service_->UpdateProfile(id, {.phone = "nope"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(RunAwait(service_->Me(id))->phone, "010-9876-5432");
  EXPECT_FALSE(RunAwait(service_->UpdateProfile(id, {})).ok());
  auto cleared = RunAwait(service_->UpdateProfile(id, {.phone = ""}));
  EXPECT_FALSE(cleared->phone);
  EXPECT_EQ(DatabaseBytes().find("9876-5432"), std::string::npos);
}

TEST_F(MembersServiceTest, MyPageShowsEachSectionItsServiceAnswersAndMarksTheOthersUnavailable) {
  const std::int64_t id = Member("ned@example.com");
  const Deadline by = std::chrono::steady_clock::now() + std::chrono::milliseconds(1234);
  auto page = RunAwait(service_->MyPage(id, by));
  ASSERT_TRUE(page.ok());
  // Every section is asked of its service by the member's request's deadline.
  EXPECT_EQ(orders_.asked_by, by);
  EXPECT_EQ(wishlist_.asked_by, by);
  EXPECT_EQ(likes_.asked_by, by);
  EXPECT_EQ(page->profile.email, "ned@example.com");
  ASSERT_TRUE(page->orders.items);
  EXPECT_EQ(page->orders.items->at(0).id, 41);
  ASSERT_TRUE(page->wishlist.items);
  ASSERT_TRUE(page->likes.items);
  EXPECT_EQ(page->likes.items->size(), 2u);
  // One service down: its section is "unavailable", the page and the other sections answer.
  orders_.up = false;
  likes_.up = false;
  page = RunAwait(service_->MyPage(id, by));
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->orders.items);
  EXPECT_TRUE(page->wishlist.items);
  EXPECT_FALSE(page->likes.items);
  EXPECT_EQ(RunAwait(service_->MyPage(id + 1000, by)).error().code, Errc::kNotFound);
}

TEST_F(MembersServiceTest, MailSurvivesAnSmtpOutageWithBackoff) {
  mailer_.fail = true;
  ASSERT_TRUE(Signup("oz@example.com").ok());
  EXPECT_EQ(worker_->RunOnce(), 0);
  EXPECT_EQ(outbox_->Pending(), 1);
  mailer_.fail = false;
  EXPECT_EQ(worker_->RunOnce(), 0);  // not due yet: backoff
  clock_.Advance(std::chrono::seconds{5});
  EXPECT_EQ(worker_->RunOnce(), 1);
  EXPECT_EQ(outbox_->Pending(), 0);
  EXPECT_EQ(mailer_.sent.back().to, "oz@example.com");
}

TEST_F(MembersServiceTest, LoginUpgradesWeakerHashes) {
  Member("pat@example.com");
  const std::string weak = Find("pat@example.com")->password_hash;
  Open({.threads = 1, .max_queue = 32, .opslimit = 2, .memlimit = 19u * 1024 * 1024});
  ASSERT_TRUE(Login("pat@example.com").ok());
  const std::string strong = Find("pat@example.com")->password_hash;
  EXPECT_NE(weak, strong);
  EXPECT_NE(strong.find("m=19456,t=2,p=1"), std::string::npos) << strong;
  EXPECT_TRUE(Login("pat@example.com").ok());
}

TEST(MembersCrypto, DefaultHashParametersMeetTheFloorAndAreTimed) {
  SodiumPasswordHasher hasher;  // production defaults
  const auto start = std::chrono::steady_clock::now();
  const std::string hash = hasher.HashNow("correct horse battery");
  const auto hash_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=65536,t=2,p=1$", 0), 0u) << hash;
  const auto verify_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(hasher.VerifyNow(hash, "correct horse battery").match);
  const auto verify_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - verify_start)
          .count();
  // No truncation: a long password differing only at character 80 must fail.
  std::string long_pw(100, 'a');
  const std::string long_hash = hasher.HashNow(long_pw);
  long_pw[80] = 'b';
  EXPECT_FALSE(hasher.VerifyNow(long_hash, long_pw).match);
  EXPECT_FALSE(hasher.VerifyNow(std::nullopt, "anything").match);
  RecordProperty("argon2id_hash_ms", std::to_string(hash_ms));
  std::printf("argon2id t=2 m=64MiB: hash %.1f ms, verify %.1f ms\n", hash_ms, verify_ms);
}

TEST(MembersCrypto, SealedFieldsAreBoundToTheirContext) {
  SodiumFieldCipher cipher(kSecret);
  const std::string sealed = cipher.Seal("010-1234-5678", "member:1:phone");
  EXPECT_EQ(cipher.Open(sealed, "member:1:phone"), "010-1234-5678");
  EXPECT_FALSE(cipher.Open(sealed, "member:2:phone"));  // copied to another row
  EXPECT_FALSE(cipher.Open(sealed, "member:1:address"));
  std::string tampered = sealed;
  tampered.back() ^= 1;
  EXPECT_FALSE(cipher.Open(tampered, "member:1:phone"));
  SodiumFieldCipher other("another key of at least thirty-two bytes!!");
  EXPECT_FALSE(other.Open(sealed, "member:1:phone"));
  EXPECT_NE(cipher.Seal("x", "c"), cipher.Seal("x", "c"));  // random nonces
}

TEST(MembersDomain, SearchPrefixIsAnAsciiCaseInsensitiveRange) {
  auto al = MakeSearchPrefix("AL");
  ASSERT_TRUE(al.ok());
  EXPECT_EQ(al->from, "al");
  EXPECT_EQ(al->to, "am");
  // '@' + 1 is 'A', which a NOCASE comparison reads as 'a': the bound skips to '['.
  EXPECT_EQ(MakeSearchPrefix("ann@")->to, "ann[");
  EXPECT_EQ(MakeSearchPrefix("\xea\xb9\x80")->to, "\xea\xb9\x81");  // UTF-8 stays as is
  for (const std::string bad : {std::string(), std::string(kSearchMaxChars + 1, 'a'),
                                std::string("a\tb"), std::string("a\x7f"), std::string("\xff")}) {
    auto r = MakeSearchPrefix(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kValidationFailed);
    EXPECT_EQ(r.error().field, "q");
  }
}

TEST_F(MembersServiceTest, AdminListFindsMembersByEmailOrNamePrefixNewestFirst) {
  const std::vector<std::pair<std::string, std::string>> people = {
      {"zoe@example.com", "Alice Smith"}, {"alex@shop.io", "Bob"},
      {"carl@example.com", "ALbert"},     {"dan@example.com", "Al[x"},
      {"eve@example.com", "Zed"},         {"f@example.com", "x@1"},
      {"g@example.com", "x[1"},           {"h@example.com", "xa"}};
  std::map<std::string, std::int64_t> id;
  for (const auto& [email, name] : people) {
    ASSERT_TRUE(RunAwait(service_->Signup({email, kPassword, name, "", ""}, "10.0.0.1")).ok());
    id[email] = Find(email)->id;
  }
  auto ids = [](const MembersService::MemberPage& page) {
    std::vector<std::int64_t> out;
    for (const auto& m : page.items) out.push_back(m.id);
    return out;
  };
  auto all = RunAwait(service_->ListMembers(std::nullopt, 0, 100));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), people.size());
  EXPECT_EQ(all->total, static_cast<std::int64_t>(people.size()));
  EXPECT_EQ(all->items.front().id, id["h@example.com"]) << "newest first";
  EXPECT_EQ(all->items.front().name, "xa");
  EXPECT_FALSE(all->items.front().email_verified);
  EXPECT_EQ(all->next_before_id, 0);

  const std::vector<std::int64_t> al = {id["dan@example.com"], id["carl@example.com"],
                                        id["alex@shop.io"], id["zoe@example.com"]};
  for (const char* q : {"al", "AL", "aL"}) {
    auto found = RunAwait(service_->ListMembers(std::string(q), 0, 100));
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(ids(*found), al) << q;
    EXPECT_FALSE(found->total) << "no total for a search";
  }
  EXPECT_EQ(ids(*RunAwait(service_->ListMembers(std::string("al["), 0, 100))),
            std::vector<std::int64_t>{id["dan@example.com"]});
  EXPECT_EQ(ids(*RunAwait(service_->ListMembers(std::string("ALEX@SHOP.IO"), 0, 100))),
            std::vector<std::int64_t>{id["alex@shop.io"]});
  EXPECT_EQ(ids(*RunAwait(service_->ListMembers(std::string("x@"), 0, 100))),
            std::vector<std::int64_t>{id["f@example.com"]});
  EXPECT_TRUE(RunAwait(service_->ListMembers(std::string("example.com"), 0, 100))->items.empty())
      << "a prefix, not a substring";

  auto first = RunAwait(service_->ListMembers(std::string("al"), 0, 3));
  EXPECT_EQ(ids(*first), std::vector<std::int64_t>(al.begin(), al.begin() + 3));
  ASSERT_EQ(first->next_before_id, al[2]);
  auto rest = RunAwait(service_->ListMembers(std::string("al"), first->next_before_id, 3));
  EXPECT_EQ(ids(*rest), std::vector<std::int64_t>{al[3]});
  EXPECT_EQ(rest->next_before_id, 0);
  EXPECT_EQ(RunAwait(service_->ListMembers(std::string(""), 0, 10)).error().code,
            Errc::kValidationFailed);
}

}  // namespace
}  // namespace rocketmart::members
