// Start-up steps every composition root takes, whatever modules it runs: the data directory's
// lock, the listeners (bound under a per-port lock, the admin listener with its /metrics), the
// public base URL a server answers on, and the event bus's metrics per source.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "infra/config/config.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/http/server.hpp"
#include "infra/lock/file_lock.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"

namespace rocketmart::app {

// The data directory belongs to one process at a time: two servers on one directory would each
// trust their in-memory view (stock counters, caches) of databases the other changes. flock on
// <data_dir>/rocketmart.lock, held for the process lifetime and released by the kernel even on
// SIGKILL. Creates the directory; throws std::runtime_error saying why it cannot.
lock::FileLock LockDataDirectory(const std::string& dir);

// This data directory's instance name, kept across restarts in <data_dir>/instance.id (a random
// hex string written once; the directory belongs to one process at a time, LockDataDirectory):
// "<hostname>:<id>", unique per data directory, the same after a SIGKILL and restart. It names the
// process's Redis Streams consumers, so a restarted process takes back at once (XREADGROUP from 0)
// what its killed predecessor had read and not acknowledged, instead of leaving it to another
// instance's XAUTOCLAIM after claim_idle; and checkout's worker on the payments and refunds it
// leases, so a restart settles what its own previous run left PAYING and only that (never another
// live instance's payment in flight). Call after LockDataDirectory. Throws std::runtime_error when
// the file cannot be written. Copying a data directory copies its name: give a copy a fresh one
// by deleting instance.id.
std::string StableInstanceName(const std::string& data_dir);

// Binds `server` so that two processes starting at the same moment on one port cannot both pass
// its in-use check and then both bind with SO_REUSEPORT.
void BindExclusively(http::Server& server, int port);

// The public listener's options from [server] and [log].
http::ServerOptions ServerOptionsFrom(const config::Config& c);

// members.public_base_url when it is not configured: this server's own address, with `localhost`
// for a wildcard host (a link needs a name a browser can open) and the port actually bound.
std::string DefaultPublicBaseUrl(const std::string& host, std::uint16_t port);

// The event bus's figures for the events `source` publishes, as metrics labelled with its
// database (outbox_*{db="<source>"}).
void RegisterEventMetrics(metrics::Registry& metrics, const events::EventBus& bus,
                          const std::string& source);

// The processed-events retention task over `databases` (each database's event claims older than
// storage.processed_events_ttl_s, in batches, awaited so the sweeps sharing the thread run
// between them). `databases` and `clock` must outlive the task.
module::PeriodicTask ProcessedEventsRetention(const std::vector<module::Database*>& databases,
                                              const Clock& clock, int ttl_s);

// The Redis Streams bus's own figures (events.transport = redis-streams): per source, entries its
// consumers took over or read again (redeliveries) and times the relay published again because
// Redis had lost entries; per subscription, labelled source and subscriber (once per pair:
// instances of one effect share a group), its lag (effects: its group's pending + not yet
// delivered entries) and the dead letters this process set aside for it, whichever service's
// stream the source is.
void RegisterStreamMetrics(metrics::Registry& metrics,
                           const events::redis_streams::RedisStreamsEventBus& bus,
                           const std::string& source);
void RegisterStreamSubscriptionMetrics(metrics::Registry& metrics,
                                       const events::redis_streams::RedisStreamsEventBus& bus,
                                       const events::Subscription& subscription);

// The admin listener (GET /metrics, ops.metrics_token) on server.admin_host:admin_port with a
// thread of its own, as every root has it (none when server.admin_port is -1). Open() binds it;
// Start() serves; Stop() (idempotent, also the destructor) drains it. Used by the service and the
// gateway roots.
class AdminListener {
 public:
  ~AdminListener() { Stop(); }
  void Open(const config::Config& config, metrics::Registry& metrics);
  // Seals its routes and prints "rocketmart metrics on http://host:port/metrics".
  void Announce(const config::Config& config);
  void Start();
  void Stop();

 private:
  http::NoMemberIdentities no_member_identities_;  // /metrics checks its own token
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

}  // namespace rocketmart::app
