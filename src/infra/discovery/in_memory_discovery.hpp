// Discovery and ServiceRegistry in one process's memory: for the embedded deployment (every
// service in one process, nothing to find) and for unit tests of code that uses the ports.
// InMemoryDirectory is the store and the Discovery; each InMemoryRegistry it hands out lists
// instances in it until Deregister(). Changes reach watchers at once, on the thread that made
// them (with no lock of the directory held; calls never overlap). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "infra/discovery/service_registry.hpp"

namespace rocketmart::discovery {

class InMemoryDirectory final : public Discovery,
                                public std::enable_shared_from_this<InMemoryDirectory> {
 public:
  static std::shared_ptr<InMemoryDirectory> Create();

  // A registrant: what it registers stays listed until its Deregister() (or its destruction).
  std::unique_ptr<ServiceRegistry> NewRegistry();

  WatchId Watch(std::string service, Callback callback) override;
  void Unwatch(WatchId id) override;
  InstanceSet Instances(std::string_view service) const override;

 private:
  friend class InMemoryRegistry;
  InMemoryDirectory() = default;
  void Put(std::uint64_t owner, Instance instance);
  void RemoveOwner(std::uint64_t owner);
  void Notify(const std::string& service);

  struct Entry {
    std::uint64_t owner = 0;
    Instance instance;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, Entry>, std::less<>> services_;
  std::map<WatchId, std::pair<std::string, std::shared_ptr<Callback>>> watchers_;
  WatchId next_watch_ = 1;
  std::uint64_t next_owner_ = 1;
  std::recursive_mutex delivery_;  // calls never overlap; Unwatch waits for a call in progress
};

}  // namespace rocketmart::discovery
