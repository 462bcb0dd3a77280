// The members application service: signup with email verification, login with short access
// tokens and rotated refresh tokens, logout, password change and reset, profile and my page.
//
// Security rules it owns (docs/members.md): argon2id through PasswordHasher (off the I/O threads);
// single-use links are 256-bit random, stored as SHA-256, expiring and superseded by a newer one;
// signup, resend and find-password answer the same whether or not the email is known (the
// difference goes by mail); login verifies a dummy hash for unknown emails; failed logins are
// throttled per account and per client address; refresh tokens rotate on every use and a reused
// one revokes its family; logout, logout-all, password change and reset void access tokens at
// once through TokenRevoker (when it fails, the change stays committed, the answer is 503
// UNAVAILABLE and the durable deny-list is replayed into it until it succeeds). Rate-limit errors
// (Errc::kRateLimited) carry the Retry-After seconds as decimal text in Error::field; the HTTP
// adapter moves it into the header.
//
// Thread-safety: all methods may be called concurrently from any I/O thread. The service keeps no
// per-member state in memory: throttle counts live in the ThrottleStore (shared between instances
// when the store is), revocations in the repository and the revoker.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/members/domain/member.hpp"
#include "services/members/domain/throttle.hpp"
#include "services/members/ports/clients.hpp"
#include "services/members/ports/field_cipher.hpp"
#include "services/members/ports/member_repository.hpp"
#include "services/members/ports/password_hasher.hpp"
#include "services/members/ports/throttle_store.hpp"
#include "services/members/ports/token_revoker.hpp"

namespace rocketmart::members {

struct MembersOptions {
  std::string public_base_url = "http://localhost:8080";  // links in mails start with this
  std::chrono::seconds verify_ttl{24 * 3600};
  std::chrono::seconds reset_ttl{30 * 60};
  std::chrono::seconds access_ttl{15 * 60};
  std::chrono::seconds refresh_ttl{30 * 24 * 3600};  // absolute lifetime of a refresh family
  std::string issuer = "rocketmart";
  std::string audience = "rocketmart-api";
  BackoffRule account_throttle{};  // 5 free failures, then 1 s doubling to 15 min
  BackoffRule ip_throttle{.free_failures = 100,
                          .base_delay = std::chrono::seconds{60},
                          .max_delay = std::chrono::seconds{900}};
  int mails_per_account_per_hour = 3;  // resend-verification and find-password, each
  int mails_per_ip_per_hour = 20;
  int signups_per_ip_per_hour = 30;
  // How long the mail worker holds the mail requests it claimed (another instance's worker takes
  // them over after this if it died).
  std::chrono::seconds mail_request_lease{60};
};

// What the service needs, bound once at construction: its own adapters and the clients of the
// services "my page" reads. All must outlive the service.
struct MembersPorts {
  MemberRepository& repository;
  PasswordHasher& hasher;
  const FieldCipher& cipher;
  TokenRevoker& revoker;
  ThrottleStore& throttles;
  OrdersClient& orders;
  WishlistClient& wishlist;
  LikesClient& likes;
};

struct SignupInput {
  std::string email;
  std::string password;
  std::string name;
  std::string phone;    // optional: empty = not given
  std::string address;  // optional
};

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
  std::int64_t expires_in = 0;  // seconds until the access token expires
};

struct ProfileView {
  std::int64_t id = 0;
  std::string email;
  std::string name;
  std::optional<std::string> phone;
  std::optional<std::string> address;
  bool email_verified = false;
  MemberRole role = MemberRole::kUser;
  TimePoint created_at{};
};

template <class T>
struct Section {
  std::optional<std::vector<T>> items;  // nullopt = "unavailable"
};

struct MyPageView {
  ProfileView profile;
  Section<OrderSummary> orders;
  Section<WishlistEntry> wishlist;
  Section<LikedProduct> likes;
};

class MembersService {
 public:
  MembersService(MembersPorts ports, const auth::Keyring& keyring, const Clock& clock,
                 MembersOptions options);

  // Replays the durable deny-list (members.db) into the revoker. Start-up; an error means the
  // revoker did not take all of it.
  boost::asio::awaitable<Status> Load();
  // After a revocation could not be published (the request answered 503 UNAVAILABLE), replays
  // the durable deny-list into the revoker again; nothing to do otherwise. Returns true when it
  // replayed everything. Run it periodically (maintenance).
  boost::asio::awaitable<bool> RepublishRevocations();
  // Revocations committed but not taken by the revoker (for metrics).
  std::uint64_t RevocationsUnpublished() const {
    return revocations_unpublished_.load(std::memory_order_relaxed);
  }

  boost::asio::awaitable<Status> Signup(SignupInput input, std::string client_ip);
  struct VerifyOutcome {
    bool already_verified = false;  // the link was used before, or the address verified otherwise
  };
  boost::asio::awaitable<Result<VerifyOutcome>> VerifyEmail(std::string token,
                                                            std::string client_ip);
  boost::asio::awaitable<Status> ResendVerification(std::string email, std::string client_ip);

