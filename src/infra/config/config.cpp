#include "infra/config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>
#include <span>
#include <sstream>
#include <system_error>
#include <variant>

#include "core/http_url.hpp"
#include "core/time_format.hpp"
#include "infra/http/client_address.hpp"

extern char**
    environ;  // POSIX; declared here because <unistd.h> only declares it with _GNU_SOURCE.

namespace rocketmart::config {
namespace {

// ---------------------------------------------------------------------------------------------
// The field table. One line per key; the key path is also the member path, so the two cannot
// drift. Defaults live in the member initialisers of config.hpp and are read back from Config{}.

using Ref = std::variant<int*, bool*, std::string*>;
using Check = const char* (*)(std::string_view value);  // Returns a reason, or nullptr if valid.

struct FieldSpec {
  std::string_view key;
  Ref (*ref)(Config&);
  std::int64_t min = 0;  // int: value range; string: length range (bytes).
  std::int64_t max = 0;
  std::span<const std::string_view> choices;  // Non-empty: the string must be one of these.
  Check check = nullptr;
  bool secret = false;
  std::string_view description;
};

constexpr std::string_view kSynchronous[] = {"full", "normal"};
constexpr std::string_view kMailTransports[] = {"file", "smtp"};
constexpr std::string_view kEventTransports[] = {"outbox", "redis-streams"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
constexpr std::string_view kLogFormats[] = {"auto", "text", "json"};
constexpr std::int64_t kMiB = 1024 * 1024;
constexpr std::int64_t kMaxString = 4096;

const char* CheckKeyId(std::string_view v) {
  // The key id is copied into every token header; the JWT keyring accepts exactly this alphabet.
  const bool ok = std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  return ok ? nullptr : "must use only the characters [A-Za-z0-9._-]";
}

const char* CheckRfc3339(std::string_view v) {
  return v.empty() || ParseRfc3339(v)
             ? nullptr
             : "must be an RFC 3339 UTC instant, e.g. 2026-12-01T12:00:00Z";
}

const char* CheckHmacSecret(std::string_view v) {
  // Short HMAC keys can be brute-forced offline from one captured token (RFC 7518 §3.2).
  return v.empty() || v.size() >= 32 ? nullptr : "must be at least 32 bytes";
}

// Links in mails append paths and queries to it: a query or fragment would break them. Empty
// means "derived from the server's address".
const char* CheckHttpUrl(std::string_view v) {
  return v.empty() || (IsAbsoluteHttpUrl(v) && v.find_first_of("?#") == std::string_view::npos)
             ? nullptr
             : "must be an absolute http:// or https:// URL with a host and no query, e.g. "
               "https://shop.example.com";
}

const char* CheckTrustedProxies(std::string_view v) {
  return http::TrustedProxies::Parse(v).ok()
             ? nullptr
             : "must be IP addresses or CIDR blocks separated by commas, e.g. 10.0.0.0/8, ::1";
}

// redis.url: empty (no Redis) or redis://host:port[/db] or unix:///path/to/redis.sock.
const char* CheckRedisUrl(std::string_view v) {
  if (v.empty()) return nullptr;
  constexpr const char* kShape =
      "must be empty (no Redis) or redis://host:port[/db] or unix:///path/to/redis.sock; the "
      "password goes in redis.password";
  if (v.starts_with("unix:///")) return v.size() > 8 ? nullptr : kShape;
  if (!v.starts_with("redis://")) return kShape;
  const std::string_view rest = v.substr(8);
  if (rest.empty() || rest.find('@') != std::string_view::npos) return kShape;
  return std::any_of(rest.begin(), rest.end(),
                     [](char c) { return c == ' ' || static_cast<unsigned char>(c) < 0x20; })
             ? kShape
             : nullptr;
}

// redis.key_prefix: printable, no spaces (it is part of every key and channel name).
const char* CheckRedisKeyPrefix(std::string_view v) {
  return std::all_of(v.begin(), v.end(),
                     [](char c) { return c > ' ' && static_cast<unsigned char>(c) < 0x7f; })
             ? nullptr
             : "must be printable ASCII without spaces, e.g. rocketmart:";
}

// discovery.etcd_url: empty (no discovery) or http://host:port of an etcd v3 client endpoint.
const char* CheckEtcdUrl(std::string_view v) {
  if (v.empty()) return nullptr;
  if (!v.starts_with("http://") || v.size() <= 7 ||
      std::any_of(v.begin(), v.end(), [](char c) { return c == ' ' || c == '@'; })) {
    return "must be empty (no discovery) or http://host:port (etcd's client URL)";
  }
  return nullptr;
}

const char* CheckSmtpUrl(std::string_view v) {
  return IsAbsoluteUrl(v, {"smtp", "smtps"}) && v.find_first_of("?#") == std::string_view::npos
             ? nullptr
             : "must be smtp://host[:port] (STARTTLS with mail.smtp_starttls) or "
               "smtps://host[:port] (implicit TLS)";
}

// `url` with what may be a password (userinfo after ':', any query parameter named *password*)
// replaced by "***": for messages about a URL that was refused for holding one.
std::string RedactUrl(std::string_view url) {
  std::string out(url);
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(out.find('/', start), out.size());
    const std::size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  std::size_t pos = out.find('?');
  while (pos != std::string::npos && pos < out.size()) {
    const std::size_t name_start = pos + 1;
    const std::size_t amp = std::min(out.find('&', name_start), out.size());
    const std::size_t eq = out.find('=', name_start);
    if (eq != std::string::npos && eq < amp &&
        out.substr(name_start, eq - name_start).find("password") != std::string::npos) {
      out.replace(eq + 1, amp - eq - 1, "***");
    }
    pos = out.find('&', name_start);
  }
  return out;
}

// [<service>.database] url: empty, sqlite:, or a PostgreSQL URL without a password.
const char* CheckDatabaseUrl(std::string_view v) {
  if (v.empty() || v == "sqlite:") return nullptr;
  constexpr const char* kShape =
      "must be empty or sqlite: (SQLite in storage.data_dir) or "
      "postgresql://[user@]host[:port]/dbname[?param=value&...]";
  std::string_view rest;
  if (v.starts_with("postgresql://")) {
    rest = v.substr(13);
  } else if (v.starts_with("postgres://")) {
    rest = v.substr(11);
  } else {
    return kShape;
  }
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return kShape;
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path_and_query = rest.substr(slash + 1);
  const std::size_t question = path_and_query.find('?');
  const std::string_view dbname = path_and_query.substr(0, question);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (authority.substr(0, at).find(':') != std::string_view::npos) {
      return "must not hold a password (it would be logged): give it in the database's password "
             "key (or its _file form) instead";
    }
    authority = authority.substr(at + 1);
  }
  if (authority.empty() || dbname.empty() || v.find('#') != std::string_view::npos ||
      std::any_of(v.begin(), v.end(),
                  [](char c) { return c == ' ' || static_cast<unsigned char>(c) < 0x20; })) {
    return kShape;
  }
  if (question != std::string_view::npos) {
    std::string_view query = path_and_query.substr(question + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view param = query.substr(0, amp);
      const std::string_view name = param.substr(0, param.find('='));
      if (name.find("password") != std::string_view::npos) {
        return "must not hold a password (it would be logged): give it in the database's "
               "password key (or its _file form) instead";
      }
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
  }
  return nullptr;
}

#define RM_REF(path) [](Config& c) -> Ref { return &c.path; }
#define RM_INT(path, lo, hi, desc)                        \
  FieldSpec {                                             \
#path, RM_REF(path), lo, hi, {}, nullptr, false, desc \
  }
#define RM_BOOL(path, desc)                             \
  FieldSpec {                                           \
#path, RM_REF(path), 0, 0, {}, nullptr, false, desc \
  }
#define RM_STR(path, lo, hi, desc)                        \
  FieldSpec {                                             \
#path, RM_REF(path), lo, hi, {}, nullptr, false, desc \
  }
#define RM_STR_CHECKED(path, lo, hi, check, desc)       \
  FieldSpec {                                           \
#path, RM_REF(path), lo, hi, {}, check, false, desc \
  }
#define RM_ENUM(path, choices, desc)                         \
  FieldSpec {                                                \
#path, RM_REF(path), 0, 0, choices, nullptr, false, desc \
  }
#define RM_SECRET(path, check, desc)                          \
  FieldSpec {                                                 \
#path, RM_REF(path), 0, kMaxString, {}, check, true, desc \
  }
// The five keys of a service's [<service>.database] section.
#define RM_DATABASE(service)                                                                     \
  RM_STR_CHECKED(service.database.url, 0, 2048, CheckDatabaseUrl,                                \
                 "Where " #service " keeps its data: empty or `sqlite:` = `<data_dir>/" #service \
                 ".db`; `postgresql://[user@]host[:port]/dbname[?...]` = PostgreSQL "            \
                 "(docs/postgres.md). No password in the URL."),                                 \
      RM_SECRET(service.database.password, nullptr,                                              \
                "PostgreSQL: the password of the URL's user; empty = none (trust, peer or "      \
                "~/.pgpass)."),                                                                  \
      RM_INT(service.database.pool_size, 1, 256,                                                 \
             "PostgreSQL: connections " #service " opens to its database at most."),             \
      RM_INT(service.database.connect_timeout_ms, 100, 60'000,                                   \
             "PostgreSQL: bound on one connection attempt; start-up fails after it."),           \
      RM_INT(service.database.statement_timeout_ms, 100, 60'000,                                 \
             "PostgreSQL: the server cancels a statement running longer (the request answers "   \
             "503).")

// clang-format off
const FieldSpec kFields[] = {
  RM_STR(server.host, 1, 255, "Address to bind."),
  RM_INT(server.port, 0, 65535, "TCP port; 0 picks a free port."),
  RM_INT(server.threads, 0, 64, "I/O threads; 0 = number of cores."),
  RM_INT(server.max_connections, 1, 1'000'000, "Concurrent connections; more are refused."),
  RM_INT(server.max_body_bytes, 1024, 16 * kMiB, "Largest accepted request body."),
  RM_INT(server.max_header_bytes, 1024, 65536, "Largest accepted request head."),
  RM_INT(server.header_timeout_ms, 100, 120'000, "Time allowed to receive the request head."),
  RM_INT(server.idle_timeout_ms, 100, 3'600'000, "Keep-alive idle time before closing."),
  RM_INT(server.request_timeout_ms, 100, 120'000, "Deadline for a request's work to start; a purchase still queued then answers 503 TIMEOUT."),
  RM_INT(server.shutdown_grace_ms, 0, 120'000, "Time to drain in-flight requests on shutdown."),
  RM_STR(server.admin_host, 1, 255, "Address of the admin listener (GET /metrics); loopback unless Prometheus scrapes from another host."),
  RM_INT(server.admin_port, -1, 65535, "Admin listener port (GET /metrics): -1 = off, 0 = a free port (printed at start)."),
  RM_STR_CHECKED(server.trusted_proxies, 0, kMaxString, CheckTrustedProxies,
         "Proxies whose X-Forwarded-For (else Forwarded) names the client, as addresses or CIDR blocks "
         "separated by commas (e.g. `10.0.0.0/8, ::1`); the client is the rightmost address that is "
         "not one of them. Empty = trust nobody: the client is the socket peer. Throttles and the "
         "access log use the client."),
  RM_INT(gateway.rate_per_member_per_s, 0, 100'000,
         "Requests per second a member (a valid access token) may make, sustained; more answer 429 RATE_LIMITED with Retry-After. 0 = no per-member limit. Shared through Redis when redis.url is set."),
  RM_INT(gateway.burst_per_member, 1, 100'000, "Requests a member may make at once after a pause (the bucket size; the rate refills it)."),
  RM_INT(gateway.rate_per_ip_per_s, 0, 100'000,
         "Requests per second one client address may make, sustained (IPv6: per /64; the client a trusted proxy reports, see server.trusted_proxies); more answer 429 RATE_LIMITED. Raise it when many customers share an address (mobile carriers, offices). 0 = no per-address limit."),
  RM_INT(gateway.burst_per_ip, 1, 100'000, "Requests one client address may make at once after a pause."),
  RM_STR(storage.data_dir, 1, kMaxString, "Directory for the database and generated secrets."),
  RM_ENUM(storage.synchronous, kSynchronous, "SQLite durability: full survives power loss."),
  RM_INT(storage.writer_max_batch, 1, 10'000, "Most writes committed in one transaction."),
  RM_INT(storage.writer_queue, 16, 1'000'000, "Queued writes before callers see overload."),
  RM_INT(storage.processed_events_ttl_s, 86'400, 31'536'000,
         "How long a consumer remembers an event id it applied (redelivery guard)."),
  RM_INT(storage.checkpoint_pages, 100, 1'000'000,
         "Write-ahead log pages that start a background checkpoint; at 16x the writer checkpoints itself."),
  RM_STR(auth.issuer, 1, 255, "JWT `iss` issued and required."),
  RM_STR(auth.audience, 1, 255, "JWT `aud` issued and required."),
  RM_STR_CHECKED(auth.key_id, 1, 64, CheckKeyId, "JWT `kid` of the signing key; characters [A-Za-z0-9._-]."),
  RM_INT(auth.leeway_s, 0, 60, "Clock skew tolerated on exp/nbf."),
  RM_INT(auth.access_ttl_s, 60, 86'400, "Access token lifetime."),
  RM_INT(auth.refresh_ttl_s, 300, 31'536'000, "Absolute lifetime of a refresh-token family."),
  RM_SECRET(auth.secret, CheckHmacSecret, "HMAC signing secret (>= 32 bytes); usually from env."),
  RM_STR(auth.secret_file, 0, kMaxString,
         "Secret file, created if missing; empty = `<data_dir>/secrets/jwt.key`."),
  RM_STR_CHECKED(auth.previous_key_id, 0, 64, CheckKeyId,
         "Key rotation (docs/operations.md): the `kid` of the key being retired; its tokens still verify until auth.previous_key_until, new ones are signed with auth.key_id. Empty = no previous key."),
  RM_SECRET(auth.previous_secret, CheckHmacSecret,
            "Key rotation: the retiring key's secret (its old auth.secret); required with auth.previous_key_id."),
  RM_STR_CHECKED(auth.previous_key_until, 0, 64, CheckRfc3339,
         "Key rotation: the instant (RFC 3339, e.g. `2026-12-01T12:00:00Z`) from which tokens signed with the previous key answer 401; required with auth.previous_key_id."),
  RM_SECRET(auth.internal_secret, CheckHmacSecret,
            "Services run apart (`serve --service`): the key the gateway signs each forwarded request's internal identity with (>= 32 bytes; never auth.secret); required in that mode."),
  RM_SECRET(auth.internal_accepted_secret, CheckHmacSecret,
            "Rotating the internal key (docs/cluster.md): a second internal key every process accepts but never signs with: the new key while processes learn it, then the old one while they switch. Empty = none."),
  RM_ENUM(log.level, kLogLevels, "Minimum log level."),
  RM_ENUM(log.format, kLogFormats, "`json`: one object per line (time, level, msg; access lines add requestId, route, path, status, durationMs, memberId, client, traceId); `text`: for people; `auto`: text on a terminal, else json."),
  RM_BOOL(log.access_log, "Log one line per request."),
  RM_BOOL(demo.seed, "Seed a demo catalog into an empty data directory."),
  RM_STR_CHECKED(members.public_base_url, 0, 2048, CheckHttpUrl,
         "Base URL of links in mails (never the Host header): an absolute http(s) URL; empty = "
         "`http://<server.host>:<port>` (`localhost` for a wildcard host; the bound port when "
         "server.port is 0)."),
  RM_SECRET(members.data_key, CheckHmacSecret,
            "Key sealing phone/address at rest (>= 32 bytes); empty = `<data_dir>/secrets/members.key`."),
  RM_INT(members.verify_ttl_s, 300, 604'800, "Lifetime of an email verification link."),
  RM_INT(members.reset_ttl_s, 60, 86'400, "Lifetime of a password reset link."),
  RM_INT(members.hash_threads, 1, 64, "Threads hashing passwords (argon2id)."),
  RM_INT(members.hash_queue, 1, 100'000, "Queued password hashes before 503 OVERLOADED."),
  RM_INT(members.signups_per_ip_per_hour, 1, 1'000'000, "Signups accepted per client address per hour."),
  RM_INT(members.mails_per_ip_per_hour, 1, 1'000'000, "Resend/reset requests per client address per hour."),
  RM_DATABASE(members),
  RM_ENUM(mail.transport, kMailTransports, "Where mail goes: file (`<data_dir>/mail/*.eml`) or smtp."),
  RM_STR(mail.from, 3, 320, "From header of outgoing mail."),
  RM_STR_CHECKED(mail.smtp_url, 1, 2048, CheckSmtpUrl, "SMTP server: smtp://host:port or smtps://host:port."),
  RM_BOOL(mail.smtp_starttls, "Require STARTTLS on smtp:// URLs."),
  RM_STR(mail.smtp_username, 0, 320, "SMTP AUTH user; empty = no AUTH."),
  RM_SECRET(mail.smtp_password, nullptr, "SMTP AUTH password."),
  RM_INT(mail.smtp_timeout_ms, 1000, 300'000, "Timeout of one SMTP submission."),
  RM_DATABASE(catalog),
  RM_DATABASE(checkout),
  RM_INT(checkout.hold_ttl_s, 1, 86'400, "Unpaid holds are released after this many seconds."),
  RM_INT(checkout.sweep_interval_ms, 10, 60'000, "How often expired holds are released."),
  RM_INT(checkout.reconcile_interval_s, 1, 86'400, "How often the stock invariant is checked."),
  RM_INT(checkout.stale_payment_after_s, 1, 86'400,
         "A payment still in flight this long (its process died or its database went away mid-payment) is settled from the provider's record: completed or refunded."),
  RM_INT(checkout.idempotency_ttl_s, 60, 2'592'000,
         "How long an Idempotency-Key is remembered after its purchase settled."),
  RM_INT(checkout.sold_out_recheck_ms, 0, 10'000,
         "With Redis admission: how long a product Redis showed sold out is answered sold out from memory, without a round trip (units given back on another instance are sold after at most this long; 0 = ask Redis every time)."),
  RM_DATABASE(orders),
  RM_INT(orders.ship_after_s, 0, 31'536'000, "Paid orders ship after this many seconds."),
  RM_INT(orders.deliver_after_s, 0, 31'536'000, "Shipped orders are delivered after this many seconds."),
  RM_INT(orders.return_window_s, 0, 31'536'000, "Returns are accepted this long after delivery; then the order completes."),
  RM_INT(orders.return_receive_after_s, 0, 31'536'000, "A requested return is received (refunded, restocked) after this many seconds."),
  RM_INT(orders.scheduler_interval_ms, 10, 60'000, "How often due order transitions are applied."),
  RM_INT(orders.scheduler_batch, 1, 100'000, "Order transitions applied per transaction."),
  RM_INT(payment.decline_percent, 0, 100, "Simulated provider: share of charges declined."),
  RM_INT(payment.seed, 0, 2'147'483'647, "Simulated provider: seed of the decline decision."),
  RM_INT(payment.latency_ms, 0, 10'000, "Simulated provider: latency added to each charge."),
  RM_STR_CHECKED(redis.url, 0, 2048, CheckRedisUrl,
         "Redis shared by every instance (docs/redis.md): `redis://host:port[/db]` or `unix:///path.sock`; empty = none (in-memory admission, throttles and deny-list: one instance)."),
  RM_SECRET(redis.password, nullptr, "Redis AUTH password; empty = none."),
  RM_STR_CHECKED(redis.key_prefix, 1, 128, CheckRedisKeyPrefix,
         "Before every Redis key, channel and stream of this deployment (`<prefix>adm:*`, `<prefix>events:*`, ...): deployments sharing one Redis keep apart by it."),
  RM_ENUM(events.transport, kEventTransports,
          "How events travel between services: `outbox` = relayed in-process from each service's outbox; `redis-streams` = through Redis Streams (needs redis.url; required when services run apart)."),
  RM_STR_CHECKED(discovery.etcd_url, 0, 2048, CheckEtcdUrl,
         "Services run apart: etcd's client URL (http://host:port) where instances register and find each other; empty = none."),
  RM_STR(discovery.advertise_host, 0, 255,
         "The address other instances reach this one at; empty = server.host (127.0.0.1 for a wildcard host)."),
  RM_INT(peers.connections_per_loop, 1, 100'000,
         "Services run apart: connections each I/O thread keeps at most to one instance of a peer service (in use, idle or opening); at the limit a call waits for one within its deadline. Open connections to a peer <= its instances x server.threads x this."),
  RM_INT(peers.idle_timeout_ms, 100, 3'600'000,
         "Services run apart: a connection to a peer service closes after this long idle (keep it below the peers' server.idle_timeout_ms)."),
  RM_INT(peers.max_in_flight, 1, 1'000'000,
         "Services run apart: calls in flight from this process to one peer service (all its instances) at most; one more is refused at once, which the gateway answers 503 UNAVAILABLE with Retry-After (load shedding: a slow service is not buried under a queue)."),
  RM_INT(peers.min_attempt_for_ejection_ms, 1, 120'000,
         "Services run apart: a call to a peer instance that times out counts against it (5 in a row eject it for a cool-down) only when the attempt had at least this long before the caller's deadline; a shorter one is still sent, and its timeout counts neither way."),
  RM_SECRET(ops.metrics_token, CheckHmacSecret,
            "Bearer token GET /metrics requires when set (>= 32 bytes; Prometheus `authorization: credentials`)."),
  RM_STR(storefront.assets_dir, 0, kMaxString, "The built storefront (index.html, assets/); empty = the `web` folder next to the binary."),
  RM_INT(storefront.max_streams, 0, 1'000'000, "Open live stock streams; more answer 503 OVERLOADED (0 turns the stream off)."),
  RM_INT(storefront.stream_interval_ms, 10, 10'000, "Least time between two looks at the stock for the live streams."),
  RM_INT(storefront.stream_heartbeat_s, 1, 300, "A comment line keeps a quiet live stock stream open this often."),
};
// clang-format on

#undef RM_REF
#undef RM_INT
#undef RM_BOOL
#undef RM_STR
#undef RM_STR_CHECKED
#undef RM_ENUM
#undef RM_SECRET
#undef RM_DATABASE

constexpr std::size_t kFieldCount = std::size(kFields);
constexpr std::string_view kFileSuffix = "_file";
constexpr std::string_view kEnvPrefix = "ROCKETMART_";

enum class Kind { kInt, kBool, kString };

Kind KindOf(const FieldSpec& f) {
  Config probe;
  const Ref r = f.ref(probe);
  if (std::holds_alternative<int*>(r)) return Kind::kInt;
  if (std::holds_alternative<bool*>(r)) return Kind::kBool;
  return Kind::kString;
}

const FieldSpec* FindField(std::string_view key) {
  for (const auto& f : kFields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::size_t IndexOf(const FieldSpec& f) {
  return static_cast<std::size_t>(&f - kFields);
}

// For `x.y_file`: the secret field `x.y` it names, if any.
const FieldSpec* SecretForFileKey(std::string_view key) {
  if (key.size() <= kFileSuffix.size() || !key.ends_with(kFileSuffix)) return nullptr;
  const FieldSpec* f = FindField(key.substr(0, key.size() - kFileSuffix.size()));
  return f != nullptr && f->secret ? f : nullptr;
}

bool IsKnownSection(std::string_view section) {
  return std::any_of(std::begin(kFields), std::end(kFields), [&](const FieldSpec& f) {
    return f.key.substr(0, f.key.find('.')) == section;
  });
}

// A table inside a section that holds keys (`checkout.database`).
bool IsKnownTable(std::string_view path) {
  return std::any_of(std::begin(kFields), std::end(kFields), [&](const FieldSpec& f) {
    return f.key.size() > path.size() && f.key.starts_with(path) && f.key[path.size()] == '.';
  });
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 200)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

std::string BoundsText(const FieldSpec& f) {
  if (!f.choices.empty()) {
    std::string out = "one of: ";
    for (std::size_t i = 0; i < f.choices.size(); ++i) {
      out += (i ? ", " : "") + std::string(f.choices[i]);
    }
    return out;
  }
  switch (KindOf(f)) {
    case Kind::kInt:
      return std::to_string(f.min) + ".." + std::to_string(f.max);
    case Kind::kBool:
      return "true, false";
    case Kind::kString:
      if (f.secret && f.check == CheckHmacSecret) return "empty or >= 32 bytes";
      return f.min == 0 ? "up to " + std::to_string(f.max) + " bytes"
                        : std::to_string(f.min) + ".." + std::to_string(f.max) + " bytes";
  }
  return {};
}

Error Invalid(std::string message) {
  return MakeError(Errc::kValidationFailed, "config: " + std::move(message));
}

using Value = std::variant<std::int64_t, bool, std::string>;

// Validates `value` against the field and stores it. `source` says where it came from.
Status Apply(Config& cfg, const FieldSpec& f, Value value, std::string_view source) {
  const std::string where = std::string(f.key) + " (from " + std::string(source) + ")";
  const Ref ref = f.ref(cfg);
  if (auto* i = std::get_if<int*>(&ref)) {
    const std::int64_t v = std::get<std::int64_t>(value);
    if (v < f.min || v > f.max) {
      return Invalid(where + ": " + std::to_string(v) + " is out of range " + BoundsText(f));
    }
    **i = static_cast<int>(v);
    return Ok();
  }
  if (auto* b = std::get_if<bool*>(&ref)) {
    **b = std::get<bool>(value);
    return Ok();
  }
  std::string& s = std::get<std::string>(value);
  // A secret's value never appears in a message, not even partially.
  // A database URL refused for holding a password shows without it.
  const std::string shown =
      f.secret ? "<hidden>" : (f.check == CheckDatabaseUrl ? Quote(RedactUrl(s)) : Quote(s));
  if (!f.choices.empty()) {
    if (std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
      return Invalid(where + ": " + shown + " is not " + BoundsText(f));
    }
  } else if (static_cast<std::int64_t>(s.size()) < f.min ||
             static_cast<std::int64_t>(s.size()) > f.max) {
    return Invalid(where + ": " + shown + " must be " + BoundsText(f));
  }
  if (f.check != nullptr) {
    if (const char* reason = f.check(s)) return Invalid(where + ": " + shown + " " + reason);
  }
  *std::get<std::string*>(ref) = std::move(s);
  return Ok();
}

// Parses text (environment, command line) according to the field's type.
Result<Value> ParseText(const FieldSpec& f, std::string_view text, std::string_view source) {
  switch (KindOf(f)) {
    case Kind::kInt: {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return Invalid(std::string(f.key) + " (from " + std::string(source) + "): " + Quote(text) +
                       " is not an integer; expected " + BoundsText(f));
      }
      return Value{v};
    }
    case Kind::kBool:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return Value{true};
      if (text == "false" || text == "0" || text == "no" || text == "off") return Value{false};
      return Invalid(std::string(f.key) + " (from " + std::string(source) + "): " + Quote(text) +
                     " is not a boolean; expected true or false");
    case Kind::kString:
      return Value{std::string(text)};
  }
  return Invalid("unreachable");
}

std::string_view TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date/time";
  }
}

Result<Value> FromToml(const FieldSpec& f, const toml::node& node, std::string_view source) {
  std::string_view expected;
  switch (KindOf(f)) {
    case Kind::kInt:
      if (const auto* v = node.as_integer()) return Value{v->get()};
      expected = "an integer";
      break;
    case Kind::kBool:
      if (const auto* v = node.as_boolean()) return Value{v->get()};
      expected = "a boolean";
      break;
    case Kind::kString:
      if (const auto* v = node.as_string()) return Value{v->get()};
      expected = "a string";
      break;
  }
  return Invalid(std::string(f.key) + " (from " + std::string(source) + "): expected " +
                 std::string(expected) + ", got " + std::string(TomlTypeName(node)));
}

Result<std::string> ReadSecretFile(std::string_view key, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(std::string(key) + ": cannot read file " + path.string());
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Which of a secret and its `_file` form was given at which precedence layer. The value from the
// higher layer wins; both in the same layer is ambiguous and rejected.
struct SecretSource {
  int value_layer = -1;
  int file_layer = -1;
  std::filesystem::path file;
  std::string file_source;
};

class Loader {
 public:
  Status ApplyField(const FieldSpec& f, Value v, std::string_view source, int layer) {
    if (f.secret) {
      SecretSource& s = secrets_[IndexOf(f)];
      if (s.file_layer == layer) return Both(f, source);
      s.value_layer = layer;
    }
    if (const FieldSpec* secret = SecretForFileKey(f.key)) {
      // A declared `_file` key (auth.secret_file): also a secret file, resolved at the end.
      if (auto st = NoteFile(*secret, std::get<std::string>(v), source, layer); !st.ok()) return st;
    }
    return Apply(config_, f, std::move(v), source);
  }

  // `x.y_file` for a secret x.y that has no declared `_file` key.
  Status ApplyGenericFile(const FieldSpec& secret, std::string path, std::string_view source,
                          int layer) {
    return NoteFile(secret, std::move(path), source, layer);
  }

  // Reads secret files that won over explicit values.
  Status ResolveSecrets() {
    for (std::size_t i = 0; i < kFieldCount; ++i) {
      const SecretSource& s = secrets_[i];
      if (s.file_layer < 0 || s.file_layer < s.value_layer) continue;
      const FieldSpec& f = kFields[i];
      const bool declared = FindField(std::string(f.key) + std::string(kFileSuffix)) != nullptr;
      std::error_code ec;
      if (declared && !std::filesystem::exists(s.file, ec)) {
        // A declared secret file that does not exist yet is created by its owner on first start
        // (auth: LoadOrCreateSecret); the file beat any lower-layer value, so that value goes.
        *std::get<std::string*>(f.ref(config_)) = "";
        continue;
      }
      const std::string file_key = std::string(f.key) + std::string(kFileSuffix);
      auto contents = ReadSecretFile(file_key, s.file);
      if (!contents.ok()) return std::move(contents).error();
      if (auto st = Apply(config_, f, std::move(*contents), s.file_source + " -> " + file_key);
          !st.ok()) {
        return st;
      }
    }
    return Ok();
  }

  Config& config() { return config_; }

 private:
  Status Both(const FieldSpec& f, std::string_view source) {
    return Invalid(std::string(f.key) + " and " + std::string(f.key) + std::string(kFileSuffix) +
                   " are both set (from " + std::string(source) + "); set only one");
  }
  Status NoteFile(const FieldSpec& secret, std::string path, std::string_view source, int layer) {
    SecretSource& s = secrets_[IndexOf(secret)];
    if (s.value_layer == layer) return Both(secret, source);
    s.file_layer = layer;
    s.file = std::move(path);
    s.file_source = std::string(source);
    return Ok();
  }

  Config config_;
  SecretSource secrets_[kFieldCount];
};

constexpr int kLayerFile = 1;
constexpr int kLayerEnv = 2;

// The keys of `table`, whose path is `prefix` (a section, or a section's sub-table such as
// [checkout.database]).
Status ApplyTomlTable(Loader& loader, const std::string& prefix, const toml::table& table,
                      const std::string& file) {
  const auto line = [&](const toml::node& n) {
    return file + ":" + std::to_string(n.source().begin.line);
  };
  for (const auto& [name, node] : table) {
    const std::string key = prefix + "." + std::string(name.str());
    const std::string source = "file " + line(node);
    if (const FieldSpec* f = FindField(key)) {
      auto value = FromToml(*f, node, source);
      if (!value.ok()) return std::move(value).error();
      if (auto st = loader.ApplyField(*f, std::move(*value), source, kLayerFile); !st.ok()) {
        return st;
      }
    } else if (const FieldSpec* secret = SecretForFileKey(key)) {
      const auto* path = node.as_string();
      if (path == nullptr) {
        return Invalid(key + " (from " + source + "): expected a string, got " +
                       std::string(TomlTypeName(node)));
      }
      if (auto st = loader.ApplyGenericFile(*secret, path->get(), source, kLayerFile); !st.ok()) {
        return st;
      }
    } else if (const toml::table* sub = node.as_table(); sub != nullptr && IsKnownTable(key)) {
      if (auto st = ApplyTomlTable(loader, key, *sub, file); !st.ok()) return st;
    } else {
      return Invalid("unknown key '" + key + "' in " + line(node));
    }
  }
  return Ok();
}

Status ApplyToml(Loader& loader, const toml::table& root, const std::string& file) {
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const auto line = [&](const toml::node& n) {
      return file + ":" + std::to_string(n.source().begin.line);
    };
    if (!IsKnownSection(section)) {
      return Invalid((section_node.is_table() ? "unknown section [" + section + "]"
                                              : "unknown key '" + section + "'") +
                     " in " + line(section_node));
    }
    const toml::table* table = section_node.as_table();
    if (table == nullptr) {
      return Invalid("'" + section + "' must be a table ([" + section + "]) in " +
                     line(section_node));
    }
    if (auto st = ApplyTomlTable(loader, section, *table, file); !st.ok()) return st;
  }
  return Ok();
}

Status ApplyEnv(Loader& loader, const std::map<std::string, std::string>& env) {
  // Iterate the table, not the environment: ROCKETMART_* is shared with tooling (for instance
  // ROCKETMART_BINARY in the test harness), so unknown variables cannot be treated as typos.
  for (const FieldSpec& f : kFields) {
    const std::string name = EnvVarName(f.key);
    if (auto it = env.find(name); it != env.end()) {
      const std::string source = "env " + name;
      auto value = ParseText(f, it->second, source);
      if (!value.ok()) return std::move(value).error();
      if (auto st = loader.ApplyField(f, std::move(*value), source, kLayerEnv); !st.ok()) return st;
    }
    if (!f.secret) continue;
    const std::string file_key = std::string(f.key) + std::string(kFileSuffix);
    if (FindField(file_key) != nullptr) continue;  // Declared: handled as a field above.
    const std::string file_name = EnvVarName(file_key);
    if (auto it = env.find(file_name); it != env.end()) {
      if (auto st = loader.ApplyGenericFile(f, it->second, "env " + file_name, kLayerEnv);
          !st.ok()) {
        return st;
      }
    }
  }
  return Ok();
}

std::string ValueText(const FieldSpec& f, Config& cfg) {
  const Ref ref = f.ref(cfg);
  if (auto* i = std::get_if<int*>(&ref)) return std::to_string(**i);
  if (auto* b = std::get_if<bool*>(&ref)) return **b ? "true" : "false";
  const std::string& s = *std::get<std::string*>(ref);
  if (f.secret) return s.empty() ? "<unset>" : "<set>";
  return Quote(s);
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::string EnvVarName(std::string_view key) {
  std::string out(kEnvPrefix);
  for (char c : key) {
    out += c == '.' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return out;
}

std::map<std::string, std::string> EnvFromEnviron() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (!entry.starts_with(kEnvPrefix)) continue;
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

namespace {

// Rules between keys, checked once every source is applied.
Status CheckAcrossKeys(const Config& c) {
  if (c.events.transport == "redis-streams" && c.redis.url.empty()) {
    return Invalid("events.transport = \"redis-streams\" needs redis.url");
  }
  const bool any_previous = !c.auth.previous_key_id.empty() || !c.auth.previous_secret.empty() ||
                            !c.auth.previous_key_until.empty();
  if (any_previous && (c.auth.previous_key_id.empty() || c.auth.previous_secret.empty() ||
                       c.auth.previous_key_until.empty())) {
    return Invalid(
        "key rotation needs all three of auth.previous_key_id, auth.previous_secret and "
        "auth.previous_key_until");
  }
  if (any_previous && c.auth.previous_key_id == c.auth.key_id) {
    return Invalid(
        "auth.previous_key_id must differ from auth.key_id (the new key needs its own id)");
  }
  if (any_previous && c.auth.previous_secret == c.auth.secret) {
    return Invalid("auth.previous_secret equals auth.secret: a rotation needs a new secret");
  }
  if (c.server.admin_port > 0 && c.server.admin_port == c.server.port) {
    return Invalid("server.admin_port " + std::to_string(c.server.admin_port) +
                   " is also server.port: the admin listener needs a port of its own");
  }
  return Ok();
}

// ROCKETMART_* variables that are not configuration: admin create's password, and the test
// harness's and load tools' own variables.
constexpr std::string_view kNotConfiguration[] = {
    "ROCKETMART_ADMIN_PASSWORD",  "ROCKETMART_BINARY",      "ROCKETMART_SOURCE_DIR",
    "ROCKETMART_E2E_SERVER_LOGS", "ROCKETMART_SMTP_LOGS",   "ROCKETMART_NODE_PROJECT",
    "ROCKETMART_NODE_MODULES",    "ROCKETMART_TOKENS",      "ROCKETMART_PRODUCT_ID",
    "ROCKETMART_LEAVE",           "ROCKETMART_TEST_ENGINE", "ROCKETMART_TEST_REDIS",
    "ROCKETMART_TEST_TOPOLOGY",   "ROCKETMART_TEST_CLUSTER"};

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<std::string> UnknownEnvVars(const std::map<std::string, std::string>& env) {
  std::vector<std::string> known;
  for (const FieldSpec& f : kFields) {
    known.push_back(EnvVarName(f.key));
    if (f.secret) known.push_back(EnvVarName(std::string(f.key) + std::string(kFileSuffix)));
  }
  std::vector<std::string> problems;
  for (const auto& [name, value] : env) {
    if (!name.starts_with(kEnvPrefix)) continue;
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    if (std::find(std::begin(kNotConfiguration), std::end(kNotConfiguration), name) !=
        std::end(kNotConfiguration)) {
      continue;
    }
    std::string message = name + " is not a configuration variable";
    const std::string* closest = nullptr;
    std::size_t best = 4;  // Suggest only near misses.
    for (const std::string& candidate : known) {
      const std::size_t d = EditDistance(name, candidate);
      if (d < best) {
        best = d;
        closest = &candidate;
      }
    }
    message += closest != nullptr ? " (did you mean " + *closest + "?)"
                                  : " (every variable is listed in docs/config.md)";
    problems.push_back(std::move(message));
  }
  return problems;
}

Status CheckPaths(const Config& config) {
  std::error_code ec;
  const std::filesystem::path dir = config.storage.data_dir;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    return Invalid("storage.data_dir: " + Quote(config.storage.data_dir) +
                   " exists and is not a directory");
  }
  return Ok();
}

Result<Config> Load(const LoadOptions& options) {
  Loader loader;
  if (options.file) {
    const std::filesystem::path& path = *options.file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Invalid(
          "config file " + path.string() +
          (std::filesystem::exists(path, ec) ? " is not a regular file" : " does not exist"));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Invalid("cannot read config file " + path.string());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    toml::table root;
    try {
      root = toml::parse(text, path.string());
    } catch (const toml::parse_error& e) {
      return Invalid("config file " + path.string() + ":" + std::to_string(e.source().begin.line) +
                     ":" + std::to_string(e.source().begin.column) + ": " +
                     std::string(e.description()));
    }
    if (auto st = ApplyToml(loader, root, path.string()); !st.ok()) return std::move(st).error();
  }
  if (auto st = ApplyEnv(loader, options.env); !st.ok()) return std::move(st).error();
  if (auto st = loader.ResolveSecrets(); !st.ok()) return std::move(st).error();
  if (auto st = CheckAcrossKeys(loader.config()); !st.ok()) return std::move(st).error();
  return std::move(loader.config());
}

Status Set(Config& config, std::string_view key, std::string_view value) {
  const std::string source = "command line";
  if (const FieldSpec* f = FindField(key)) {
    auto parsed = ParseText(*f, value, source);
    if (!parsed.ok()) return std::move(parsed).error();
    Config updated = config;  // All or nothing: a failed Set leaves `config` untouched.
    if (auto st = Apply(updated, *f, std::move(*parsed), source); !st.ok()) return st;
    if (const FieldSpec* secret = SecretForFileKey(key)) {
      // The command line outranks every other source, so its secret file replaces any value.
      std::error_code ec;
      if (!std::filesystem::exists(std::string(value), ec)) {
        *std::get<std::string*>(secret->ref(updated)) = "";
      } else {
        auto contents = ReadSecretFile(key, std::string(value));
        if (!contents.ok()) return std::move(contents).error();
        if (auto st = Apply(updated, *secret, std::move(*contents), source); !st.ok()) return st;
      }
    }
    if (auto st = CheckAcrossKeys(updated); !st.ok()) return st;
    config = std::move(updated);
    return Ok();
  }
  if (const FieldSpec* secret = SecretForFileKey(key)) {
    auto contents = ReadSecretFile(key, std::string(value));
    if (!contents.ok()) return std::move(contents).error();
    return Apply(config, *secret, std::move(*contents), source);
  }
  return Invalid("unknown key '" + std::string(key) + "'");
}

std::string Describe(const Config& config) {
  Config copy = config;  // The table's accessors take a mutable Config; describing never writes.
  std::string out;
  for (const FieldSpec& f : kFields) {
    out += std::string(f.key) + " = " + ValueText(f, copy) + "\n";
  }
  return out;
}

std::string RenderDocsMarkdown() {
  Config defaults;
  std::string out =
      "| Key | Env var | Default | Bounds | Description |\n"
      "|---|---|---|---|---|\n";
  for (const FieldSpec& f : kFields) {
    std::string def = ValueText(f, defaults);
    if (f.secret) def = "(unset)";
    out += "| `" + std::string(f.key) + "` | `" + EnvVarName(f.key) + "` | `" + def + "` | " +
           BoundsText(f) + " | " + std::string(f.description) + (f.secret ? " (secret)" : "") +
           " |\n";
  }
  out +=
      "\nPrecedence: defaults < TOML file < environment < command-line overrides. A secret key "
      "`x.y` may instead be given as a file path: `x.y_file` in TOML or `ROCKETMART_X_Y_FILE` in "
      "the environment; the file's contents (trailing newline trimmed) are the value.\n";
  return out;
}

std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (const FieldSpec& f : kFields) keys.emplace_back(f.key);
  return keys;
}

std::filesystem::path JwtSecretPath(const Config& config) {
  if (!config.auth.secret_file.empty()) return config.auth.secret_file;
  return std::filesystem::path(config.storage.data_dir) / "secrets" / "jwt.key";
}

}  // namespace rocketmart::config
