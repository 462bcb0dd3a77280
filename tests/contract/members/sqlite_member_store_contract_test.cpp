// The members store contracts (MemberRepository, MailOutbox) for the SQLite adapters: each
// instance is what a second process would have over the same members.db (its own group-commit
// writer and read connections), so the concurrency clauses run across real SQLite locking.
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "mail_outbox_contract.hpp"
#include "member_repository_contract.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::members::contract {
namespace {

class SqliteMemberStoreFixture final : public MemberStoreFixture {
 public:
  ~SqliteMemberStoreFixture() override {
    for (auto& instance : instances_) instance->writer.Stop();
  }
  MemberStoreInstance Open() override {
    instances_.push_back(std::make_unique<Instance>(dir_.File("members.db")));
    Instance& in = *instances_.back();
    return {in.repository, in.outbox};
  }
  FakeClock& clock() override { return clock_; }

 private:
  struct Instance {
    // synchronous=NORMAL: the promises under test do not depend on fsync, the shared CI machine
    // does.
    explicit Instance(const std::string& path)
        : writer(storage::OpenOptions{.path = path, .synchronous = storage::Synchronous::kNormal}),
          readers(storage::OpenOptions{
              .path = path, .read_only = true, .synchronous = storage::Synchronous::kNormal}),
          repository(writer, readers),
          outbox(writer, readers) {
      storage::Migrate(writer.Connection(), MembersMigrations());  // a no-op on the second
      writer.Start();
    }
    storage::GroupCommitWriter writer;
    storage::ReadConnections readers;
    SqliteMemberRepository repository;
    SqliteMailOutbox outbox;
  };

  rocketmart::testing::TempDir dir_{"contract-members"};
  FakeClock clock_;
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<MemberStoreFixture> MakeSqliteMemberStore() {
  return std::make_unique<SqliteMemberStoreFixture>();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MemberRepositoryContract,
                         ::testing::Values(&MakeSqliteMemberStore));
INSTANTIATE_TEST_SUITE_P(Sqlite, MailOutboxContract, ::testing::Values(&MakeSqliteMemberStore));

}  // namespace
}  // namespace rocketmart::members::contract
