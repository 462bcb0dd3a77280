#include "infra/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace rocketmart::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSecret = "0123456789abcdef0123456789abcdef-secret";

class ConfigTest : public ::testing::Test {
 protected:
  fs::path Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  Result<Config> LoadToml(const std::string& toml, std::map<std::string, std::string> env = {}) {
    return Load({.file = Write("rocketmart.toml", toml), .env = std::move(env)});
  }

  rocketmart::testing::TempDir temp_{"config"};
  const fs::path& dir_ = temp_.path();
};

std::string ErrorOf(const Result<Config>& r) {
  return r.ok() ? "" : r.error().message;
}

TEST_F(ConfigTest, DefaultsWithNoFile) {
  auto cfg = Load({});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->server.host, "0.0.0.0");
  EXPECT_EQ(cfg->server.port, 8080);
  EXPECT_EQ(cfg->server.threads, 0);
  EXPECT_EQ(cfg->server.max_connections, 10000);
  EXPECT_EQ(cfg->server.max_body_bytes, 65536);
  EXPECT_EQ(cfg->server.max_header_bytes, 8192);
  EXPECT_EQ(cfg->server.header_timeout_ms, 10000);
  EXPECT_EQ(cfg->server.idle_timeout_ms, 60000);
  EXPECT_EQ(cfg->server.request_timeout_ms, 10000);
  EXPECT_EQ(cfg->server.shutdown_grace_ms, 10000);
  EXPECT_EQ(cfg->storage.data_dir, "./data");
  EXPECT_EQ(cfg->storage.synchronous, "full");
  EXPECT_EQ(cfg->storage.writer_max_batch, 512);
  EXPECT_EQ(cfg->storage.writer_queue, 65536);
  EXPECT_EQ(cfg->auth.issuer, "rocketmart");
  EXPECT_EQ(cfg->auth.audience, "rocketmart-api");
  EXPECT_EQ(cfg->auth.key_id, "k1");
  EXPECT_EQ(cfg->auth.leeway_s, 30);
  EXPECT_EQ(cfg->auth.access_ttl_s, 900);
  EXPECT_EQ(cfg->auth.secret, "");
  EXPECT_EQ(cfg->auth.secret_file, "");
  EXPECT_EQ(cfg->log.level, "info");
  EXPECT_TRUE(cfg->log.access_log);
  EXPECT_TRUE(cfg->demo.seed);
  EXPECT_EQ(JwtSecretPath(*cfg), fs::path("./data/secrets/jwt.key"));
}

TEST_F(ConfigTest, FullFile) {
  auto cfg = LoadToml(R"(
[server]
host = "127.0.0.1"
port = 9090
threads = 4
max_connections = 500
max_body_bytes = 2048
max_header_bytes = 4096
header_timeout_ms = 1000
idle_timeout_ms = 2000
request_timeout_ms = 3000
shutdown_grace_ms = 0

[storage]
data_dir = "/var/lib/rocketmart"
synchronous = "normal"
writer_max_batch = 64
writer_queue = 1024

[auth]
issuer = "shop"
audience = "shop-api"
key_id = "2026-11.a"
leeway_s = 5
access_ttl_s = 600
secret_file = "/etc/rocketmart/jwt.key"

[log]
level = "debug"
access_log = false

[demo]
seed = false
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->server.host, "127.0.0.1");
  EXPECT_EQ(cfg->server.port, 9090);
  EXPECT_EQ(cfg->server.threads, 4);
  EXPECT_EQ(cfg->server.max_connections, 500);
  EXPECT_EQ(cfg->server.max_body_bytes, 2048);
  EXPECT_EQ(cfg->server.max_header_bytes, 4096);
  EXPECT_EQ(cfg->server.header_timeout_ms, 1000);
  EXPECT_EQ(cfg->server.idle_timeout_ms, 2000);
  EXPECT_EQ(cfg->server.request_timeout_ms, 3000);
  EXPECT_EQ(cfg->server.shutdown_grace_ms, 0);
  EXPECT_EQ(cfg->storage.data_dir, "/var/lib/rocketmart");
  EXPECT_EQ(cfg->storage.synchronous, "normal");
  EXPECT_EQ(cfg->storage.writer_max_batch, 64);
  EXPECT_EQ(cfg->storage.writer_queue, 1024);
  EXPECT_EQ(cfg->auth.issuer, "shop");
  EXPECT_EQ(cfg->auth.audience, "shop-api");
  EXPECT_EQ(cfg->auth.key_id, "2026-11.a");
  EXPECT_EQ(cfg->auth.leeway_s, 5);
  EXPECT_EQ(cfg->auth.access_ttl_s, 600);
  EXPECT_EQ(cfg->auth.secret, "");  // The file does not exist yet: created at startup.
  EXPECT_EQ(JwtSecretPath(*cfg), fs::path("/etc/rocketmart/jwt.key"));
  EXPECT_EQ(cfg->log.level, "debug");
  EXPECT_FALSE(cfg->log.access_log);
  EXPECT_FALSE(cfg->demo.seed);
}

