// The one typed, validated configuration of the rocketmart process.
//
// Sources, lowest precedence first: built-in defaults (the member initialisers below), an optional
// TOML file, environment variables (`ROCKETMART_` + upper-cased key with `.` -> `_`, e.g.
// ROCKETMART_SERVER_PORT), then command-line overrides the caller applies with Set(). Unknown keys,
// wrong types and out-of-range values are rejected with a message naming the key: a typo must stop
// the process at startup, never fall back silently to a default.
//
// Secrets: a secret key `x.y` may also be given as a file path, `x.y_file` in TOML or
// ROCKETMART_X_Y_FILE in the environment; the file's contents (trailing newline trimmed) are the
// value. An explicit secret value always wins over a secret file.
//
// Every key is one line of the field table in config.cpp; that table also drives the environment
// names, validation, Describe() and RenderDocsMarkdown().
//
// Thread-safety: Load/Set/Describe are reentrant; a Config is a plain value (copy it freely, do not
// mutate it while other threads read it).
//
// Usage:
//   auto cfg = config::Load({.file = path_or_nullopt, .env = config::EnvFromEnviron()});
//   if (!cfg.ok()) { std::cerr << cfg.error().message; return 2; }
//   for (auto& [k, v] : cli_overrides) if (auto s = config::Set(*cfg, k, v); !s.ok()) ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace rocketmart::config {

struct ServerConfig {
  std::string host = "0.0.0.0";
  int port = 8080;  // 0 = pick a free port.
  int threads = 0;  // 0 = number of cores.
  int max_connections = 10000;
  int max_body_bytes = 65536;
  int max_header_bytes = 8192;
  int header_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  int request_timeout_ms = 10000;
  int shutdown_grace_ms = 10000;
  // The admin listener (GET /metrics), apart from the public port. -1 = off, 0 = a free port.
  std::string admin_host = "127.0.0.1";
  int admin_port = 9464;
  // Proxies (addresses, CIDR blocks) whose X-Forwarded-For / Forwarded names the client; empty =
  // trust nobody: the client is the socket peer.
  std::string trusted_proxies;
};

// The gateway's request rate limits (docs/config.md, docs/redis.md): GCRA per member (requests
// with a valid access token) and per client address; shared through Redis when redis.url is set.
// A rate of 0 turns that limit off.
struct GatewayConfig {
  int rate_per_member_per_s = 10;
  int burst_per_member = 20;
  int rate_per_ip_per_s = 100;
  int burst_per_ip = 200;
};

struct StorageConfig {
  std::string data_dir = "./data";
  std::string synchronous = "full";  // "full" | "normal" (SQLite PRAGMA synchronous).
  int writer_max_batch = 512;
  int writer_queue = 65536;
  int checkpoint_pages = 4000;
  int processed_events_ttl_s = 7 * 86400;
};

struct AuthConfig {
  std::string issuer = "rocketmart";
  std::string audience = "rocketmart-api";
  std::string key_id = "k1";
  int leeway_s = 30;
  int access_ttl_s = 900;
  int refresh_ttl_s = 2'592'000;  // Absolute lifetime of a refresh-token family (30 days).
  std::string secret;             // Secret; empty = unset (then the secret file is used).
  std::string secret_file;        // Empty = <storage.data_dir>/secrets/jwt.key (see JwtSecretPath).
  // Key rotation (battery G2): the retiring key, verify-only until previous_key_until (RFC 3339).
  std::string previous_key_id;
  std::string previous_secret;  // Secret.
  std::string previous_key_until;
  // Services run apart: the key of the gateway's internal identity (auth/internal_identity.hpp).
  std::string internal_secret;  // Secret; required with `serve --service`.
  // Internal key rotation: a second internal key accepted, never used to sign (docs/cluster.md).
  std::string internal_accepted_secret;  // Secret; empty = none.
};

struct LogConfig {
  std::string level = "info";   // trace | debug | info | warn | error | off
  std::string format = "auto";  // auto (text on a terminal, else json) | text | json
  bool access_log = true;
};

