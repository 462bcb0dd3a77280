// Port: durable storage of members, their single-use tokens, refresh-token families, access-token
// denials, recorded mail requests and the mail they queue (the outbox the mail worker drains
// through ports/mail_outbox.hpp). Implemented by adapters/sqlite_member_repository; the contract
// is tests/contract/members/member_repository_contract.hpp.
//
// One convention: every call is awaitable and answers Result/Status (Errc::kOverloaded when the
// store sheds load; infrastructure failures throw). Reads are cheap (a primary-key or
// unique-index lookup) and may complete inline. Every write completes only after its transaction
// committed, and each one is a single transaction: a state change and the mail it causes commit
// together or not at all (a mail is never lost, never sent for a change that did not happen).
// Several instances may share one store: the concurrency promises are stated per call. Personal
// data arrives sealed (FieldCipher) and is stored as given; single-use tokens arrive as SHA-256
// hashes, never in plain text.
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

// "Send a link to this address" (find-password, resend-verification), recorded the same way
// whether or not the address is registered, and resolved later by the mail worker: the request's
// answer time then says nothing about the account. The address is sealed (it may be anyone's).
enum class MailRequestKind { kPasswordReset = 1, kVerification = 2 };

struct MailRequest {
  std::int64_t id = 0;
  MailRequestKind kind = MailRequestKind::kPasswordReset;
  std::string sealed_address;
  std::string claim;  // who holds it (ClaimMailRequests): resolving needs the claim
};

// A single-use link to issue to a member, with the mail that carries it.
struct TokenIssue {
  std::int64_t member_id = 0;
  TokenKind kind = TokenKind::kVerifyEmail;
  std::string token_hash;
  TimePoint expires_at{};
  QueuedMail mail;
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

// Access tokens made void before they expire: one token (`id` is its jti) or every access token
// of a session (`family`: `id` is the refresh family id that starts their jtis).
struct AccessDenial {
  std::string id;
  bool family = false;
  TimePoint expires_at{};
};

struct DenylistSnapshot {
  struct Denied {
    std::int64_t member_id = 0;
    std::string jti;  // or the family id when `family`
    bool family = false;
    TimePoint expires_at{};
  };
  std::vector<Denied> denied_tokens;
  std::vector<std::pair<std::int64_t, TimePoint>> valid_after;  // member, tokens_valid_after
};

class MemberRepository {
 public:
  virtual ~MemberRepository() = default;

  using MaybeMember = std::optional<MemberRecord>;
  virtual boost::asio::awaitable<Result<MaybeMember>> FindById(std::int64_t id) = 0;
  virtual boost::asio::awaitable<Result<MaybeMember>> FindByEmail(std::string email) = 0;
  // Members with ids below before_id whose email or name has the prefix, newest first; the total
  // is read from a counter kept by the store (no count over the table).
  virtual boost::asio::awaitable<Result<MemberList>> ListMembers(MemberListQuery query) = 0;

  // Inserts the member (new email) together with its verification token and mail, or, when the
  // email is taken, queues only `taken_mail`. Returns the new id, or 0 when the email was taken.
  // Emails are unique case-insensitively: of parallel signups of one email, exactly one inserts.
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

  // Records a mail request; the same write for every address.
  virtual boost::asio::awaitable<Status> RecordMailRequest(MailRequestKind kind,
                                                           std::string sealed_address,
                                                           TimePoint now) = 0;
  // Claims the oldest recorded requests nobody holds (never claimed, or whose claim's lease ended
  // before `now`) until `lease_until`, in the transaction that reads them: two resolvers (two
  // instances) never get the same request while a lease lasts. The mail worker calls it on every
  // wake-up: with nothing to claim it writes nothing.
  virtual boost::asio::awaitable<Result<std::vector<MailRequest>>> ClaimMailRequests(
      std::size_t limit, TimePoint now, TimePoint lease_until) = 0;
  // Deletes the claimed request and, with `issue`, replaces the member's outstanding tokens of
  // its kind (a new link supersedes the old one) and queues the mail, in one transaction. A
  // member that no longer exists gets nothing; the request is deleted all the same. kConflict,
  // and nothing changes, when `request.claim` no longer holds it (another resolver took it over
  // after the lease ended, or resolved it already).
  virtual boost::asio::awaitable<Status> ResolveMailRequest(MailRequest request,
                                                            std::optional<TokenIssue> issue,
                                                            TimePoint now) = 0;

  // Uses a verification token: marks the email verified and the token used. A used token is kept
  // until it expires, so presenting it again (a double click, a second device) answers
  // `already_verified` rather than an error; so does a live token of a member already verified
  // another way (a password reset). kValidationFailed when the token is unknown, superseded or
  // expired (one answer for all: no oracle).
  struct Verification {
    std::int64_t member_id = 0;
    bool already_verified = false;
  };
  virtual boost::asio::awaitable<Result<Verification>> ConsumeVerification(std::string token_hash,
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
  // of an already-used token the whole family is revoked and its access tokens are denied until
  // `access_denied_until` (committed; the caller answers 401). Of parallel rotations of one token
  // exactly one answers kRotated; the others see a reuse.
  virtual boost::asio::awaitable<Result<RefreshOutcome>> RotateRefresh(
      std::string token_hash, std::string new_hash, TimePoint access_denied_until,
      TimePoint now) = 0;
  // Revokes the family of `token_hash` if it belongs to `member_id` (otherwise does nothing) and
  // records `denial` (the caller's access token, or its whole session).
  virtual boost::asio::awaitable<Status> Logout(std::int64_t member_id,
                                                std::optional<std::string> token_hash,
                                                AccessDenial denial, TimePoint now) = 0;
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

  // The revocations still in force (start-up, and a replay after the revoker failed).
  virtual boost::asio::awaitable<Result<DenylistSnapshot>> LoadDenylist(TimePoint now) = 0;
  // `rocketmart admin create`: inserts a verified admin, or promotes the member with that email
  // (verified, new password hash, every session revoked). Returns the member id.
  virtual boost::asio::awaitable<Result<std::int64_t>> CreateAdmin(NewMember member,
                                                                   TimePoint now) = 0;
  // Inserts the member as given (role, verified flag); kConflict when the email is taken.
  virtual boost::asio::awaitable<Result<std::int64_t>> CreateMember(NewMember member,
                                                                    TimePoint now) = 0;
};

}  // namespace rocketmart::members
