#include "support/test_engine.hpp"

#include <array>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "support/local_postgres.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::testing {
namespace {

constexpr std::array<std::string_view, 4> kServices = {"members", "catalog", "checkout", "orders"};

struct Databases {
  std::mutex mutex;
  // Canonical data directory -> service -> database name.
  std::map<std::filesystem::path, std::map<std::string, std::string>> by_data_dir;
  // Canonical data directory -> its Redis key prefix.
  std::map<std::filesystem::path, std::string> redis_prefix;
  // Canonical folder of a local cluster -> the environment its processes got.
  std::map<std::filesystem::path, std::map<std::string, std::string>> cluster_env;
};

Databases& Registry() {
  static Databases databases;
  return databases;
}

std::filesystem::path Canonical(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(dir, ec);
  return ec ? dir.lexically_normal() : canonical;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool OnPostgres() {
  const char* engine = std::getenv("ROCKETMART_TEST_ENGINE");
  return engine != nullptr && std::string_view(engine) == "postgres";
}

bool WithRedis() {
  const char* redis = std::getenv("ROCKETMART_TEST_REDIS");
  return redis != nullptr && std::string_view(redis) == "1";
}

namespace {
// The key prefix of the server on `data_dir` (a new one for a new directory). Registry locked.
std::string RedisPrefixLocked(Databases& registry, const std::filesystem::path& data_dir) {
  std::string& prefix = registry.redis_prefix[Canonical(data_dir)];
  if (prefix.empty()) prefix = NewKeyPrefix();
  return prefix;
}
}  // namespace

void RegisterClusterDataDir(const std::filesystem::path& dir,
                            const std::map<std::string, std::string>& env) {
  Databases& registry = Registry();
  std::lock_guard lock(registry.mutex);
  registry.cluster_env[Canonical(dir)] = env;
}

std::map<std::string, std::string> EngineEnv(const std::filesystem::path& data_dir) {
  {
    Databases& registry = Registry();
    std::lock_guard lock(registry.mutex);
    const auto cluster = registry.cluster_env.find(Canonical(data_dir));
    if (cluster != registry.cluster_env.end()) return cluster->second;
  }
  std::map<std::string, std::string> env;
  if (WithRedis()) {
    LocalRedis& redis = SharedLocalRedis();
    Databases& registry = Registry();
    std::lock_guard lock(registry.mutex);
    env["ROCKETMART_REDIS_URL"] = redis.tcp_url();
    env["ROCKETMART_REDIS_KEY_PREFIX"] = RedisPrefixLocked(registry, data_dir);
    env["ROCKETMART_EVENTS_TRANSPORT"] = "redis-streams";
  }
  if (!OnPostgres()) return env;
  LocalPostgres& server = SharedLocalPostgres();
  Databases& registry = Registry();
  std::lock_guard lock(registry.mutex);
  auto& names = registry.by_data_dir[Canonical(data_dir)];
  if (names.empty()) {
    for (std::string_view service : kServices) {
      names[std::string(service)] = server.NewDatabase(service);
    }
  }
  for (const auto& [service, db] : names) {
    env["ROCKETMART_" + Upper(service) + "_DATABASE_URL"] =
        "postgresql://rocketmart@127.0.0.1:" + std::to_string(server.port()) + "/" + db;
  }
  return env;
}

void CheckServerEngine(const std::filesystem::path& data_dir) {
  if (WithRedis()) {
    std::string prefix;
    {
      Databases& registry = Registry();
      std::lock_guard lock(registry.mutex);
      prefix = RedisPrefixLocked(registry, data_dir);
    }
    LocalRedis& redis = SharedLocalRedis();
    // Admission made its epoch (RedisAdmission::Start) and the relays created the streams of the
    // services' outboxes: a server that ignored redis.url would have neither.
    if (redis.Command({"EXISTS", prefix + "adm:epoch"}) != "1") {
      throw std::runtime_error("configured for Redis, the server made no admission epoch under " +
                               prefix);
    }
    // (checkout's effects made their consumer groups on the catalog's stream at the bus's start)
    if (redis.Command({"TYPE", prefix + "events:catalog"}) != "stream") {
      throw std::runtime_error("configured for Redis Streams, the server has no stream under " +
                               prefix);
    }
  }
  if (!OnPostgres()) return;
  std::map<std::string, std::string> names;
  {
    Databases& registry = Registry();
    std::lock_guard lock(registry.mutex);
    names = registry.by_data_dir[Canonical(data_dir)];
  }
  for (const auto& [service, db] : names) {
    if (std::filesystem::exists(data_dir / (service + ".db"))) {
      throw std::runtime_error("configured for PostgreSQL, the server wrote " + service +
                               ".db in its data directory");
    }
    const std::string tables = SharedLocalPostgres().QueryValue(
        db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'");
    if (tables.empty() || tables == "0") {
      throw std::runtime_error("configured for PostgreSQL, " + service + "'s database " + db +
                               " has no tables");
    }
  }
}

std::optional<std::string> PostgresDatabaseFor(const std::filesystem::path& db_file) {
  if (db_file.extension() != ".db") return std::nullopt;
  Databases& registry = Registry();
  std::lock_guard lock(registry.mutex);
  const auto cluster = registry.cluster_env.find(Canonical(db_file.parent_path()));
  // The simulated payment provider keeps its ledger (table charges) in checkout's database when
  // checkout is on PostgreSQL.
  const std::string stem = db_file.stem().string();
  const std::string service = stem == "provider" ? std::string("checkout") : stem;
  if (cluster != registry.cluster_env.end()) {
    const auto url = cluster->second.find("ROCKETMART_" + Upper(service) + "_DATABASE_URL");
    if (url == cluster->second.end()) return std::nullopt;
    return url->second.substr(url->second.rfind('/') + 1);
  }
  if (!OnPostgres()) return std::nullopt;
  const auto dir = registry.by_data_dir.find(Canonical(db_file.parent_path()));
  if (dir == registry.by_data_dir.end()) return std::nullopt;
  const auto db = dir->second.find(service);
  if (db == dir->second.end()) return std::nullopt;
  return db->second;
}

}  // namespace rocketmart::testing
