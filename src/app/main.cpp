// rocketmart: the command line. `serve` runs the embedded all-in-one server; `token` mints a signed
// access token for operators, tests and load drivers; `check-config` validates a configuration.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "app/embedded_app.hpp"
#include "app/gateway_root.hpp"
#include "app/keys.hpp"
#include "app/service_root.hpp"
#include "app/tool_stores.hpp"
#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/time_format.hpp"
#include "infra/config/config.hpp"
#include "infra/log/log.hpp"
#include "infra/module/redis.hpp"
#include "services/members/adapters/sodium_crypto.hpp"

namespace {

using namespace rocketmart;

struct CommonFlags {
  std::string config_file;
  std::string data_dir;
};

void AddCommonFlags(CLI::App* command, CommonFlags& flags) {
  command->add_option("--config", flags.config_file, "TOML configuration file (optional)");
  command->add_option("--data-dir", flags.data_dir, "Data directory (overrides storage.data_dir)");
}

std::optional<config::Config> LoadConfig(
    const CommonFlags& flags, const std::vector<std::pair<std::string, std::string>>& overrides) {
  config::LoadOptions options;
  if (!flags.config_file.empty()) options.file = flags.config_file;
  options.env = config::EnvFromEnviron();
  auto loaded = config::Load(options);
  if (!loaded.ok()) {
    std::fprintf(stderr, "configuration error: %s\n", loaded.error().message.c_str());
    return std::nullopt;
  }
  if (!flags.data_dir.empty()) {
    if (auto st = config::Set(*loaded, "storage.data_dir", flags.data_dir); !st.ok()) {
      std::fprintf(stderr, "configuration error: %s\n", st.error().message.c_str());
      return std::nullopt;
    }
  }
  for (const auto& [key, value] : overrides) {
    if (auto st = config::Set(*loaded, key, value); !st.ok()) {
      std::fprintf(stderr, "configuration error: %s\n", st.error().message.c_str());
      return std::nullopt;
    }
  }
  return std::move(*loaded);
}

// The tools (token, admin) print their answer on stdout; what the stores log (a PostgreSQL
// connection refused, ...) goes to stderr, warnings and worse only.
void ToolLogging() {
  log::Init("warn", "text");
}

// "15m", "900s", "2h", "1d" or plain seconds.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || n <= 0) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1;
  else if (unit == "m")
    scale = 60;
  else if (unit == "h")
    scale = 3600;
  else if (unit == "d")
    scale = 86400;
  else
    return std::nullopt;
  if (n > 365 * 86400 / scale) return std::nullopt;
  return std::chrono::seconds(n * scale);
}