  // Logins refused for a wrong password or an unknown email, and logins refused unchecked while
  // the account or client address was throttled (for metrics).
  std::uint64_t LoginFailures() const { return login_failures_.load(std::memory_order_relaxed); }
  std::uint64_t LoginsThrottled() const {
    return logins_throttled_.load(std::memory_order_relaxed);
  }
  boost::asio::awaitable<Result<TokenPair>> Login(std::string email, std::string password,
                                                  std::string client_ip);
  boost::asio::awaitable<Result<TokenPair>> Refresh(std::string refresh_token);
  boost::asio::awaitable<Status> Logout(auth::Identity identity,
                                        std::optional<std::string> refresh_token);
  boost::asio::awaitable<Status> LogoutAll(auth::Identity identity);

  boost::asio::awaitable<Status> UpdatePassword(auth::Identity identity,
                                                std::string current_password,
                                                std::string new_password);
  boost::asio::awaitable<Status> FindPassword(std::string email, std::string client_ip);
  // The mail worker's half of resend-verification and find-password: looks each recorded address
  // up, applies the per-account mail limit, and issues the link to a member who should get one.
  // Returns how many requests it resolved. Requests are claimed first (for
  // MembersOptions::mail_request_lease), so resolvers of several instances never resolve one
  // request twice.
  boost::asio::awaitable<int> ResolveMailRequests();
  boost::asio::awaitable<Status> ResetPassword(std::string token, std::string new_password,
                                               std::string client_ip);

  boost::asio::awaitable<Result<ProfileView>> Me(std::int64_t member_id);
  boost::asio::awaitable<Result<ProfileView>> UpdateProfile(std::int64_t member_id,
                                                            ProfileChanges changes);
  // The profile with the orders, wishlist and likes sections, each asked of its service by
  // `deadline` (the member's request's, passed on to the peers when they run apart).
  boost::asio::awaitable<Result<MyPageView>> MyPage(std::int64_t member_id, Deadline deadline);

  // The admin's members list: newest first, below `before_id` (0 = from the newest), optionally
  // only those whose email or name starts with `q` (ASCII case ignored). next_before_id is 0 on
  // the last page; total is set without a search.
  struct MemberPage {
    std::vector<MemberSummary> items;
    std::optional<std::int64_t> total;
    std::int64_t next_before_id = 0;
  };
  boost::asio::awaitable<Result<MemberPage>> ListMembers(std::optional<std::string> q,
                                                         std::int64_t before_id, std::size_t limit);

  // Tokens travel as 64 lowercase hex characters (256 bits); anything else is rejected unseen.
  static bool IsWellFormedToken(std::string_view token);
  static std::string HashToken(std::string_view token);  // SHA-256, hex

 private:
  Result<TokenPair> IssueTokens(const MemberRecord& member, const std::string& family_id,
                                const std::string& refresh_token, TimePoint family_expires_at,
                                TimePoint now);
  ProfileView View(const MemberRecord& record) const;
  std::string Seal(std::int64_t id, std::string_view field, std::string_view plaintext) const;
  std::optional<std::string> OpenField(std::int64_t id, std::string_view field,
                                       const std::string& sealed) const;
  boost::asio::awaitable<Status> Replay();
  // `st` from the revoker after the durable change committed: Ok, or kUnavailable saying the
  // change is saved but not yet in force everywhere (and a replay is scheduled).
  Status Published(Status st);
  // Voids access tokens issued up to now: the next whole second after `now`.
  static TimePoint ValidAfter(TimePoint now);
  // The request half of resend and find-password: the same work whatever the address.
  boost::asio::awaitable<Status> RecordMailRequest(MailRequestKind kind, std::string email,
                                                   std::string client_ip);
  // The link (and mail) a recorded request earns, if any: nullopt for an unknown address, an
  // already verified one (verification), or an account over its mail limit.
  // An error when the throttle store could not say.
  boost::asio::awaitable<Result<std::optional<TokenIssue>>> LinkFor(MailRequestKind kind,
                                                                    std::string email,
                                                                    TimePoint now);
  // Counts a mailed-link use (or guess) from the client address; a rate-limit error when locked.
  boost::asio::awaitable<Status> AttemptLink(const std::string& ip_key, TimePoint now);
  // Takes back an attempt that was not a guess. Best effort: a store error only leaves the
  // attempt counted.
  boost::asio::awaitable<void> Forgive(std::string key);
  boost::asio::awaitable<Status> Limit(std::string key, int per_hour, TimePoint now);

  MemberRepository& repository_;
  PasswordHasher& hasher_;
  const FieldCipher& cipher_;
  TokenRevoker& revoker_;
  ThrottleStore& throttles_;
  OrdersClient& orders_;
  WishlistClient& wishlist_;
  LikesClient& likes_;
  const auth::Keyring& keyring_;
  const Clock& clock_;
  const MembersOptions options_;
  std::atomic<std::uint64_t> login_failures_{0};
  std::atomic<std::uint64_t> logins_throttled_{0};
  std::atomic<std::uint64_t> revocations_unpublished_{0};
  std::atomic<bool> republish_pending_{false};
};

// The Errc::kRateLimited error with its Retry-After seconds in `field`.
Error RateLimitedError(std::chrono::seconds retry_after);

}  // namespace rocketmart::members
