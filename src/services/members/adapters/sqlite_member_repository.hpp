// MemberRepository and MailOutbox on the members service's own SQLite database. Every write is one
// job on the group-commit writer (one transaction with the mail it queues); reads use the
// per-thread read connections and complete inline. Another process may open the same file
// (several instances over one members.db): its writer's BEGIN IMMEDIATE waits for ours, so a
// job's reads and writes are atomic across processes. Thread-safe: the writer serialises writes,
// readers are per thread.
#pragma once

#include <span>
#include <vector>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/members/ports/mail_outbox.hpp"
#include "services/members/ports/member_repository.hpp"

namespace rocketmart::members {

std::span<const storage::Migration> MembersMigrations();

// One member read straight from a members database, e.g. one `rocketmart token` opened read-only
// while the server runs. nullopt when there is no such member.
std::optional<MemberRecord> ReadMemberById(storage::Database& db, std::int64_t id);

class SqliteMemberRepository final : public MemberRepository {
 public:
  SqliteMemberRepository(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

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
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

// The durable mail outbox (table mail_outbox in members.db). Claims are one writer job each
// (BEGIN IMMEDIATE: another process's writer waits for it); looks go through `readers` first,
// never the writer: the worker is woken by every commit of the members database, so a look that
// committed would wake it again, forever.
class SqliteMailOutbox final : public MailOutbox {
 public:
  SqliteMailOutbox(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}
  boost::asio::awaitable<Result<std::vector<OutboxMail>>> Claim(TimePoint now,
                                                                TimePoint lease_until,
                                                                std::size_t limit) override;
  boost::asio::awaitable<Status> Complete(OutboxMail mail) override;
  boost::asio::awaitable<Status> Reschedule(OutboxMail mail, TimePoint next_attempt,
                                            std::string error) override;
  // Mails queued, claimed or not (tests, operators). Blocking read.
  std::int64_t Pending();

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

}  // namespace rocketmart::members