struct Bound {
  std::string key;
  std::int64_t min;
  std::int64_t max;
};

TEST_F(ConfigTest, EveryIntegerBound) {
  const std::vector<Bound> bounds = {
      {"server.port", 0, 65535},
      {"server.threads", 0, 64},
      {"server.max_connections", 1, 1'000'000},
      {"server.max_body_bytes", 1024, 16 * 1024 * 1024},
      {"server.max_header_bytes", 1024, 65536},
      {"server.header_timeout_ms", 100, 120'000},
      {"server.idle_timeout_ms", 100, 3'600'000},
      {"server.request_timeout_ms", 100, 120'000},
      {"server.shutdown_grace_ms", 0, 120'000},
      {"server.admin_port", -1, 65535},
      {"storage.writer_max_batch", 1, 10'000},
      {"storage.writer_queue", 16, 1'000'000},
      {"auth.leeway_s", 0, 60},
      {"auth.access_ttl_s", 60, 86'400},
  };
  for (const Bound& b : bounds) {
    const std::string section = b.key.substr(0, b.key.find('.'));
    const std::string name = b.key.substr(b.key.find('.') + 1);
    for (std::int64_t v : {b.min, b.max}) {
      Config cfg;
      EXPECT_TRUE(Set(cfg, b.key, std::to_string(v)).ok()) << b.key << "=" << v;
      auto loaded = LoadToml("[" + section + "]\n" + name + " = " + std::to_string(v) + "\n");
      EXPECT_TRUE(loaded.ok()) << ErrorOf(loaded);
      auto env = Load({.env = {{EnvVarName(b.key), std::to_string(v)}}});
      EXPECT_TRUE(env.ok()) << ErrorOf(env);
    }
    for (std::int64_t v : {b.min - 1, b.max + 1}) {
      Config cfg;
      auto st = Set(cfg, b.key, std::to_string(v));
      ASSERT_FALSE(st.ok()) << b.key << "=" << v;
      EXPECT_EQ(st.error().code, Errc::kValidationFailed);
      EXPECT_THAT(st.error().message, HasSubstr(b.key));
      EXPECT_THAT(st.error().message, HasSubstr(std::to_string(v)));
      EXPECT_THAT(st.error().message,
                  HasSubstr(std::to_string(b.min) + ".." + std::to_string(b.max)));
      auto loaded = LoadToml("[" + section + "]\n" + name + " = " + std::to_string(v) + "\n");
      EXPECT_THAT(ErrorOf(loaded), HasSubstr(b.key));
      auto env = Load({.env = {{EnvVarName(b.key), std::to_string(v)}}});
      EXPECT_THAT(ErrorOf(env), HasSubstr(EnvVarName(b.key)));
    }
  }
}

TEST_F(ConfigTest, StringChoicesAndShapes) {
  Config cfg;
  EXPECT_TRUE(Set(cfg, "storage.synchronous", "normal").ok());
  EXPECT_THAT(Set(cfg, "storage.synchronous", "off").error().message,
              HasSubstr("one of: full, normal"));
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_TRUE(Set(cfg, "log.level", level).ok()) << level;
  }
  EXPECT_FALSE(Set(cfg, "log.level", "verbose").ok());
  EXPECT_FALSE(Set(cfg, "log.level", "INFO").ok());
  EXPECT_FALSE(Set(cfg, "server.host", "").ok());
  EXPECT_FALSE(Set(cfg, "storage.data_dir", "").ok());
  EXPECT_FALSE(Set(cfg, "auth.key_id", "k 1").ok());
  EXPECT_FALSE(Set(cfg, "auth.key_id", std::string(65, 'k')).ok());
  EXPECT_TRUE(Set(cfg, "log.access_log", "false").ok());
  EXPECT_FALSE(cfg.log.access_log);
  EXPECT_FALSE(Set(cfg, "log.access_log", "maybe").ok());
  EXPECT_FALSE(Set(cfg, "server.port", "80abc").ok());
  EXPECT_FALSE(Set(cfg, "server.port", "").ok());
  EXPECT_FALSE(Set(cfg, "server.port", "99999999999999999999999").ok());
}

TEST_F(ConfigTest, FailedSetLeavesConfigUntouched) {
  Config cfg;
  ASSERT_FALSE(Set(cfg, "server.port", "70000").ok());
  EXPECT_EQ(cfg.server.port, 8080);
}

TEST_F(ConfigTest, UnknownKeysAndSectionsRejected) {
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nprot = 80\n")), HasSubstr("unknown key 'server.prot'"));
  EXPECT_THAT(ErrorOf(LoadToml("[sever]\nport = 80\n")), HasSubstr("unknown section [sever]"));
  EXPECT_THAT(ErrorOf(LoadToml("port = 80\n")), HasSubstr("unknown key 'port'"));
  EXPECT_THAT(ErrorOf(LoadToml("[server.tls]\ncert = \"x\"\n")),
              HasSubstr("unknown key 'server.tls'"));
  EXPECT_THAT(ErrorOf(LoadToml("server = 5\n")), HasSubstr("must be a table"));
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport_file = \"/x\"\n")),
              HasSubstr("unknown key 'server.port_file'"));
  Config cfg;
  EXPECT_THAT(Set(cfg, "server.prot", "80").error().message, HasSubstr("server.prot"));
}

TEST_F(ConfigTest, WrongTypesRejected) {
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport = \"8080\"\n")),
              HasSubstr("server.port (from file"));
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport = \"8080\"\n")),
              HasSubstr("expected an integer, got a string"));
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport = 80.5\n")), HasSubstr("got a float"));
  EXPECT_THAT(ErrorOf(LoadToml("[log]\naccess_log = \"yes\"\n")), HasSubstr("expected a boolean"));
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nhost = 1\n")), HasSubstr("expected a string"));
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport = 99999999999\n")), HasSubstr("out of range"));
  EXPECT_THAT(ErrorOf(Load({.env = {{"ROCKETMART_SERVER_PORT", "http"}}})),
              HasSubstr("is not an integer"));
}

