#include "infra/discovery/etcd/etcd_discovery.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace rocketmart::discovery::etcd {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

const bj::object* ObjectField(const bj::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

const bj::array* ArrayField(const bj::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_array() ? &value->as_array() : nullptr;
}

bool BoolField(const bj::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_bool() && value->as_bool();
}

std::string StringField(const bj::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

// The key and value of a kv object, base64-decoded; nullopt when the key is not base64.
struct KeyValue {
  std::string key;
  std::optional<std::string> value;  // nullopt: not base64
};
std::optional<KeyValue> DecodeKv(const bj::object& kv) {
  auto key = Base64Decode(StringField(kv, "key"));
  if (!key) return std::nullopt;
  return KeyValue{std::move(*key), Base64Decode(StringField(kv, "value"))};
}

}  // namespace

struct EtcdDiscovery::Watcher {
  std::string service;
  Callback callback;
  std::recursive_mutex mutex;  // held while calling back; Unwatch and Close take it
  bool active = true;          // under `mutex`
  bool delivered = false;      // strand only
  InstanceSet last;            // strand only
};

Result<std::shared_ptr<EtcdDiscovery>> EtcdDiscovery::Create(asio::any_io_executor executor,
                                                             EtcdOptions options) {
  if (auto valid = ValidateOptions(options); !valid) return valid.error();
  return std::shared_ptr<EtcdDiscovery>(new EtcdDiscovery(std::move(executor), std::move(options)));
}

EtcdDiscovery::EtcdDiscovery(asio::any_io_executor executor, EtcdOptions options)
    : strand_(asio::make_strand(std::move(executor))),  // converted once (Strand)
      options_(std::move(options)),
      range_end_(PrefixRangeEnd(options_.root)),
      client_(strand_, options_),
      wake_(strand_),
      probe_timer_(strand_),
      backoff_(options_.backoff_initial, options_.backoff_max) {}

void EtcdDiscovery::Start() {
  if (started_.exchange(true)) return;
  asio::co_spawn(strand_, Run(), asio::detached);
}

void EtcdDiscovery::Close() {
  stopped_.store(true);
  std::vector<std::shared_ptr<Watcher>> watchers;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, watcher] : watchers_) watchers.push_back(watcher);
  }
  for (const auto& watcher : watchers) {
    std::lock_guard lock(watcher->mutex);
    watcher->active = false;
  }
  asio::dispatch(strand_, [self = shared_from_this()] {
    self->wake_.cancel();
    self->probe_timer_.cancel();
    self->client_.Close();
  });
}

Discovery::WatchId EtcdDiscovery::Watch(std::string service, Callback callback) {
  auto watcher = std::make_shared<Watcher>();
  watcher->service = std::move(service);
  watcher->callback = std::move(callback);
  WatchId id = 0;
  {
    std::lock_guard lock(mutex_);
    id = next_watch_++;
    watchers_.emplace(id, watcher);
  }
  asio::post(strand_, [self = shared_from_this(), watcher] {
    if (!self->synced_) return;  // the first range delivers it
    const auto it = self->services_.find(watcher->service);
    InstanceSet set;
    if (it != self->services_.end()) {
      for (const auto& [instance_id, instance] : it->second) set.push_back(instance);
    }
    self->Deliver(watcher, set);
  });
  return id;
}

void EtcdDiscovery::Unwatch(WatchId id) {
  std::shared_ptr<Watcher> watcher;
  {
    std::lock_guard lock(mutex_);
    const auto it = watchers_.find(id);
    if (it == watchers_.end()) return;
    watcher = it->second;
    watchers_.erase(it);
  }
  std::lock_guard lock(watcher->mutex);  // waits for a call in progress on another thread
  watcher->active = false;
}

InstanceSet EtcdDiscovery::Instances(std::string_view service) const {
  std::lock_guard lock(mutex_);
  const auto it = published_.find(service);
  return it == published_.end() ? InstanceSet{} : it->second;
}

void EtcdDiscovery::Deliver(const std::shared_ptr<Watcher>& watcher, const InstanceSet& set) {
  if (watcher->delivered && watcher->last == set) return;
  watcher->delivered = true;
  watcher->last = set;
  std::lock_guard lock(watcher->mutex);
  if (!watcher->active || stopped_.load()) return;
  try {
    watcher->callback(set);
  } catch (const std::exception& e) {
    spdlog::error("discovery: a watcher of {} threw: {}", watcher->service, e.what());
  }
}

