// Port: durable storage of members, their single-use tokens, refresh-token families, access-token
// denials and the mail outbox. Implemented by adapters/sqlite_member_repository.
//
// Every write is a coroutine that completes only after its transaction committed, and each one is
// a single transaction: a state change and the mail it causes commit together or not at all (a
// mail is never lost, never sent for a change that did not happen). Reads are synchronous and
// cheap (a primary-key or unique-index lookup). Personal data arrives sealed (FieldCipher) and is
// stored as given; single-use tokens arrive as SHA-256 hashes, never in plain text.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/members/domain/member.hpp"

namespace rocketmart::members {

// A member row as stored: phone and address sealed (empty = not set).
struct MemberRecord {
  std::int64_t id = 0;
  std::string email;
  std::string password_hash;
  std::string name;
  std::string phone_sealed;
  std::string address_sealed;
  MemberRole role = MemberRole::kUser;
  bool email_verified = false;
  TimePoint tokens_valid_after{};
  TimePoint created_at{};
  TimePoint updated_at{};
};

// One row of the admin's members list: what an operator may see (no personal data, ADR 0011).
struct MemberSummary {
  std::int64_t id = 0;
  std::string email;
  std::string name;
  MemberRole role = MemberRole::kUser;
  bool email_verified = false;
  TimePoint created_at{};
};

struct MemberListQuery {
  std::optional<SearchPrefix> search;  // nullopt = every member
  std::int64_t before_id = 0;          // 0 = from the newest
  std::size_t limit = 20;
};

struct MemberList {
  std::vector<MemberSummary> items;   // newest first
  std::optional<std::int64_t> total;  // every member, without a search; nullopt with one
};

enum class TokenKind { kVerifyEmail = 1, kResetPassword = 2 };

// A mail to queue in the same transaction, already sealed (it may carry a single-use link).
struct QueuedMail {
  std::string sealed;
};

struct NewMember {
  std::string email;
  std::string password_hash;
  std::string name;
  std::string phone_sealed;    // sealed with a context naming the id: filled in by the repository
  std::string address_sealed;  // through the seal callback below
  MemberRole role = MemberRole::kUser;
  bool email_verified = false;
};

enum class RefreshStatus { kRotated, kUnknown, kExpired, kReused };

struct RefreshOutcome {
  RefreshStatus status = RefreshStatus::kUnknown;
  std::int64_t member_id = 0;
  std::string family_id;
  TimePoint family_expires_at{};
};

struct Revocation {
  std::int64_t member_id = 0;
  TimePoint valid_after{};
};

struct DenylistSnapshot {
  struct Denied {
    std::int64_t member_id = 0;
    std::string jti;
    TimePoint expires_at{};
  };
  std::vector<Denied> denied_tokens;
  std::vector<std::pair<std::int64_t, TimePoint>> valid_after;  // member, tokens_valid_after
};

class MemberRepository {
 public:
  virtual ~MemberRepository() = default;

  virtual std::optional<MemberRecord> FindById(std::int64_t id) = 0;
  virtual std::optional<MemberRecord> FindByEmail(std::string_view email) = 0;
  // Members with ids below before_id whose email or name has the prefix, newest first; the total
  // is read from a counter kept by the database (no count over the table).
  virtual MemberList ListMembers(const MemberListQuery& query) = 0;

  // Inserts the member (new email) together with its verification token and mail, or, when the
  // email is taken, queues only `taken_mail`. Returns the new id, or 0 when the email was taken.
  // `seal(id, phone_or_address_field)` is called inside the transaction once the id is known, so
  // personal data is bound to its row; `make_mail(id)` likewise builds the verification mail.
  struct SignupRequest {
    NewMember member;
    std::string phone;    // plain; sealed through `seal` inside the transaction
    std::string address;  // plain
    std::string verify_token_hash;
    TimePoint verify_expires_at{};
    QueuedMail new_mail;
    QueuedMail taken_mail;
    TimePoint now{};
  };
  using SealFn = std::function<std::string(std::int64_t id, std::string_view field,
                                           std::string_view plaintext)>;
  virtual boost::asio::awaitable<Result<std::int64_t>> Signup(SignupRequest request,
                                                              SealFn seal) = 0;