// Starts a root, runs it until SIGTERM, and turns a refused start into one plain line.
template <class Root>
int RunRoot(std::optional<Root>& root) {
  try {
    root->Start();
  } catch (const module::StartRefused& e) {
    // What the configuration points at cannot be used (Redis unreachable or evicting): exit 2,
    // as for a configuration error.
    spdlog::default_logger()->flush();
    std::fprintf(stderr, "rocketmart: cannot start: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    // A refused start (port or data directory in use, unwritable store, a missing cluster key) is
    // one plain line.
    spdlog::default_logger()->flush();
    std::fprintf(stderr, "rocketmart: cannot start: %s\n", e.what());
    return 1;
  }
  try {
    root->Run();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
  return 0;
}

int Serve(const CommonFlags& flags, const std::string& port, const std::string& host,
          const std::string& service) {
  std::vector<std::pair<std::string, std::string>> overrides;
  if (!port.empty()) overrides.emplace_back("server.port", port);
  if (!host.empty()) overrides.emplace_back("server.host", host);
  auto cfg = LoadConfig(flags, overrides);
  if (!cfg) return 2;
  if (!log::Init(cfg->log.level, cfg->log.format)) return 2;
  for (const std::string& problem : config::UnknownEnvVars(config::EnvFromEnviron())) {
    spdlog::warn("configuration: {} (ignored; `rocketmart check-config` refuses it)", problem);
  }
  // A file-size limit (ulimit -f) must fail the write that hits it, which the store reports
  // (/health, db_writer_failures_total), not kill the server in the middle of a transaction.
  std::signal(SIGXFSZ, SIG_IGN);
  SystemClock clock;
  try {
    if (service.empty()) {
      std::optional<app::EmbeddedApp> app;
      app.emplace(std::move(*cfg), clock);
      return RunRoot(app);
    }
    if (service == "gateway") {
      std::optional<app::GatewayRoot> root;
      root.emplace(std::move(*cfg), clock);
      return RunRoot(root);
    }
    std::optional<app::ServiceRoot> root;
    root.emplace(std::move(*cfg), clock, service);
    return RunRoot(root);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rocketmart: cannot start: %s\n", e.what());
    return 1;
  }
}

struct TokenFlags {
  std::int64_t member = 0;
  std::string role;  // empty = the member's own role (user for a synthetic identity)
  std::string ttl = "15m";
  bool unverified = false;
  bool synthetic = false;
};

// Who a token is for: a member read from the members database, SQLite or PostgreSQL (read-only,
// safe while the server runs), or a synthetic load-test identity that no real member can ever be.
struct TokenSubject {
  std::int64_t member_id = 0;
  auth::Role role = auth::Role::kUser;
  bool email_verified = false;
};

std::optional<TokenSubject> ResolveTokenSubject(const config::Config& cfg, const TokenFlags& t) {
  std::optional<auth::Role> wanted;
  if (!t.role.empty()) {
    wanted = auth::ParseRole(t.role);
    if (!wanted) {
      std::fprintf(stderr, "--role must be user or admin\n");
      return std::nullopt;
    }
  }
  if (t.synthetic) {
    if (t.member > auth::kMaxSyntheticNumber) {
      std::fprintf(stderr, "--synthetic --member must be at most %lld\n",
                   static_cast<long long>(auth::kMaxSyntheticNumber));
      return std::nullopt;
    }
    return TokenSubject{auth::SyntheticMemberId(t.member), wanted.value_or(auth::Role::kUser),
                        !t.unverified};
  }
  if (auth::IsSyntheticMember(t.member)) {
    std::fprintf(
        stderr, "member ids from 2^53 up are synthetic: ask for one with --synthetic --member N\n");
    return std::nullopt;
  }
  const std::string where = app::MembersDatabaseName(cfg);
  const auto unknown = [&] {
    std::fprintf(stderr,
                 "no member %lld in %s: sign the member up first, or mint a load-test identity "
                 "with --synthetic\n",
                 static_cast<long long>(t.member), where.c_str());
  };
  std::optional<members::MemberRecord> record;
  try {
    record = app::ReadMember(cfg, t.member);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot read %s: %s\n", where.c_str(), e.what());
    return std::nullopt;
  }
  if (!record) {
    unknown();
    return std::nullopt;
  }
  const auth::Role role =
      record->role == members::MemberRole::kAdmin ? auth::Role::kAdmin : auth::Role::kUser;
  if (wanted == auth::Role::kAdmin && role != auth::Role::kAdmin) {
    std::fprintf(stderr,
                 "member %lld is not an admin (promote it with `rocketmart admin create`)\n",
                 static_cast<long long>(t.member));
    return std::nullopt;
  }
  if (!record->email_verified && !t.unverified) {
    std::fprintf(stderr,
                 "note: member %lld has not verified its email; the token says so "
                 "(purchases answer EMAIL_NOT_VERIFIED)\n",
                 static_cast<long long>(t.member));
  }
  return TokenSubject{t.member, wanted.value_or(role), record->email_verified && !t.unverified};
}

int Token(const CommonFlags& flags, const TokenFlags& t) {
  auto cfg = LoadConfig(flags, {});
  if (!cfg) return 2;
  ToolLogging();
  const auto ttl = ParseDuration(t.ttl);
  if (!ttl) {
    std::fprintf(stderr, "--ttl must look like 900s, 15m, 2h or 1d (at most 365d)\n");
    return 2;
  }
  const auto subject = ResolveTokenSubject(*cfg, t);
  if (!subject) return 2;
  auto keyring = app::BuildKeyring(*cfg);
  if (!keyring.ok()) {
    std::fprintf(stderr, "auth key: %s\n", keyring.error().message.c_str());
    return 1;
  }
  SystemClock clock;
  const TimePoint now = clock.Now();
  auth::Claims claims;
  claims.member_id = subject->member_id;
  claims.role = std::string(auth::RoleName(subject->role));
  claims.type = std::string(auth::kAccessType);
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + *ttl;
  claims.issuer = cfg->auth.issuer;
  claims.audience = cfg->auth.audience;
  // The purchase path checks this claim exactly as it checks tokens issued at login.
  claims.email_verified = subject->email_verified;
  std::printf("%s\n", auth::Sign(claims, *keyring).c_str());
  return 0;
}

// Prints every event the bus set aside as malformed, one JSON object a line: "db" is the database
// that keeps it (the consumer's), "source" the service that published the event. Letters an older
// version kept in the producer's database and no server has carried over yet are listed too.
// Read-only, so it is safe while the server runs. Exit 0 with no output: nothing was set aside.
int AdminDeadLetters(const CommonFlags& flags) {
  auto cfg = LoadConfig(flags, {});
  if (!cfg) return 2;
  ToolLogging();
  try {
    for (const auto& [name, letter] : app::ReadDeadLetters(*cfg)) {
      const boost::json::object line{{"db", name},
                                     {"source", letter.source},
                                     {"subscriber", letter.subscriber},
                                     {"eventId", letter.event_id},
                                     {"topic", letter.topic},
                                     {"reason", letter.reason},
                                     {"at", FormatRfc3339(letter.at)},
                                     {"payload", letter.payload}};
      std::printf("%s\n", boost::json::serialize(line).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "admin dead-letters: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Creates (or promotes) a verified admin. The password never appears on the command line (it
// would show in `ps` and shell history): it comes from a file or ROCKETMART_ADMIN_PASSWORD.
int AdminCreate(const CommonFlags& flags, const std::string& email,
                const std::string& password_file) {
  auto cfg = LoadConfig(flags, {});
  if (!cfg) return 2;
  std::string password;
  if (!password_file.empty()) {
    std::FILE* f = std::fopen(password_file.c_str(), "rb");
    if (!f) {
      std::fprintf(stderr, "cannot read %s\n", password_file.c_str());
      return 2;
    }
    char buf[1024];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && password.size() < 4096) {
      password.append(buf, n);
    }
    std::fclose(f);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
  } else if (const char* env = std::getenv("ROCKETMART_ADMIN_PASSWORD")) {
    password = env;
  } else {
    std::fprintf(stderr, "give the password with --password-file or ROCKETMART_ADMIN_PASSWORD\n");
    return 2;
  }
  if (auto st = members::ValidateEmail(email); !st.ok()) {
    std::fprintf(stderr, "--email: %s\n", st.error().message.c_str());
    return 2;
  }
  if (auto st = members::ValidatePassword(password); !st.ok()) {
    std::fprintf(stderr, "password: %s\n", st.error().message.c_str());
    return 2;
  }
  ToolLogging();
  try {
    members::SodiumPasswordHasher hasher;
    members::NewMember member;
    member.email = email;
    member.password_hash = hasher.HashNow(password);
    member.name = "Administrator";
    // In the members database the configuration names (SQLite or PostgreSQL).
    auto id = app::CreateAdmin(*cfg, std::move(member));
    if (!id.ok()) {
      std::fprintf(stderr, "admin create: %s\n", id.error().message.c_str());
      return 1;
    }
    std::printf("admin %s is member %lld (verified)\n", email.c_str(), static_cast<long long>(*id));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "admin create: %s\n", e.what());
    return 1;
  }
  return 0;
}

int CheckConfig(const CommonFlags& flags) {
  auto cfg = LoadConfig(flags, {});
  if (!cfg) return 2;
  // Stricter than serve: a misspelt variable is silently ignored by Load (the prefix is shared
  // with tooling), so the command that exists to catch mistakes refuses it.
  const auto unknown = config::UnknownEnvVars(config::EnvFromEnviron());
  for (const std::string& problem : unknown) {
    std::fprintf(stderr, "configuration error: %s\n", problem.c_str());
  }
  if (!unknown.empty()) return 2;
  if (auto st = config::CheckPaths(*cfg); !st.ok()) {
    std::fprintf(stderr, "configuration error: %s\n", st.error().message.c_str());
    return 2;
  }
  std::printf("%s", config::Describe(*cfg).c_str());
  std::printf("configuration OK\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"rocketmart: a flash-sale commerce backend"};
  cli.require_subcommand(1);

  CommonFlags serve_flags;
  std::string port, host;
  auto* serve = cli.add_subcommand(
      "serve", "Run the embedded all-in-one server, or one service of a cluster (--service)");
  AddCommonFlags(serve, serve_flags);
  serve->add_option("--port", port, "Listen port (0 picks a free one and prints it)");
  serve->add_option("--host", host, "Listen address");
  std::string service;
  serve
      ->add_option("--service", service,
                   "Run one service on its own (a cluster: docs/cluster.md) instead of all five")
      ->check(CLI::IsMember({"gateway", "members", "catalog", "checkout", "orders"}));

  CommonFlags token_flags;
  TokenFlags token_options;
  auto* token = cli.add_subcommand(
      "token",
      "Print a signed access token for a member (read from --data-dir) or a synthetic "
      "load-test identity (--synthetic)");
  AddCommonFlags(token, token_flags);
  token->add_option("--member", token_options.member, "Member id (with --synthetic: identity N)")
      ->required()
      ->check(CLI::PositiveNumber);
  token->add_option("--role", token_options.role,
                    "user or admin (default: the member's role; admin only for an admin member)");
  token->add_option("--ttl", token_options.ttl, "Lifetime: 900s, 15m, 2h, 1d");
  token->add_flag("--unverified", token_options.unverified,
                  "Mint a token whose email is not verified (purchases answer EMAIL_NOT_VERIFIED)");
  token->add_flag("--synthetic", token_options.synthetic,
                  "A load-test identity: member id 2^53 + N, a range no real member can have");

  CommonFlags check_flags;
  auto* check = cli.add_subcommand("check-config", "Validate the configuration and print it");
  AddCommonFlags(check, check_flags);

  CommonFlags admin_flags;
  std::string admin_email, admin_password_file;
  auto* admin = cli.add_subcommand("admin", "Administration commands");
  admin->require_subcommand(1);
  auto* admin_create =
      admin->add_subcommand("create", "Create (or promote) a verified admin member");
  AddCommonFlags(admin_create, admin_flags);
  admin_create->add_option("--email", admin_email, "Admin email")->required();
  admin_create->add_option("--password-file", admin_password_file,
                           "File holding the password (else env ROCKETMART_ADMIN_PASSWORD)");
  CommonFlags dead_letter_flags;
  auto* admin_dead_letters = admin->add_subcommand(
      "dead-letters", "List events set aside as malformed (JSON lines; safe while serving)");
  AddCommonFlags(admin_dead_letters, dead_letter_flags);

  auto* config_docs =
      cli.add_subcommand("config-docs", "Print every configuration key as markdown");

  CLI11_PARSE(cli, argc, argv);
  if (config_docs->parsed()) {
    std::printf("%s", config::RenderDocsMarkdown().c_str());
    return 0;
  }
  if (serve->parsed()) return Serve(serve_flags, port, host, service);
  if (token->parsed()) return Token(token_flags, token_options);
  if (check->parsed()) return CheckConfig(check_flags);
  if (admin_create->parsed()) return AdminCreate(admin_flags, admin_email, admin_password_file);
  if (admin_dead_letters->parsed()) return AdminDeadLetters(dead_letter_flags);
  return 2;
}