void EtcdDiscovery::Publish(const std::set<std::string>& changed) {
  std::vector<std::pair<std::shared_ptr<Watcher>, InstanceSet>> deliveries;
  {
    std::lock_guard lock(mutex_);
    for (const auto& service : changed) {
      const auto it = services_.find(service);
      if (it == services_.end() || it->second.empty()) {
        published_.erase(service);
        continue;
      }
      InstanceSet set;
      set.reserve(it->second.size());
      for (const auto& [id, instance] : it->second) set.push_back(instance);
      published_[service] = std::move(set);
    }
    for (const auto& [id, watcher] : watchers_) {
      const auto it = published_.find(watcher->service);
      deliveries.emplace_back(watcher, it == published_.end() ? InstanceSet{} : it->second);
    }
  }
  for (const auto& [watcher, set] : deliveries) Deliver(watcher, set);
}

asio::awaitable<void> EtcdDiscovery::Sleep(asio::steady_timer& timer, Millis delay) {
  if (stopped_.load()) co_return;
  timer.expires_after(delay);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

asio::awaitable<void> EtcdDiscovery::Run() {
  const auto self = shared_from_this();  // alive while the loop runs
  while (!stopped_.load()) {
    auto ranged = co_await RangeAll();
    if (stopped_.load()) break;
    if (!ranged) {
      if (!failing_) {
        spdlog::warn(
            "discovery: etcd {} cannot be read ({}); keeping the last known instances, "
            "retrying with backoff",
            options_.endpoint, ranged.error().message);
      }
      failing_ = true;
      co_await Sleep(wake_, backoff_.Next());
      continue;
    }
    if (failing_) spdlog::info("discovery: etcd {} answers again", options_.endpoint);
    failing_ = false;
    const std::int64_t from = revision_ + 1;
    auto watched = co_await WatchFrom(from);
    watching_.store(false);
    ++generation_;
    probe_timer_.cancel();
    if (stopped_.load()) break;
    spdlog::info("discovery: the etcd watch ended ({}); reading {} again",
                 watched ? "stopped" : watched.error().message, options_.root);
    co_await Sleep(wake_, backoff_.Next());
  }
}

asio::awaitable<Result<void>> EtcdDiscovery::RangeAll() {
  bj::object request;
  request["key"] = Base64Encode(options_.root);
  request["range_end"] = Base64Encode(range_end_);
  const std::string body = bj::serialize(request);
  auto answer = co_await client_.Call("/v3/kv/range", body);
  if (!answer) co_return answer.error();
  if (answer->code != kGrpcOk) {
    co_return MakeError(Errc::kUnavailable, "etcd: range: " + answer->message);
  }
  const auto* header = ObjectField(answer->body, "header");
  const auto revision = header ? Int64Field(*header, "revision") : std::nullopt;
  if (!revision) co_return MakeError(Errc::kUnavailable, "etcd: range: no revision");
  Services fresh;
  if (const auto* kvs = ArrayField(answer->body, "kvs")) {
    for (const auto& item : *kvs) {
      if (!item.is_object()) continue;
      const auto kv = DecodeKv(item.as_object());
      if (!kv || !kv->value) {
        spdlog::warn("discovery: skipped an etcd entry under {} that is not base64", options_.root);
        continue;
      }
      auto instance = DecodeInstance(options_.root, kv->key, *kv->value);
      if (!instance) {
        spdlog::warn("discovery: skipped etcd key {}: {}", kv->key, instance.error().message);
        continue;
      }
      std::string service = instance->service;
      std::string id = instance->id;
      fresh[service][id] = std::move(*instance);
    }
  }
  std::set<std::string> changed;
  for (const auto& [service, instances] : services_) changed.insert(service);
  for (const auto& [service, instances] : fresh) changed.insert(service);
  services_ = std::move(fresh);
  revision_ = *revision;
  synced_ = true;
  ranges_.fetch_add(1);
  Publish(changed);
  co_return Result<void>{};
}

std::optional<std::string> EtcdDiscovery::Apply(const bj::object& event) {
  const auto* kv_object = ObjectField(event, "kv");
  if (kv_object == nullptr) return std::nullopt;
  if (const auto modified = Int64Field(*kv_object, "mod_revision")) {
    revision_ = std::max(revision_, *modified);
  }
  const auto kv = DecodeKv(*kv_object);
  if (!kv) {
    spdlog::warn("discovery: skipped an etcd event under {} whose key is not base64",
                 options_.root);
    return std::nullopt;
  }
  auto parts = ParseInstanceKey(options_.root, kv->key);
  if (!parts) {
    spdlog::warn("discovery: skipped etcd key {}: {}", kv->key, parts.error().message);
    return std::nullopt;
  }
  const bool deleted = StringField(event, "type") == "DELETE";
  auto& instances = services_[parts->service];
  if (!deleted) {
    auto instance = kv->value ? DecodeInstance(options_.root, kv->key, *kv->value)
                              : Result<Instance>(MakeError(Errc::kValidationFailed, "not base64"));
    if (instance) {
      instances[parts->id] = std::move(*instance);
      return parts->service;
    }
    spdlog::warn("discovery: skipped etcd key {}: {}", kv->key, instance.error().message);
  }
  // A deletion, or a value that no longer describes an instance: the instance is gone.
  const bool erased = instances.erase(parts->id) > 0;
  if (instances.empty()) services_.erase(parts->service);
  return erased ? std::optional<std::string>(parts->service) : std::nullopt;
}

asio::awaitable<Result<void>> EtcdDiscovery::WatchFrom(std::int64_t revision) {
  bj::object create;
  create["key"] = Base64Encode(options_.root);
  create["range_end"] = Base64Encode(range_end_);
  create["start_revision"] = std::to_string(revision);
  bj::object request;
  request["create_request"] = std::move(create);
  const std::uint64_t generation = ++generation_;
  auto on_message = [this, generation](GatewayReply reply) {
    if (stopped_.load()) return false;
    if (reply.code != kGrpcOk) {
      spdlog::warn("discovery: the etcd watch failed: {}", reply.message);
      return false;
    }
    if (BoolField(reply.body, "canceled")) {
      // A compacted start revision (compact_revision) or a server-side cancel: range again.
      spdlog::info("discovery: etcd cancelled the watch (compact revision {}): {}",
                   Int64Field(reply.body, "compact_revision").value_or(0),
                   StringField(reply.body, "cancel_reason"));
      return false;
    }
    if (BoolField(reply.body, "created")) {
      watching_.store(true);
      backoff_.Reset();
      asio::co_spawn(strand_, Probe(generation), asio::detached);
    }
    std::set<std::string> changed;
    if (const auto* events = ArrayField(reply.body, "events")) {
      for (const auto& event : *events) {
        if (!event.is_object()) continue;
        if (auto service = Apply(event.as_object())) changed.insert(std::move(*service));
      }
    }
    if (const auto* header = ObjectField(reply.body, "header")) {
      revision_ = std::max(revision_, Int64Field(*header, "revision").value_or(0));
    }
    if (!changed.empty()) Publish(changed);
    return true;
  };
  const std::string body = bj::serialize(request);
  co_return co_await client_.Stream("/v3/watch", body, std::move(on_message));
}

asio::awaitable<void> EtcdDiscovery::Probe(std::uint64_t generation) {
  const auto self = shared_from_this();
  bj::object request;
  request["key"] = Base64Encode(options_.root);
  request["range_end"] = Base64Encode(range_end_);
  request["count_only"] = true;
  const std::string body = bj::serialize(request);
  int failures = 0;
  while (!stopped_.load() && generation == generation_) {
    co_await Sleep(probe_timer_, options_.watch_probe_interval);
    if (stopped_.load() || generation != generation_) break;
    auto answer = co_await client_.Call("/v3/kv/range", body);
    if (stopped_.load() || generation != generation_) break;
    failures = answer && answer->code == kGrpcOk ? 0 : failures + 1;
    if (failures >= 2) {
      spdlog::warn("discovery: etcd {} stopped answering while the watch was open; cutting it",
                   options_.endpoint);
      client_.CloseStreams();
      break;
    }
  }
}

}  // namespace rocketmart::discovery::etcd