TEST_F(ConfigTest, MalformedAndMissingFiles) {
  const std::string malformed = ErrorOf(LoadToml("[server\nport = 80\n"));
  EXPECT_THAT(malformed, HasSubstr("rocketmart.toml:1:"));
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport = 80\nport = 81\n")), HasSubstr("rocketmart.toml"));
  auto missing = Load({.file = dir_ / "nope.toml"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kValidationFailed);
  EXPECT_THAT(missing.error().message, HasSubstr("does not exist"));
  EXPECT_THAT(ErrorOf(Load({.file = dir_})), HasSubstr("not a regular file"));
  EXPECT_TRUE(LoadToml("").ok());  // An empty file means all defaults.
}

TEST_F(ConfigTest, PrecedenceFileThenEnvThenSet) {
  auto cfg = LoadToml("[server]\nport = 9000\nthreads = 2\n",
                      {{"ROCKETMART_SERVER_PORT", "9001"},
                       {"ROCKETMART_LOG_ACCESS_LOG", "off"},
                       {"ROCKETMART_BINARY", "/usr/bin/rocketmart"}});  // Unrelated: ignored.
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->server.port, 9001);  // env beats file
  EXPECT_EQ(cfg->server.threads, 2);  // file beats default
  EXPECT_FALSE(cfg->log.access_log);
  ASSERT_TRUE(Set(*cfg, "server.port", "9002").ok());
  EXPECT_EQ(cfg->server.port, 9002);  // Set beats env
}