// Where a service keeps its data (docs/postgres.md): one section per service,
// [<service>.database]. A service never reads another's database.
struct DatabaseConfig {
  // "" or "sqlite:" = <storage.data_dir>/<service>.db (SQLite, the embedded default);
  // postgresql://[user@]host[:port]/dbname[?param=value...] (or postgres://) = PostgreSQL. A
  // password in the URL is refused: it goes in `password` (a secret).
  std::string url;
  std::string password;             // Secret (PostgreSQL only).
  int pool_size = 8;                // Connections to the database at most (PostgreSQL only).
  int connect_timeout_ms = 2000;    // Bound on a connection attempt (PostgreSQL only).
  int statement_timeout_ms = 2000;  // The server cancels a statement after this (PostgreSQL only).
};

// The engine `url` names.
bool IsPostgresUrl(std::string_view url);

struct CatalogConfig {
  DatabaseConfig database;
};

struct CheckoutConfig {
  DatabaseConfig database;
  int hold_ttl_s = 600;            // Unpaid holds are released after this.
  int sweep_interval_ms = 1000;    // How often expired holds are looked for.
  int reconcile_interval_s = 60;   // How often the stock invariant is checked.
  int stale_payment_after_s = 60;  // A payment in flight this long is settled from the provider.
  int idempotency_ttl_s = 86400;   // How long a settled purchase's Idempotency-Key is remembered.
  int sold_out_recheck_ms = 100;   // Redis admission: sold out answered from memory this long.
};

// Order lifecycle (docs/orders.md). Each delay counts from the previous transition.
struct OrdersConfig {
  DatabaseConfig database;
  int ship_after_s = 86'400;            // PAID -> SHIPPING
  int deliver_after_s = 86'400;         // SHIPPING -> DELIVERED (D+2 from payment)
  int return_window_s = 604'800;        // DELIVERED -> COMPLETED; returns accepted until then
  int return_receive_after_s = 86'400;  // RETURN_REQUESTED -> RETURNED (refund, restock)
  int scheduler_interval_ms = 1000;     // how often due transitions are looked for
  int scheduler_batch = 1000;           // transitions per transaction
};

struct PaymentConfig {
  int decline_percent = 0;  // Simulated provider: share of charges declined (load tests use 20).
  int seed = 1;             // Simulated provider: seed of the deterministic decline decision.
  int latency_ms = 0;       // Simulated provider: added latency per charge.
};

struct MembersConfig {
  DatabaseConfig database;
  // Links in mails; never the Host header. Empty = derived from server.host and the bound port.
  std::string public_base_url;
  std::string data_key;  // Secret; empty = <storage.data_dir>/secrets/members.key (generated).
  int verify_ttl_s = 86'400;
  int reset_ttl_s = 1'800;
  int hash_threads = 1;  // argon2id threads; kept small so logins never starve the sale path.
  int hash_queue = 32;   // Queued hashes beyond which login/signup answer 503 OVERLOADED.
  int signups_per_ip_per_hour = 30;
  int mails_per_ip_per_hour = 20;
};

struct MailConfig {
  std::string transport = "file";  // "file" (<data_dir>/mail/*.eml) | "smtp"
  std::string from = "Rocket Mart <no-reply@rocketmart.local>";
  std::string smtp_url = "smtp://127.0.0.1:25";  // smtps://host:465 for implicit TLS
  bool smtp_starttls = false;
  std::string smtp_username;
  std::string smtp_password;  // Secret.
  int smtp_timeout_ms = 15'000;
};

// Operator access.
struct OpsConfig {
  std::string metrics_token;  // Secret; empty = /metrics answers without a token.
};

// The storefront (docs/storefront.md): its built files and the live stock stream.
struct StorefrontConfig {
  std::string assets_dir;       // Empty = the `web` folder next to the binary.
  int max_streams = 10000;      // Open live stock streams; more answer 503 OVERLOADED.
  int stream_interval_ms = 50;  // Least time between two looks at the stock for the streams.
  int stream_heartbeat_s = 15;  // Comment line sent on a quiet stream.
};

