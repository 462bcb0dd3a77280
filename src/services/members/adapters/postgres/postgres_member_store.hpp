// MemberRepository and MailOutbox on the members service's own PostgreSQL database (issue 13).
//
// Every write is one transaction (postgres::Transact) with the mail it queues. What a write reads
// it locks: the member row (FOR UPDATE) for revocations, password and profile changes; the token
// row for a verification or a refresh rotation (so of parallel rotations of one token exactly one
// rotates: the others wait, then read it used and see a reuse); a reset token is taken by DELETE
// ... RETURNING. Emails are unique by a unique index (INSERT ... ON CONFLICT DO NOTHING: of
// parallel signups of one email exactly one inserts). Shared work is claimed in one statement,
// UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED), so two instances never claim the
// same mail or mail request while a lease lasts and never wait for each other. Sealed personal
// data and mails are stored as bytea. The member count for the admin list is a counter row kept
// by a trigger (one row read; it serializes signups on their commit, like SQLite's single writer).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"
#include "services/members/ports/mail_outbox.hpp"
#include "services/members/ports/member_repository.hpp"

namespace rocketmart::members {

// Creates or updates the members tables (and the event tables) under the migration lock.
boost::asio::awaitable<Status> MigratePostgresMembers(postgres::Connection& connection);

class PostgresMemberRepository final : public MemberRepository {
 public:
  explicit PostgresMemberRepository(postgres::Pool& pool) : pool_(pool) {}

  boost::asio::awaitable<Result<MaybeMember>> FindById(std::int64_t id) override;
  boost::asio::awaitable<Result<MaybeMember>> FindByEmail(std::string email) override;
  boost::asio::awaitable<Result<MemberList>> ListMembers(MemberListQuery query) override;
  boost::asio::awaitable<Result<std::int64_t>> Signup(SignupRequest request, SealFn seal) override;
  boost::asio::awaitable<Status> RecordMailRequest(MailRequestKind kind, std::string sealed_address,
                                                   TimePoint now) override;
  boost::asio::awaitable<Result<std::vector<MailRequest>>> ClaimMailRequests(
      std::size_t limit, TimePoint now, TimePoint lease_until) override;
  boost::asio::awaitable<Status> ResolveMailRequest(MailRequest request,
                                                    std::optional<TokenIssue> issue,
                                                    TimePoint now) override;
  boost::asio::awaitable<Result<Verification>> ConsumeVerification(std::string token_hash,
                                                                   TimePoint now) override;
  boost::asio::awaitable<Result<Revocation>> ConsumeReset(std::string token_hash,
                                                          std::string new_hash,
                                                          TimePoint valid_after,
                                                          TimePoint now) override;
  boost::asio::awaitable<Status> StoreRefresh(std::int64_t member_id, std::string family_id,
                                              std::string token_hash, TimePoint family_expires_at,
                                              TimePoint now) override;
  boost::asio::awaitable<Result<RefreshOutcome>> RotateRefresh(std::string token_hash,
                                                               std::string new_hash,
                                                               TimePoint access_denied_until,
                                                               TimePoint now) override;
  boost::asio::awaitable<Status> Logout(std::int64_t member_id,
                                        std::optional<std::string> token_hash, AccessDenial denial,
                                        TimePoint now) override;
  boost::asio::awaitable<Result<TimePoint>> RevokeSessions(std::int64_t member_id,
                                                           std::string keep_family,
                                                           TimePoint valid_after,
                                                           TimePoint now) override;
  boost::asio::awaitable<Result<TimePoint>> ChangePassword(std::int64_t member_id,
                                                           std::string new_hash,
                                                           std::string keep_family,
                                                           TimePoint valid_after,
                                                           TimePoint now) override;
  boost::asio::awaitable<Status> UpgradeHash(std::int64_t member_id, std::string old_hash,
                                             std::string new_hash) override;
  boost::asio::awaitable<Result<MemberRecord>> UpdateProfile(std::int64_t member_id,
                                                             ProfileUpdate update,
                                                             TimePoint now) override;
  boost::asio::awaitable<Result<DenylistSnapshot>> LoadDenylist(TimePoint now) override;
  boost::asio::awaitable<Result<std::int64_t>> CreateAdmin(NewMember member,
                                                           TimePoint now) override;
  boost::asio::awaitable<Result<std::int64_t>> CreateMember(NewMember member,
                                                            TimePoint now) override;

 private:
  postgres::Pool& pool_;
};

class PostgresMailOutbox final : public MailOutbox {
 public:
  explicit PostgresMailOutbox(postgres::Pool& pool) : pool_(pool) {}

  boost::asio::awaitable<Result<std::vector<OutboxMail>>> Claim(TimePoint now,
                                                                TimePoint lease_until,
                                                                std::size_t limit) override;
  boost::asio::awaitable<Status> Complete(OutboxMail mail) override;
  boost::asio::awaitable<Status> Reschedule(OutboxMail mail, TimePoint next_attempt,
                                            std::string error) override;

 private:
  postgres::Pool& pool_;
};

}  // namespace rocketmart::members
