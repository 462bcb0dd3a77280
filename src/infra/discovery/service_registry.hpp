// Service discovery ports (issue 15, docs/adr/0043-discovery-etcd.md): how an instance of a
// service makes itself known while it lives (ServiceRegistry) and how a client learns which
// instances of a service exist now (Discovery). Engine-neutral: the etcd adapter lives in
// infra/discovery/etcd/, an in-memory one for the embedded deployment and unit tests in
// in_memory_discovery.hpp. Only the composition root names an adapter.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace rocketmart::discovery {

// One instance of one service, as clients reach it.
struct Instance {
  std::string service;  // "catalog", "checkout", ...: [a-z0-9_-], 1..64 characters
  std::string id;       // unique among the service's instances: [A-Za-z0-9_.:-], 1..128 characters
  std::string host;     // what a client connects to (an address or a DNS name)
  std::uint16_t port = 0;
  std::map<std::string, std::string> metadata;  // free-form (zone, version, weight, ...)

  friend bool operator==(const Instance&, const Instance&) = default;
};

// Sorted by id: the order every adapter hands sets out in.
using InstanceSet = std::vector<Instance>;

// True when `service` and `id` use the characters and lengths above (keys stay unambiguous).
bool ValidServiceName(std::string_view service);
bool ValidInstanceId(std::string_view id);

class ServiceRegistry {
 public:
  virtual ~ServiceRegistry() = default;

  // Lists `instance` from now on, for as long as this process lives and keeps the registry open:
  // returns at once (never waits for the store); while the store cannot be reached it keeps
  // trying, and it lists the instance again whenever the store lost it (a restart, a lapsed
  // lease). Registering the same service and id again replaces the instance's data.
  // Errc::kValidationFailed for a bad service name, id, empty host or port 0.
  virtual Result<void> Register(Instance instance) = 0;

  // Takes every instance this registry listed out of the store first (clients stop choosing
  // them), then stops keeping them listed: the clean-shutdown path, after which the caller
  // drains. Errc::kUnavailable (or kTimeout) when the store could not be told: the instances
  // then disappear when their lease runs out (at most its TTL later).
  virtual boost::asio::awaitable<Result<void>> Deregister() = 0;
};

class Discovery {
 public:
  virtual ~Discovery() = default;

  // Called with the whole current set of a service's instances: once the set is first known
  // (possibly empty), then after every change. Calls for one Discovery never overlap and come
  // from the adapter's executor; a callback must not block.
  using Callback = std::function<void(const InstanceSet&)>;
  using WatchId = std::uint64_t;

  virtual WatchId Watch(std::string service, Callback callback) = 0;
  // No call begins after Unwatch returns (one already running may finish). Any thread.
  virtual void Unwatch(WatchId id) = 0;

  // The last known set of `service` (empty before the first one is known). Thread-safe; while the
  // store cannot be reached it is the last set seen (clients keep calling the known instances).
  virtual InstanceSet Instances(std::string_view service) const = 0;
};

}  // namespace rocketmart::discovery
