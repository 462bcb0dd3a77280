// Discovery on etcd v3 (docs/adr/0043-discovery-etcd.md): one range of the whole root (every
// service's instances and the store's revision), then one watch of the root from that revision
// + 1, applied in order. A watch that breaks (etcd restarted or unreachable, a compacted start
// revision, an open watch whose probe fails twice) is followed by a new range and a new watch
// after a jittered backoff: the set converges to what etcd holds, and while etcd cannot be
// reached the last known set stays (clients keep calling the instances they know).
//
// Keys under the root that are not <service>/<id>, and values that are not an instance's JSON,
// are skipped with a log line (and an instance whose value turns into garbage is dropped).
//
// Runs on a strand of the executor it is given; callbacks are called there. Watch, Unwatch,
// Instances and Close may be called from any thread. Lifetime: create with Create(), Start(),
// and Close() before the executor stops; drop the last reference before its io_context is
// destroyed (its timers and sockets belong to it).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "infra/discovery/backoff.hpp"
#include "infra/discovery/etcd/gateway_client.hpp"
#include "infra/discovery/service_registry.hpp"

namespace rocketmart::discovery::etcd {

class EtcdDiscovery final : public Discovery, public std::enable_shared_from_this<EtcdDiscovery> {
 public:
  static Result<std::shared_ptr<EtcdDiscovery>> Create(boost::asio::any_io_executor executor,
                                                       EtcdOptions options);

  // Starts the range-and-watch loop (any thread; once).
  void Start();
  // Stops it and cuts its connections; no callback begins afterwards. Any thread; idempotent.
  void Close();

  WatchId Watch(std::string service, Callback callback) override;
  void Unwatch(WatchId id) override;
  InstanceSet Instances(std::string_view service) const override;

  // For metrics and tests: ranges done so far (the first one and one after each broken watch),
  // and whether a watch is open now.
  std::uint64_t ranges() const { return ranges_.load(); }
  bool watching() const { return watching_.load(); }

 private:
  struct Watcher;
  using Strand = GatewayClient::Strand;
  using Services = std::map<std::string, std::map<std::string, Instance>, std::less<>>;

  EtcdDiscovery(boost::asio::any_io_executor executor, EtcdOptions options);

  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<Result<void>> RangeAll();
  boost::asio::awaitable<Result<void>> WatchFrom(std::int64_t revision);
  boost::asio::awaitable<void> Probe(std::uint64_t generation);
  boost::asio::awaitable<void> Sleep(boost::asio::steady_timer& timer, Millis delay);
  // Applies one watch event; the service it changed, if any.
  std::optional<std::string> Apply(const boost::json::object& event);
  // Publishes the sets of `changed` and calls their watchers (on the strand).
  void Publish(const std::set<std::string>& changed);
  void Deliver(const std::shared_ptr<Watcher>& watcher, const InstanceSet& set);

  Strand strand_;
  const EtcdOptions options_;
  const std::string range_end_;
  GatewayClient client_;
  boost::asio::steady_timer wake_;
  boost::asio::steady_timer probe_timer_;
  Backoff backoff_;

  // Strand-only state.
  Services services_;
  std::int64_t revision_ = 0;
  bool synced_ = false;           // a range succeeded: the sets are known
  std::uint64_t generation_ = 0;  // of the watch open now (the probe's)
  bool failing_ = false;

  // The published sets (Instances()) and the watchers.
  mutable std::mutex mutex_;
  std::map<std::string, InstanceSet, std::less<>> published_;
  std::map<WatchId, std::shared_ptr<Watcher>> watchers_;
  WatchId next_watch_ = 1;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> ranges_{0};
  std::atomic<bool> watching_{false};
};

}  // namespace rocketmart::discovery::etcd
