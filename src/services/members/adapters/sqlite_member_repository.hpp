// MemberRepository and the mail outbox on the members service's own SQLite database. Every write
// is one job on the group-commit writer (one transaction with the mail it queues); reads use the
// per-thread read connections. Thread-safe: the writer serialises writes, readers are per thread.
#pragma once

#include <span>
#include <vector>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
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

  std::optional<MemberRecord> FindById(std::int64_t id) override;
  std::optional<MemberRecord> FindByEmail(std::string_view email) override;
  MemberList ListMembers(const MemberListQuery& query) override;
  boost::asio::awaitable<Result<std::int64_t>> Signup(SignupRequest request, SealFn seal) override;
  boost::asio::awaitable<Status> RecordMailRequest(MailRequestKind kind, std::string sealed_address,
                                                   TimePoint now) override;
  std::vector<MailRequest> PendingMailRequests(std::size_t limit) override;
  boost::asio::awaitable<Status> ResolveMailRequest(std::int64_t request_id,
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
  DenylistSnapshot LoadDenylist(TimePoint now) override;
  Result<std::int64_t> CreateAdminSync(NewMember member, TimePoint now) override;
  Result<std::int64_t> CreateMemberSync(NewMember member, TimePoint now) override;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

// The durable mail outbox (table mail_outbox), read and updated by the mail worker's thread.
struct OutboxMail {
  std::int64_t id = 0;
  std::string sealed;
  int attempts = 0;
};

class SqliteMailOutbox {
 public:
  // Looks go through `readers`, never the writer: the worker is woken by every commit of the
  // members database, so a look that committed would wake it again, forever.
  SqliteMailOutbox(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}
  // Mails whose next attempt is due, oldest first. Blocking; worker thread only.
  std::vector<OutboxMail> Due(TimePoint now, std::size_t limit);
  // Sent: the row (and the link it carries) is deleted.
  void MarkSent(std::int64_t id);
  void Reschedule(std::int64_t id, TimePoint next_attempt, const std::string& error);
  // Earliest next attempt of any queued mail, if any.
  std::optional<TimePoint> NextDue();
  std::int64_t Pending();

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

}  // namespace rocketmart::members