// Redis, shared by every instance of the services that use it (docs/redis.md).
struct RedisConfig {
  std::string url;       // Empty = no Redis: the in-memory adapters (one instance).
  std::string password;  // Secret.
  // Before every key, channel and stream name: several deployments (or test servers) can share
  // one Redis without sharing counters.
  std::string key_prefix = "rocketmart:";
};

// How events travel between services (ADR 0007, ADR 0041).
struct EventsConfig {
  std::string transport = "outbox";  // "outbox" (in-process relay) | "redis-streams"
};

// Service discovery when the services run apart (ADR 0043).
struct DiscoveryConfig {
  std::string etcd_url;        // Empty = none.
  std::string advertise_host;  // Empty = server.host (127.0.0.1 for a wildcard host).
};

// Calls between services run apart (ADR 0044): the service client's keep-alive pools. Each event
// loop of a process keeps its own connections to each instance of a peer.
struct PeersConfig {
  int connections_per_loop = 256;  // per instance of a peer; at the limit a call waits for one
  int idle_timeout_ms = 15000;     // an idle connection closes after this (below the peer's
                                   // server.idle_timeout_ms, so the caller closes first)
  // A timeout counts against a peer instance (ejection) only when the attempt had this long
  // before the caller's deadline (ADR 0044).
  int min_attempt_for_ejection_ms = 500;
  // Calls in flight to one peer service at most (all its instances); beyond, a call is refused at
  // once (503 UNAVAILABLE with Retry-After through the gateway): the gateway's load shedding.
  int max_in_flight = 1024;
};

struct DemoConfig {
  bool seed = true;  // Seed a demo catalog into an empty data directory.
};

struct Config {
  ServerConfig server;
  GatewayConfig gateway;
  StorageConfig storage;
  AuthConfig auth;
  LogConfig log;
  DemoConfig demo;
  MembersConfig members;
  MailConfig mail;
  CatalogConfig catalog;
  CheckoutConfig checkout;
  OrdersConfig orders;
  PaymentConfig payment;
  OpsConfig ops;
  StorefrontConfig storefront;
  RedisConfig redis;
  EventsConfig events;
  DiscoveryConfig discovery;
  PeersConfig peers;
};

struct LoadOptions {
  std::optional<std::filesystem::path> file;  // nullopt: defaults + env only. Named: must exist.
  std::map<std::string, std::string> env;     // Usually EnvFromEnviron(); tests inject their own.
};

// The process environment's ROCKETMART_* variables (other variables are of no interest).
std::map<std::string, std::string> EnvFromEnviron();

// Builds the configuration. Errors are kValidationFailed, with the key, the offending value
// (never a secret's) and the allowed range in the message.
Result<Config> Load(const LoadOptions& options);

// ROCKETMART_* variables of `env` that are neither a key's variable (or a secret's _FILE form)
// nor one of the project's own non-configuration variables (ROCKETMART_ADMIN_PASSWORD, the test
// harness's, the load tools'): one message each, naming the closest variable when one is near.
// Load ignores them (the prefix is shared with tooling); `check-config` refuses them and `serve`
// warns.
std::vector<std::string> UnknownEnvVars(const std::map<std::string, std::string>& env);

// Checks against the file system that Load leaves out: storage.data_dir is a directory or
// does not exist yet.
Status CheckPaths(const Config& config);

// Applies one override (e.g. from `--set server.port=9090`) with the same parsing and validation
// as the environment. `key` may be a secret's `_file` form.
Status Set(Config& config, std::string_view key, std::string_view value);

// The effective configuration, one `key = value` line per key, secrets shown as <set>/<unset>.
std::string Describe(const Config& config);

// A markdown table of every key: key, env var, default, bounds, description.
std::string RenderDocsMarkdown();

// Every key of the table, in table order (for docs, tests and shell completion).
std::vector<std::string> Keys();

// The env var for `key`: ROCKETMART_ + upper-cased key with '.' -> '_'.
std::string EnvVarName(std::string_view key);

// Where the JWT secret lives when auth.secret is unset: auth.secret_file, or its default
// <storage.data_dir>/secrets/jwt.key.
std::filesystem::path JwtSecretPath(const Config& config);

}  // namespace rocketmart::config
