#include "app/tool_stores.hpp"

#include <filesystem>
#include <stdexcept>

#include "infra/async/run.hpp"
#include "infra/events/postgres_outbox/postgres_stores.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/database.hpp"
#include "infra/postgres/pool.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/members/adapters/postgres/postgres_member_store.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"

namespace rocketmart::app {

namespace fs = std::filesystem;

namespace {

fs::path SqliteFile(const config::Config& config, const std::string& service) {
  return fs::path(config.storage.data_dir) / (service + ".db");
}

const config::DatabaseConfig* DatabaseOf(const config::Config& config, std::string_view service) {
  if (service == "members") return &config.members.database;
  if (service == "catalog") return &config.catalog.database;
  if (service == "checkout") return &config.checkout.database;
  if (service == "orders") return &config.orders.database;
  return nullptr;  // provider: always SQLite
}

}  // namespace

std::string MembersDatabaseName(const config::Config& config) {
  const config::DatabaseConfig& db = config.members.database;
  return config::IsPostgresUrl(db.url) ? db.url : SqliteFile(config, "members").string();
}

std::optional<members::MemberRecord> ReadMember(const config::Config& config, std::int64_t id) {
  const config::DatabaseConfig& db = config.members.database;
  if (config::IsPostgresUrl(db.url)) {
    postgres::Pool pool(module::PoolSettingsFor(db, 1));
    members::PostgresMemberRepository repository(pool);
    auto found = async::RunToCompletion(repository.FindById(id));
    if (!found.ok()) throw std::runtime_error(found.error().message);
    return std::move(*found);
  }
  const fs::path path = SqliteFile(config, "members");
  if (!fs::exists(path)) return std::nullopt;
  storage::OpenOptions open;
  open.path = path.string();
  open.read_only = true;
  storage::Database sqlite(open);
  return members::ReadMemberById(sqlite, id);
}

Result<std::int64_t> CreateAdmin(const config::Config& config, members::NewMember member) {
  SystemClock clock;
  const config::DatabaseConfig& db = config.members.database;
  if (config::IsPostgresUrl(db.url)) {
    metrics::Registry metrics;
    module::PostgresDatabase database("members", "members.database.url", db,
                                      members::MigratePostgresMembers, metrics);
    members::PostgresMemberRepository repository(database.pool());
    return async::RunToCompletion(repository.CreateAdmin(std::move(member), clock.Now()));
  }
  storage::OpenOptions open;
  open.path = SqliteFile(config, "members").string();
  storage::GroupCommitWriter writer(open);
  storage::Migrate(writer.Connection(), members::MembersMigrations());
  writer.Start();
  open.read_only = true;
  storage::ReadConnections readers(open);
  members::SqliteMemberRepository repository(writer, readers);
  auto id = async::RunToCompletion(repository.CreateAdmin(std::move(member), clock.Now()));
  writer.Stop();
  return id;
}

std::vector<std::pair<std::string, events::DeadLetter>> ReadDeadLetters(
    const config::Config& config) {
  std::vector<std::pair<std::string, events::DeadLetter>> out;
  for (const char* name : {"catalog", "checkout", "orders", "members", "provider"}) {
    const config::DatabaseConfig* db = DatabaseOf(config, name);
    if (db != nullptr && config::IsPostgresUrl(db->url)) {
      events::postgres_outbox::PostgresConsumerStore store(name, module::PoolSettingsFor(*db, 1));
      for (events::DeadLetter& letter : store.DeadLetters()) out.emplace_back(name, letter);
      continue;
    }
    storage::OpenOptions open;
    open.path = SqliteFile(config, name).string();
    open.read_only = true;
    if (!fs::exists(open.path)) continue;
    storage::Database sqlite(open);
    for (events::DeadLetter& letter : events::sqlite_outbox::ReadDeadLetters(sqlite)) {
      out.emplace_back(name, std::move(letter));
    }
    for (events::DeadLetter& legacy : events::sqlite_outbox::ReadLegacyDeadLetters(sqlite, name)) {
      out.emplace_back(name, std::move(legacy));
    }
  }
  return out;
}

}  // namespace rocketmart::app
