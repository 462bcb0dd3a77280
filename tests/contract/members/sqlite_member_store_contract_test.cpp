// The members store contracts (MemberRepository, MailOutbox) for the SQLite adapters: each
// instance is what a second process would have over the same members.db (its own group-commit
// writer and read connections), so the concurrency clauses run across real SQLite locking.
#include <filesystem>
#include <random>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "mail_outbox_contract.hpp"
#include "member_repository_contract.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"

namespace rocketmart::members::contract {
namespace {

// A private temporary directory, removed with its contents. (Local until the shared
// tests/support/temp_dir.hpp lands.)
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("rocketmart-contract-members-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

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

  ScratchDir dir_;
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
