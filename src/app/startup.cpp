#include "app/startup.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "app/ops_routes.hpp"
#include "auth/random.hpp"
#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"

namespace rocketmart::app {

// (`rocketmart admin create` writes one member row through SQLite's own locking while a server
// runs, and the read-only tools do not write: neither takes this lock.)
lock::FileLock LockDataDirectory(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    throw std::runtime_error("data directory " + dir + " is not a directory");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create data directory " + dir + ": " + ec.message());
  const auto path = std::filesystem::path(dir) / "rocketmart.lock";
  std::optional<lock::FileLock> held;
  try {
    held = lock::FileLock::TryAcquire(path);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot lock data directory " + dir + ": " + e.code().message());
  }
  if (!held) {
    const std::string holder = lock::FileLock::ReadNote(path);
    throw std::runtime_error("data directory " + dir + " is in use by another rocketmart" +
                             (holder.empty() ? std::string() : " (" + holder + ")") +
                             "; stop it or choose another --data-dir");
  }
  held->SetNote("pid " + std::to_string(::getpid()));
  return std::move(*held);
}

std::string StableInstanceName(const std::string& data_dir) {
  const std::filesystem::path file = std::filesystem::path(data_dir) / "instance.id";
  std::string id;
  if (std::FILE* in = std::fopen(file.c_str(), "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, in) != nullptr) id = buf;
    std::fclose(in);
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  }
  if (id.empty()) {
    // Written aside and renamed: a crash leaves the old file, none, or the whole new one (an
    // empty one after a power loss is replaced like a missing one).
    id = auth::RandomHex(8);
    const std::filesystem::path temp = std::filesystem::path(data_dir) / "instance.id.tmp";
    std::FILE* out = std::fopen(temp.c_str(), "w");
    if (out == nullptr || std::fputs((id + "\n").c_str(), out) < 0 || std::fclose(out) != 0) {
      throw std::runtime_error("cannot write " + temp.string());
    }
    std::filesystem::rename(temp, file);
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + id;
}

// The check and the binds run under an flock keyed by the port number (not host:port, since
// 0.0.0.0:N and 127.0.0.1:N collide too), in /run/lock (or the temporary directory), held for the
// milliseconds binding takes.
void BindExclusively(http::Server& server, int port) {
  if (port == 0) {
    server.Bind();  // The kernel picks a port nobody uses; no one else can ask for it yet.
    return;
  }
  std::error_code ec;
  const std::filesystem::path run_lock = "/run/lock";
  const auto dir = std::filesystem::is_directory(run_lock, ec)
                       ? run_lock
                       : std::filesystem::temp_directory_path(ec);
  std::optional<lock::FileLock> bind_lock;
  try {
    bind_lock = lock::FileLock::Acquire(dir / ("rocketmart-port-" + std::to_string(port) + ".lock"),
                                        std::chrono::seconds(5));
  } catch (const std::system_error&) {
    // No shared lock file here (read-only or foreign): the in-use check alone still holds.
  }
  server.Bind();
}

std::string DefaultPublicBaseUrl(const std::string& host, std::uint16_t port) {
  std::string name = host;
  if (name == "0.0.0.0" || name == "::" || name == "[::]") {
    name = "localhost";
  } else if (name.find(':') != std::string::npos && name.front() != '[') {
    name = "[" + name + "]";  // an IPv6 literal
  }
  return "http://" + name + ":" + std::to_string(port);
}

http::ServerOptions ServerOptionsFrom(const config::Config& c) {
  http::ServerOptions o;
  o.host = c.server.host;
  o.port = static_cast<std::uint16_t>(c.server.port);
  o.threads = c.server.threads;
  o.max_connections = static_cast<std::size_t>(c.server.max_connections);
  o.max_body_bytes = static_cast<std::size_t>(c.server.max_body_bytes);
  o.max_header_bytes = static_cast<std::size_t>(c.server.max_header_bytes);
  o.header_timeout = std::chrono::milliseconds(c.server.header_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(c.server.idle_timeout_ms);
  o.request_timeout = std::chrono::milliseconds(c.server.request_timeout_ms);
  o.shutdown_grace = std::chrono::milliseconds(c.server.shutdown_grace_ms);
  o.access_log = c.log.access_log;
  // Validated with the configuration; the parse cannot fail here.
  auto trusted = http::TrustedProxies::Parse(c.server.trusted_proxies);
  if (!trusted.ok()) throw std::runtime_error("server.trusted_proxies: " + trusted.error().message);
  o.trusted_proxies = std::move(*trusted);
  return o;
}

void RegisterEventMetrics(metrics::Registry& metrics, const events::EventBus& bus,
                          const std::string& source) {
  const std::string labels = "db=\"" + source + "\"";
  const events::EventBus* b = &bus;
  metrics.AddCounterFn("outbox_events_delivered_total", "Events handed to subscribers", labels,
                       [b, source] { return b->Stats(source).delivered; });
  metrics.AddCounterFn("outbox_delivery_failures_total",
                       "Deliveries that failed and will be retried", labels,
                       [b, source] { return b->Stats(source).failures; });
  metrics.AddCounterFn("outbox_dead_letters_total",
                       "Events set aside as malformed (kept in the consumer's event_dead_letters)",
                       labels, [b, source] { return b->Stats(source).dead_letters; });
  metrics.AddGauge("outbox_backlog_events",
                   "Events appended that the slowest subscriber has not passed yet", labels,
                   [b, source] { return static_cast<double>(b->Stats(source).backlog); });
}

module::PeriodicTask ProcessedEventsRetention(const std::vector<module::Database*>& databases,
                                              const Clock& clock, int ttl_s) {
  return {.name = "processed-events-retention",
          .every = std::chrono::minutes(10),
          .run = [&databases, &clock, ttl_s]() -> boost::asio::awaitable<void> {
            // A relay redelivers only what its subscriber has not passed yet: seconds, not days.
            const TimePoint before = clock.Now() - std::chrono::seconds(ttl_s);
            constexpr std::int64_t kBatch = 10'000;
            auto prune = [before](storage::Database& conn) -> Result<std::int64_t> {
              return events::sqlite_outbox::PruneProcessedEvents(conn, before, kBatch);
            };
            for (module::Database* db : databases) {
              for (;;) {
                Result<std::int64_t> pruned = std::int64_t{0};
                if (db->sqlite) {
                  pruned = co_await async::Write<std::int64_t>(*db->sqlite->writer, prune);
                } else {
                  pruned = co_await db->postgres->PruneProcessedEvents(before, kBatch);
                }
                if (!pruned.ok() || *pruned < kBatch) break;
              }
            }
          }};
}

void AdminListener::Open(const config::Config& config, metrics::Registry& metrics) {
  if (config.server.admin_port < 0) return;
  http::ServerOptions admin = ServerOptionsFrom(config);
  admin.host = config.server.admin_host;
  admin.port = static_cast<std::uint16_t>(config.server.admin_port);
  admin.threads = 1;
  admin.max_connections = 64;
  admin.handle_signals = false;  // The public server's root takes the signals and stops this one.
  admin.name = "admin";
  server_ =
      std::make_unique<http::Server>(std::move(admin), router_, no_member_identities_, metrics);
  BindExclusively(*server_, config.server.admin_port);
  RegisterMetricsRoute(router_, metrics, config.ops.metrics_token);
}

void AdminListener::Announce(const config::Config& config) {
  if (!server_) return;
  server_->SealRoutes();
  std::printf("rocketmart metrics on http://%s:%u/metrics\n", config.server.admin_host.c_str(),
              static_cast<unsigned>(server_->port()));
}

void AdminListener::Start() {
  if (server_) thread_ = std::thread([this] { server_->Run(); });
}

void AdminListener::Stop() {
  if (thread_.joinable()) {
    server_->Shutdown();
    thread_.join();
  }
}

void RegisterStreamMetrics(metrics::Registry& metrics,
                           const events::redis_streams::RedisStreamsEventBus& bus,
                           const std::string& source) {
  const std::string labels = "source=\"" + metrics::EscapeLabel(source) + "\"";
  const events::redis_streams::RedisStreamsEventBus* b = &bus;
  metrics.AddCounterFn("events_stream_redeliveries_total",
                       "Stream entries a consumer took over from another (XAUTOCLAIM) or read "
                       "again from its own pending list",
                       labels, [b, source] { return b->Reclaimed(source); });
  metrics.AddCounterFn("events_stream_republished_total",
                       "Times the relay found the stream behind what it had published (Redis lost "
                       "entries) and published again from the outbox",
                       labels, [b, source] { return b->Republished(source); });
}

void RegisterStreamSubscriptionMetrics(metrics::Registry& metrics,
                                       const events::redis_streams::RedisStreamsEventBus& bus,
                                       const events::Subscription& subscription) {
  const std::string subscriber(subscription.subscriber->Name());
  const std::string labels = "source=\"" + metrics::EscapeLabel(subscription.source) +
                             "\",subscriber=\"" + metrics::EscapeLabel(subscriber) + "\"";
  const events::redis_streams::RedisStreamsEventBus* b = &bus;
  metrics.AddGauge("events_stream_lag_events",
                   "Events of the source the subscription has not acknowledged (an effect: its "
                   "consumer group's pending + not yet delivered), as of the bus's last look",
                   labels, [b, source = subscription.source, subscriber] {
                     return static_cast<double>(b->Lag(source, subscriber));
                   });
  // By the consuming process, whichever service's stream it is (outbox_dead_letters_total counts
  // only the process's own sources).
  metrics.AddCounterFn("events_stream_dead_letters_total",
                       "Events of the source this process set aside as dead letters for the "
                       "subscription (malformed, or handed out more than max_deliveries times)",
                       labels, [b, source = subscription.source, subscriber] {
                         return b->DeadLettered(source, subscriber);
                       });
}

}  // namespace rocketmart::app
