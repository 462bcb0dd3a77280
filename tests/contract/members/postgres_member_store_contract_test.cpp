// The members store contracts (MemberRepository, MailOutbox) for the PostgreSQL adapters: a fresh
// database per test on the test binary's own PostgreSQL 15; each instance has its own connection
// pool over it, as a second members process would, so the concurrency clauses run across real
// row locks and SKIP LOCKED claims.
#include "infra/postgres/pool.hpp"
#include "mail_outbox_contract.hpp"
#include "member_repository_contract.hpp"
#include "services/members/adapters/postgres/postgres_member_store.hpp"
#include "support/local_postgres.hpp"
#include "support/run_await.hpp"

namespace rocketmart::members::contract {
namespace {

class PostgresMemberStoreFixture final : public MemberStoreFixture {
 public:
  PostgresMemberStoreFixture() {
    auto& server = rocketmart::testing::SharedLocalPostgres();
    conninfo_ = server.ConnectionString(server.NewDatabase("members"));
  }
  MemberStoreInstance Open() override {
    instances_.push_back(std::make_unique<Instance>(conninfo_));
    Instance& in = *instances_.back();
    return {in.repository, in.outbox};
  }
  FakeClock& clock() override { return clock_; }

 private:
  struct Instance {
    explicit Instance(const std::string& conninfo)
        : pool(Settings(conninfo)), repository(pool), outbox(pool) {
      auto migrate = [](postgres::Pool& pool) -> boost::asio::awaitable<Status> {
        auto lease = co_await pool.Acquire();
        if (!lease.ok()) co_return std::move(lease).error();
        co_return co_await MigratePostgresMembers(**lease);  // a no-op on the second
      };
      if (!rocketmart::testing::RunAwait(migrate(pool)).ok()) {
        throw std::runtime_error("members migrations failed");
      }
    }
    static postgres::PoolSettings Settings(const std::string& conninfo) {
      postgres::PoolSettings s;
      s.connect.conninfo = conninfo;
      s.size = 8;
      return s;
    }
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