  // Replaces the member's outstanding tokens of `kind` (a new link supersedes the old one) and
  // queues the mail. kNotFound for an unknown member.
  virtual boost::asio::awaitable<Status> IssueToken(std::int64_t member_id, TokenKind kind,
                                                    std::string token_hash, TimePoint expires_at,
                                                    QueuedMail mail, TimePoint now) = 0;

  // Consumes a verification token and marks the email verified. kValidationFailed when the token is
  // unknown, used, superseded or expired (one answer for all: no oracle).
  virtual boost::asio::awaitable<Result<std::int64_t>> ConsumeVerification(std::string token_hash,
                                                                           TimePoint now) = 0;
  // Consumes a reset token, sets the new hash, revokes every refresh token and voids every access
  // token issued before `valid_after`. Returns the member and the revocation instant stored.
  virtual boost::asio::awaitable<Result<Revocation>> ConsumeReset(std::string token_hash,
                                                                  std::string new_hash,
                                                                  TimePoint valid_after,
                                                                  TimePoint now) = 0;

  virtual boost::asio::awaitable<Status> StoreRefresh(std::int64_t member_id, std::string family_id,
                                                      std::string token_hash,
                                                      TimePoint family_expires_at,
                                                      TimePoint now) = 0;
  // Marks `token_hash` used and stores `new_hash` in the same family, or reports why not. On reuse
  // of an already-used token the whole family is revoked (committed; the caller answers 401).
  virtual boost::asio::awaitable<Result<RefreshOutcome>> RotateRefresh(std::string token_hash,
                                                                       std::string new_hash,
                                                                       TimePoint now) = 0;
  // Revokes the family of `token_hash` if it belongs to `member_id` (otherwise does nothing) and
  // denies the access token `jti` until `jti_expires_at`.
  virtual boost::asio::awaitable<Status> Logout(std::int64_t member_id,
                                                std::optional<std::string> token_hash,
                                                std::string jti, TimePoint jti_expires_at,
                                                TimePoint now) = 0;
  // Revokes every refresh family of the member except `keep_family` (may be empty) and voids
  // access tokens issued before `valid_after`. Returns the instant stored: `valid_after`, or one
  // second past the previous one if that was not earlier (tokens issued since the previous
  // revocation carry iat = previous instant and must be voided too).
  virtual boost::asio::awaitable<Result<TimePoint>> RevokeSessions(std::int64_t member_id,
                                                                   std::string keep_family,
                                                                   TimePoint valid_after,
                                                                   TimePoint now) = 0;
  // Sets a new password hash and revokes sessions like RevokeSessions, in one transaction.
  virtual boost::asio::awaitable<Result<TimePoint>> ChangePassword(std::int64_t member_id,
                                                                   std::string new_hash,
                                                                   std::string keep_family,
                                                                   TimePoint valid_after,
                                                                   TimePoint now) = 0;
  // Replaces the stored hash only if it is still `old_hash` (rehash on login after a parameter
  // upgrade must never overwrite a concurrent password change).
  virtual boost::asio::awaitable<Status> UpgradeHash(std::int64_t member_id, std::string old_hash,
                                                     std::string new_hash) = 0;

  // Profile fields: nullopt = unchanged; sealed values for phone/address ("" clears).
  struct ProfileUpdate {
    std::optional<std::string> name;
    std::optional<std::string> phone_sealed;
    std::optional<std::string> address_sealed;
  };
  virtual boost::asio::awaitable<Result<MemberRecord>> UpdateProfile(std::int64_t member_id,
                                                                     ProfileUpdate update,
                                                                     TimePoint now) = 0;

  // Synchronous, start-up / CLI only.
  virtual DenylistSnapshot LoadDenylist(TimePoint now) = 0;
  virtual Result<std::int64_t> CreateAdminSync(NewMember member, TimePoint now) = 0;
};

}  // namespace rocketmart::members
