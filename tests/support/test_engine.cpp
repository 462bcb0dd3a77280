#include "support/test_engine.hpp"

#include <array>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "support/local_postgres.hpp"

namespace rocketmart::testing {
namespace {

constexpr std::array<std::string_view, 4> kServices = {"members", "catalog", "checkout", "orders"};

struct Databases {
  std::mutex mutex;
  // Canonical data directory -> service -> database name.
  std::map<std::filesystem::path, std::map<std::string, std::string>> by_data_dir;
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

std::map<std::string, std::string> EngineEnv(const std::filesystem::path& data_dir) {
  if (!OnPostgres()) return {};
  LocalPostgres& server = SharedLocalPostgres();
  Databases& registry = Registry();
  std::lock_guard lock(registry.mutex);
  auto& names = registry.by_data_dir[Canonical(data_dir)];
  if (names.empty()) {
    for (std::string_view service : kServices) {
      names[std::string(service)] = server.NewDatabase(service);
    }
  }
  std::map<std::string, std::string> env;
  for (const auto& [service, db] : names) {
    env["ROCKETMART_" + Upper(service) + "_DATABASE_URL"] =
        "postgresql://rocketmart@127.0.0.1:" + std::to_string(server.port()) + "/" + db;
  }
  return env;
}

void CheckServerEngine(const std::filesystem::path& data_dir) {
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
  if (!OnPostgres() || db_file.extension() != ".db") return std::nullopt;
  Databases& registry = Registry();
  std::lock_guard lock(registry.mutex);
  const auto dir = registry.by_data_dir.find(Canonical(db_file.parent_path()));
  if (dir == registry.by_data_dir.end()) return std::nullopt;
  const auto db = dir->second.find(db_file.stem().string());
  if (db == dir->second.end()) return std::nullopt;
  return db->second;
}

}  // namespace rocketmart::testing
