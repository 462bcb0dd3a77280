#include "infra/discovery/in_memory_discovery.hpp"

#include "infra/discovery/instance_codec.hpp"

namespace rocketmart::discovery {

class InMemoryRegistry final : public ServiceRegistry {
 public:
  InMemoryRegistry(std::shared_ptr<InMemoryDirectory> directory, std::uint64_t owner)
      : directory_(std::move(directory)), owner_(owner) {}
  ~InMemoryRegistry() override { directory_->RemoveOwner(owner_); }

  Result<void> Register(Instance instance) override {
    if (auto valid = ValidateInstance(instance); !valid) return valid.error();
    directory_->Put(owner_, std::move(instance));
    return {};
  }
  boost::asio::awaitable<Result<void>> Deregister() override {
    directory_->RemoveOwner(owner_);
    co_return Result<void>{};
  }

 private:
  std::shared_ptr<InMemoryDirectory> directory_;
  std::uint64_t owner_;
};

std::shared_ptr<InMemoryDirectory> InMemoryDirectory::Create() {
  return std::shared_ptr<InMemoryDirectory>(new InMemoryDirectory());
}

std::unique_ptr<ServiceRegistry> InMemoryDirectory::NewRegistry() {
  std::uint64_t owner = 0;
  {
    std::lock_guard lock(mutex_);
    owner = next_owner_++;
  }
  return std::make_unique<InMemoryRegistry>(shared_from_this(), owner);
}

void InMemoryDirectory::Put(std::uint64_t owner, Instance instance) {
  const std::string service = instance.service;
  {
    std::lock_guard lock(mutex_);
    std::string id = instance.id;
    services_[service][id] = Entry{owner, std::move(instance)};
  }
  Notify(service);
}

void InMemoryDirectory::RemoveOwner(std::uint64_t owner) {
  std::vector<std::string> changed;
  {
    std::lock_guard lock(mutex_);
    for (auto it = services_.begin(); it != services_.end();) {
      const auto before = it->second.size();
      std::erase_if(it->second, [owner](const auto& item) { return item.second.owner == owner; });
      if (it->second.size() != before) changed.push_back(it->first);
      it = it->second.empty() ? services_.erase(it) : std::next(it);
    }
  }
  for (const auto& service : changed) Notify(service);
}

void InMemoryDirectory::Notify(const std::string& service) {
  std::lock_guard delivery(delivery_);
  std::vector<std::pair<WatchId, std::shared_ptr<Callback>>> callbacks;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, watcher] : watchers_) {
      if (watcher.first == service) callbacks.emplace_back(id, watcher.second);
    }
  }
  const InstanceSet set = Instances(service);
  for (const auto& [id, callback] : callbacks) {
    bool still = false;
    {
      std::lock_guard lock(mutex_);
      still = watchers_.contains(id);
    }
    if (still) (*callback)(set);
  }
}

Discovery::WatchId InMemoryDirectory::Watch(std::string service, Callback callback) {
  std::lock_guard delivery(delivery_);
  WatchId id = 0;
  auto shared = std::make_shared<Callback>(std::move(callback));
  {
    std::lock_guard lock(mutex_);
    id = next_watch_++;
    watchers_.emplace(id, std::make_pair(service, shared));
  }
  (*shared)(Instances(service));
  return id;
}

void InMemoryDirectory::Unwatch(WatchId id) {
  std::lock_guard delivery(delivery_);
  std::lock_guard lock(mutex_);
  watchers_.erase(id);
}

InstanceSet InMemoryDirectory::Instances(std::string_view service) const {
  std::lock_guard lock(mutex_);
  InstanceSet set;
  const auto it = services_.find(service);
  if (it == services_.end()) return set;
  for (const auto& [id, entry] : it->second) set.push_back(entry.instance);
  return set;
}

}  // namespace rocketmart::discovery
