// The members store contracts (MemberRepository, MailOutbox) for the PostgreSQL adapters: a fresh
// database per test on the test binary's own PostgreSQL 15; each instance has its own connection
// pool over it, as a second members process would, so the concurrency clauses run across real
// row locks and SKIP LOCKED claims.
#include "infra/postgres/pool.hpp"
#include "mail_outbox_contract.hpp"
#include "member_repository_contract.hpp"
#include "services/members/adapters/postgres/postgres_member_store.hpp"
#include "support/postgres_database.hpp"

namespace rocketmart::members::contract {
namespace {

class PostgresMemberStoreFixture final : public MemberStoreFixture {
 public:
  PostgresMemberStoreFixture()
      : conninfo_(rocketmart::testing::NewMigratedDatabase("members", &MigratePostgresMembers)) {}
  MemberStoreInstance Open() override {
    instances_.push_back(std::make_unique<Instance>(conninfo_));
    Instance& in = *instances_.back();
    return {in.repository, in.outbox};
  }
  FakeClock& clock() override { return clock_; }

 private:
  struct Instance {
    explicit Instance(const std::string& conninfo)
        : pool(rocketmart::testing::InstancePool(conninfo)), repository(pool), outbox(pool) {}
    postgres::Pool pool;
    PostgresMemberRepository repository;
    PostgresMailOutbox outbox;
  };

  std::string conninfo_;
  FakeClock clock_;
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<MemberStoreFixture> MakePostgresMemberStore() {
  return std::make_unique<PostgresMemberStoreFixture>();
}

INSTANTIATE_TEST_SUITE_P(Postgres, MemberRepositoryContract,
                         ::testing::Values(&MakePostgresMemberStore));
INSTANTIATE_TEST_SUITE_P(Postgres, MailOutboxContract, ::testing::Values(&MakePostgresMemberStore));

}  // namespace
}  // namespace rocketmart::members::contract