TEST_F(ConfigTest, SecretFromEnvIsValidatedAndNeverShown) {
  auto cfg = Load({.env = {{"ROCKETMART_AUTH_SECRET", kSecret}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->auth.secret, kSecret);
  const std::string described = Describe(*cfg);
  EXPECT_THAT(described, HasSubstr("auth.secret = <set>"));
  EXPECT_THAT(described, Not(HasSubstr(kSecret)));
  EXPECT_THAT(Describe(Config{}), HasSubstr("auth.secret = <unset>"));

  auto short_secret = Load({.env = {{"ROCKETMART_AUTH_SECRET", "hunter2-hunter2"}}});
  ASSERT_FALSE(short_secret.ok());
  EXPECT_THAT(short_secret.error().message, HasSubstr("auth.secret"));
  EXPECT_THAT(short_secret.error().message, HasSubstr("at least 32 bytes"));
  EXPECT_THAT(short_secret.error().message, Not(HasSubstr("hunter2")));
}

TEST_F(ConfigTest, SecretFromFile) {
  const fs::path key = Write("jwt.key", kSecret + "\n");
  // From the environment's _FILE form.
  auto cfg = Load({.env = {{"ROCKETMART_AUTH_SECRET_FILE", key.string()}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->auth.secret, kSecret);
  EXPECT_EQ(JwtSecretPath(*cfg), key);
  // From TOML's _file form.
  cfg = LoadToml("[auth]\nsecret_file = \"" + key.string() + "\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->auth.secret, kSecret);
  // Precedence across layers: env's file beats the file's value, env's value beats file's file.
  cfg = LoadToml("[auth]\nsecret = \"" + std::string(40, 'x') + "\"\n",
                 {{"ROCKETMART_AUTH_SECRET_FILE", key.string()}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->auth.secret, kSecret);
  cfg = LoadToml("[auth]\nsecret_file = \"" + key.string() + "\"\n",
                 {{"ROCKETMART_AUTH_SECRET", std::string(40, 'y')}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->auth.secret, std::string(40, 'y'));
  // Both forms in one layer are ambiguous.
  EXPECT_THAT(ErrorOf(Load({.env = {{"ROCKETMART_AUTH_SECRET", kSecret},
                                    {"ROCKETMART_AUTH_SECRET_FILE", key.string()}}})),
              HasSubstr("both set"));
  // A short secret in a file is rejected, naming the _file key.
  const fs::path weak = Write("weak.key", "short\n");
  EXPECT_THAT(ErrorOf(Load({.env = {{"ROCKETMART_AUTH_SECRET_FILE", weak.string()}}})),
              HasSubstr("auth.secret_file"));
  // A secret file that does not exist yet is left to LoadOrCreateSecret at startup.
  cfg = Load({.env = {{"ROCKETMART_AUTH_SECRET_FILE", (dir_ / "new.key").string()}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->auth.secret, "");
  EXPECT_EQ(JwtSecretPath(*cfg), dir_ / "new.key");
  // On the command line.
  Config c;
  ASSERT_TRUE(Set(c, "auth.secret_file", key.string()).ok());
  EXPECT_EQ(c.auth.secret, kSecret);
  EXPECT_FALSE(Set(c, "auth.secret", "short").ok());
  EXPECT_EQ(c.auth.secret, kSecret);
}

// Issue 13: [<service>.database] per service, by TOML table and by environment variable.
TEST_F(ConfigTest, PeerConnectionPoolLimits) {
  auto cfg = Load({});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->peers.connections_per_loop, 256);
  EXPECT_EQ(cfg->peers.idle_timeout_ms, 15000);
  EXPECT_EQ(cfg->peers.min_attempt_for_ejection_ms, 500);
  EXPECT_EQ(cfg->peers.max_in_flight, 1024);
  cfg = Load({.env = {{"ROCKETMART_PEERS_CONNECTIONS_PER_LOOP", "64"},
                      {"ROCKETMART_PEERS_MAX_IN_FLIGHT", "300"},
                      {"ROCKETMART_PEERS_IDLE_TIMEOUT_MS", "5000"},
                      {"ROCKETMART_PEERS_MIN_ATTEMPT_FOR_EJECTION_MS", "250"}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->peers.connections_per_loop, 64);
  EXPECT_EQ(cfg->peers.idle_timeout_ms, 5000);
  EXPECT_EQ(cfg->peers.min_attempt_for_ejection_ms, 250);
  EXPECT_EQ(cfg->peers.max_in_flight, 300);
  const auto zero = Load({.env = {{"ROCKETMART_PEERS_CONNECTIONS_PER_LOOP", "0"}}});
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("peers.connections_per_loop"), std::string::npos);
}

TEST_F(ConfigTest, RedisEventsAndDiscoveryForSeveralInstances) {
  auto cfg = Load({});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->redis.url, "");
  EXPECT_EQ(cfg->events.transport, "outbox");
  EXPECT_EQ(cfg->discovery.etcd_url, "");
  cfg = Load({.env = {{"ROCKETMART_REDIS_URL", "redis://127.0.0.1:6379/2"},
                      {"ROCKETMART_REDIS_PASSWORD", "pw"},
                      {"ROCKETMART_EVENTS_TRANSPORT", "redis-streams"},
                      {"ROCKETMART_DISCOVERY_ETCD_URL", "http://127.0.0.1:2379"},
                      {"ROCKETMART_AUTH_INTERNAL_SECRET", std::string(32, 'i')}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->redis.url, "redis://127.0.0.1:6379/2");
  EXPECT_EQ(cfg->redis.password, "pw");
  EXPECT_EQ(cfg->events.transport, "redis-streams");
  EXPECT_EQ(cfg->discovery.etcd_url, "http://127.0.0.1:2379");
  EXPECT_EQ(cfg->auth.internal_secret, std::string(32, 'i'));
  EXPECT_TRUE(Load({.env = {{"ROCKETMART_REDIS_URL", "unix:///run/redis.sock"}}}).ok());
  for (const char* bad : {"127.0.0.1:6379", "redis://:pw@host:6379", "http://host", "unix:///"}) {
    auto refused = Load({.env = {{"ROCKETMART_REDIS_URL", bad}}});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().message.find("redis.url"), std::string::npos);
  }
  auto streams_alone = Load({.env = {{"ROCKETMART_EVENTS_TRANSPORT", "redis-streams"}}});
  ASSERT_FALSE(streams_alone.ok());
  EXPECT_NE(streams_alone.error().message.find("needs redis.url"), std::string::npos);
  EXPECT_EQ(Load({})->redis.key_prefix, "rocketmart:");
  EXPECT_EQ(Load({.env = {{"ROCKETMART_REDIS_KEY_PREFIX", "shop-b:"}}})->redis.key_prefix,
            "shop-b:");
  EXPECT_FALSE(Load({.env = {{"ROCKETMART_REDIS_KEY_PREFIX", "with space"}}}).ok());
  EXPECT_FALSE(Load({.env = {{"ROCKETMART_REDIS_KEY_PREFIX", ""}}}).ok());
  EXPECT_FALSE(Load({.env = {{"ROCKETMART_EVENTS_TRANSPORT", "kafka"}}}).ok());
  EXPECT_FALSE(Load({.env = {{"ROCKETMART_DISCOVERY_ETCD_URL", "etcd:2379"}}}).ok());
  EXPECT_FALSE(Load({.env = {{"ROCKETMART_AUTH_INTERNAL_SECRET", "short"}}}).ok());
}

TEST_F(ConfigTest, EachServiceSelectsItsDatabase) {
  auto cfg = Load({});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  for (const DatabaseConfig* db : {&cfg->members.database, &cfg->catalog.database,
                                   &cfg->checkout.database, &cfg->orders.database}) {
    EXPECT_EQ(db->url, "");
    EXPECT_EQ(db->pool_size, 8);
    EXPECT_EQ(db->connect_timeout_ms, 2000);
    EXPECT_EQ(db->statement_timeout_ms, 2000);
  }
  const fs::path password = Write("orders.password", "s3cret\n");
  cfg = LoadToml(
      "[checkout.database]\nurl = \"postgresql://shop@db.internal:5433/checkout?sslmode=require\"\n"
      "pool_size = 32\nstatement_timeout_ms = 1500\n"
      "[catalog]\ndatabase.url = \"sqlite:\"\n"
      "[orders.database]\nurl = \"postgres://localhost/orders\"\n"
      "password_file = \"" +
          password.string() + "\"\n",
      {{"ROCKETMART_MEMBERS_DATABASE_URL", "postgresql://members@127.0.0.1/members"},
       {"ROCKETMART_MEMBERS_DATABASE_PASSWORD", "pw"},
       {"ROCKETMART_MEMBERS_DATABASE_CONNECT_TIMEOUT_MS", "500"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->checkout.database.url,
            "postgresql://shop@db.internal:5433/checkout?sslmode=require");
  EXPECT_EQ(cfg->checkout.database.pool_size, 32);
  EXPECT_EQ(cfg->checkout.database.statement_timeout_ms, 1500);
  EXPECT_EQ(cfg->catalog.database.url, "sqlite:");
  EXPECT_EQ(cfg->orders.database.password, "s3cret");
  EXPECT_EQ(cfg->members.database.url, "postgresql://members@127.0.0.1/members");
  EXPECT_EQ(cfg->members.database.password, "pw");
  EXPECT_EQ(cfg->members.database.connect_timeout_ms, 500);
  EXPECT_TRUE(IsPostgresUrl(cfg->orders.database.url));
  EXPECT_FALSE(IsPostgresUrl(cfg->catalog.database.url));
  // The password is a secret: never described, and its file form comes from the environment.
  EXPECT_THAT(Describe(*cfg), HasSubstr("members.database.password = <set>"));
  EXPECT_THAT(Describe(*cfg), Not(HasSubstr("s3cret")));
  cfg = Load({.env = {{"ROCKETMART_CHECKOUT_DATABASE_PASSWORD_FILE", password.string()}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->checkout.database.password, "s3cret");
  EXPECT_TRUE(UnknownEnvVars({{"ROCKETMART_CHECKOUT_DATABASE_URL", "sqlite:"},
                              {"ROCKETMART_ORDERS_DATABASE_PASSWORD_FILE", "/x"}})
                  .empty());
  EXPECT_THAT(ErrorOf(LoadToml("[checkout.database]\nurll = \"sqlite:\"\n")),
              HasSubstr("unknown key 'checkout.database.urll'"));
  EXPECT_THAT(ErrorOf(LoadToml("[checkout.datbase]\nurl = \"sqlite:\"\n")),
              HasSubstr("unknown key 'checkout.datbase'"));
}

TEST_F(ConfigTest, ADatabaseUrlIsSqliteOrPostgresWithoutAPassword) {
  Config cfg;
  for (const char* good :
       {"", "sqlite:", "postgresql://db/checkout", "postgres://u@db:5432/checkout",
        "postgresql://u@%2Frun%2Fpostgresql/checkout",
        "postgresql://u@[::1]:5432/c?sslmode=disable"}) {
    EXPECT_TRUE(Set(cfg, "checkout.database.url", good).ok()) << good;
  }
  for (const char* bad :
       {"mysql://db/checkout", "sqlite:/tmp/x.db", "checkout.db", "postgresql://db",
        "postgresql:///checkout", "postgresql://db/", "host=db dbname=checkout"}) {
    const Status st = Set(cfg, "checkout.database.url", bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_THAT(st.error().message, HasSubstr("checkout.database.url")) << bad;
    EXPECT_THAT(st.error().message, HasSubstr("postgresql://[user@]host")) << bad;
  }
  for (const char* leaky : {"postgresql://u:hunter2@db/checkout",
                            "postgresql://db/checkout?sslmode=require&password=hunter2"}) {
    const Status st = Set(cfg, "orders.database.url", leaky);
    ASSERT_FALSE(st.ok()) << leaky;
    EXPECT_THAT(st.error().message, HasSubstr("must not hold a password"));
    EXPECT_THAT(st.error().message, HasSubstr("orders.database.url"));
    EXPECT_THAT(st.error().message, Not(HasSubstr("hunter2")));
  }
  EXPECT_THAT(ErrorOf(Load({.env = {{"ROCKETMART_CATALOG_DATABASE_POOL_SIZE", "0"}}})),
              HasSubstr("1..256"));
  EXPECT_THAT(
      ErrorOf(Load({.env = {{"ROCKETMART_CATALOG_DATABASE_STATEMENT_TIMEOUT_MS", "60001"}}})),
      HasSubstr("100..60000"));
}

TEST_F(ConfigTest, DocsListEveryKey) {
  const std::string docs = RenderDocsMarkdown();
  const std::vector<std::string> keys = Keys();
  EXPECT_GE(keys.size(), 24u);
  for (const char* key : {"server.port", "checkout.hold_ttl_s", "payment.decline_percent"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
  for (const std::string& key : keys) {
    EXPECT_THAT(docs, HasSubstr("| `" + key + "` | `" + EnvVarName(key) + "` |")) << key;
  }
  EXPECT_THAT(docs, HasSubstr("| `server.port` | `ROCKETMART_SERVER_PORT` | `8080` | 0..65535 |"));
  EXPECT_THAT(docs, HasSubstr("one of: full, normal"));
  EXPECT_THAT(docs, HasSubstr("ROCKETMART_X_Y_FILE"));
  const std::string described = Describe(Config{});
  for (const std::string& key : keys) EXPECT_THAT(described, HasSubstr(key + " = ")) << key;
  EXPECT_EQ(EnvVarName("storage.writer_max_batch"), "ROCKETMART_STORAGE_WRITER_MAX_BATCH");
}

TEST_F(ConfigTest, AMisspeltEnvironmentVariableIsReportedWithTheNearestKey) {
  const auto unknown = UnknownEnvVars({{"ROCKETMART_SERVER_PROT", "80"},
                                       {"ROCKETMART_STORAGE_DATADIR", "/x"},
                                       {"ROCKETMART_TOTALLY_UNRELATED_THING", "1"},
                                       {"HOME", "/root"}});
  ASSERT_EQ(unknown.size(), 3u);
  EXPECT_THAT(unknown[0], HasSubstr("ROCKETMART_SERVER_PROT is not a configuration variable"));
  EXPECT_THAT(unknown[0], HasSubstr("did you mean ROCKETMART_SERVER_PORT?"));
  EXPECT_THAT(unknown[1], HasSubstr("did you mean ROCKETMART_STORAGE_DATA_DIR?"));
  EXPECT_THAT(unknown[2], HasSubstr("ROCKETMART_TOTALLY_UNRELATED_THING"));
  EXPECT_THAT(unknown[2], HasSubstr("docs/config.md"));
  // Every key's variable, a secret's _FILE form, and the project's own non-configuration
  // variables are known.
  std::map<std::string, std::string> fine;
  for (const std::string& key : Keys()) fine.emplace(EnvVarName(key), "x");
  for (const char* name :
       {"ROCKETMART_AUTH_SECRET_FILE", "ROCKETMART_MEMBERS_DATA_KEY_FILE",
        "ROCKETMART_MAIL_SMTP_PASSWORD_FILE", "ROCKETMART_OPS_METRICS_TOKEN_FILE",
        "ROCKETMART_ADMIN_PASSWORD", "ROCKETMART_BINARY", "ROCKETMART_SOURCE_DIR",
        "ROCKETMART_E2E_SERVER_LOGS", "ROCKETMART_TOKENS", "ROCKETMART_PRODUCT_ID",
        "ROCKETMART_NODE_PROJECT", "ROCKETMART_NODE_MODULES"}) {
    fine.emplace(name, "x");
  }
  EXPECT_THAT(UnknownEnvVars(fine), ::testing::IsEmpty());
  // A _FILE form exists only for secrets.
  EXPECT_EQ(UnknownEnvVars({{"ROCKETMART_SERVER_PORT_FILE", "/x"}}).size(), 1u);
}

TEST_F(ConfigTest, PublicBaseUrlMustBeAnAbsoluteHttpUrl) {
  for (const char* good :
       {"http://localhost:8080", "https://shop.example.com", "https://shop.example.com/base/",
        "https://Shop.Example.com:443", "http://127.0.0.1:9000", "http://[::1]:8080/x"}) {
    Config cfg;
    EXPECT_TRUE(Set(cfg, "members.public_base_url", good).ok()) << good;
  }
  for (const char* bad :
       {"localhost:8080",      "shop.example.com",  "/relative",      "ftp://shop.example.com",
        "javascript:alert(1)", "http://",           "http:///path",   "http://:8080",
        "http://host:",        "http://host:99999", "http://host:0",  "http://host:8o",
        "http://user:pw@host", "http://host/a?b=c", "http://host/#x", "http://exa mple.com",
        "http://host\n.com",   "http://[::1",       "http://[]",      "http://-host",
        "file:///etc/passwd"}) {
    Config cfg;
    auto st = Set(cfg, "members.public_base_url", bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_THAT(st.error().message, HasSubstr("absolute http:// or https:// URL")) << bad;
    EXPECT_THAT(ErrorOf(Load({.env = {{"ROCKETMART_MEMBERS_PUBLIC_BASE_URL", bad}}})),
                HasSubstr("members.public_base_url"))
        << bad;
  }
}

TEST_F(ConfigTest, TrustedProxiesAreAddressesOrBlocks) {
  EXPECT_EQ(Config{}.server.trusted_proxies, "");  // trust nobody
  for (const char* good : {"", "10.0.0.0/8", "10.0.0.0/8, 192.0.2.7", "::1 fd00::/8"}) {
    Config cfg;
    EXPECT_TRUE(Set(cfg, "server.trusted_proxies", good).ok()) << good;
  }
  for (const char* bad : {"10.0.0.0/33", "proxy.internal", "10.0.0.0/8;10.1.0.0/16"}) {
    Config cfg;
    auto st = Set(cfg, "server.trusted_proxies", bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_THAT(st.error().message, HasSubstr("IP addresses or CIDR blocks")) << bad;
    EXPECT_THAT(ErrorOf(Load({.env = {{"ROCKETMART_SERVER_TRUSTED_PROXIES", bad}}})),
                HasSubstr("server.trusted_proxies"))
        << bad;
  }
}

TEST_F(ConfigTest, SmtpUrlMustBeSmtpOrSmtps) {
  for (const char* good : {"smtp://127.0.0.1:25", "smtps://mail.example.com:465",
                           "smtp://mail.example.com", "smtp://mail.example.com:587"}) {
    Config cfg;
    EXPECT_TRUE(Set(cfg, "mail.smtp_url", good).ok()) << good;
  }
  for (const char* bad :
       {"mail.example.com:25", "http://mail.example.com", "smtp://", "smtp://:25",
        "smtp://mail.example.com:70000", "smtp:mail.example.com", "imap://mail.example.com"}) {
    Config cfg;
    auto st = Set(cfg, "mail.smtp_url", bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_THAT(st.error().message, HasSubstr("smtp://host[:port]")) << bad;
    EXPECT_THAT(ErrorOf(LoadToml(std::string("[mail]\nsmtp_url = \"") + bad + "\"\n")),
                HasSubstr("mail.smtp_url"))
        << bad;
  }
}

TEST_F(ConfigTest, ADataDirectoryThatIsAFileIsRefused) {
  Config cfg;
  ASSERT_TRUE(Set(cfg, "storage.data_dir", (dir_ / "not-yet").string()).ok());
  EXPECT_TRUE(CheckPaths(cfg).ok());  // created at start
  ASSERT_TRUE(Set(cfg, "storage.data_dir", dir_.string()).ok());
  EXPECT_TRUE(CheckPaths(cfg).ok());
  const fs::path file = Write("a-file", "x");
  ASSERT_TRUE(Set(cfg, "storage.data_dir", file.string()).ok());
  auto st = CheckPaths(cfg);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("storage.data_dir"));
  EXPECT_THAT(st.error().message, HasSubstr("is not a directory"));
}

TEST_F(ConfigTest, TheAdminListenerNeedsAPortOfItsOwn) {
  EXPECT_THAT(ErrorOf(LoadToml("[server]\nport = 9000\nadmin_port = 9000\n")),
              HasSubstr("server.admin_port 9000 is also server.port"));
  EXPECT_TRUE(LoadToml("[server]\nport = 0\nadmin_port = 0\n").ok());
  EXPECT_TRUE(LoadToml("[server]\nport = 9000\nadmin_port = -1\n").ok());
  Config cfg;
  EXPECT_FALSE(Set(cfg, "server.admin_port", "8080").ok());
  EXPECT_EQ(cfg.server.admin_port, 9464);
}

}  // namespace
TEST_F(ConfigTest, AKeyRotationNamesTheRetiringKeyItsSecretAndItsEnd) {
  const std::string old_secret(32, 'o'), new_secret(32, 'n');
  const std::map<std::string, std::string> env = {{"ROCKETMART_AUTH_SECRET", new_secret},
                                                  {"ROCKETMART_AUTH_PREVIOUS_SECRET", old_secret}};
  auto cfg = LoadToml(
      "[auth]\nkey_id = \"k2\"\nprevious_key_id = \"k1\"\n"
      "previous_key_until = \"2026-12-01T12:00:00Z\"\n",
      env);
  ASSERT_TRUE(cfg.ok()) << ErrorOf(cfg);
  EXPECT_EQ(cfg->auth.previous_key_id, "k1");
  EXPECT_EQ(cfg->auth.previous_secret, old_secret);
  EXPECT_EQ(cfg->auth.previous_key_until, "2026-12-01T12:00:00Z");

  // Any one of the three without the others, a reused id or secret, or a bad instant: refused.
  EXPECT_THAT(ErrorOf(LoadToml("[auth]\nprevious_key_id = \"k0\"\n", env)),
              HasSubstr("needs all three"));
  EXPECT_THAT(ErrorOf(LoadToml("[auth]\nkey_id = \"k1\"\nprevious_key_id = \"k1\"\n"
                               "previous_key_until = \"2026-12-01T12:00:00Z\"\n",
                               env)),
              HasSubstr("must differ from auth.key_id"));
  EXPECT_THAT(ErrorOf(LoadToml("[auth]\nkey_id = \"k2\"\nprevious_key_id = \"k1\"\n"
                               "previous_key_until = \"2026-12-01T12:00:00Z\"\n",
                               {{"ROCKETMART_AUTH_SECRET", new_secret},
                                {"ROCKETMART_AUTH_PREVIOUS_SECRET", new_secret}})),
              HasSubstr("a rotation needs a new secret"));
  EXPECT_THAT(ErrorOf(LoadToml("[auth]\nkey_id = \"k2\"\nprevious_key_id = \"k1\"\n"
                               "previous_key_until = \"tomorrow\"\n",
                               env)),
              HasSubstr("RFC 3339"));
}

}  // namespace rocketmart::config
