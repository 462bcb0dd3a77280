#include "app/cluster_link.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "core/thread_name.hpp"
#include "infra/async/run.hpp"

namespace rocketmart::app {

std::string AdvertisedHost(const config::Config& config) {
  if (!config.discovery.advertise_host.empty()) return config.discovery.advertise_host;
  const std::string& host = config.server.host;
  if (host == "0.0.0.0" || host == "::" || host == "[::]" || host.empty()) return "127.0.0.1";
  return host;
}

namespace {

discovery::etcd::EtcdOptions EtcdOptionsFrom(const config::Config& config) {
  discovery::etcd::EtcdOptions options;
  options.endpoint = config.discovery.etcd_url;
  // ADR 0043: a 2 s lease kept alive every TTL/3, so a killed instance's key goes within ~2 s
  // (etcd checks expiry every 500 ms): out of its peers' rotation within the 3 s of issue 15.
  options.lease_ttl = std::chrono::seconds(2);
  return options;
}

}  // namespace

ClusterLink::ClusterLink(const config::Config& config, const Clock& clock,
                         metrics::Registry& metrics, auth::Keyring internal_keys)
    : config_(config),
      clock_(clock),
      metrics_(metrics),
      internal_keys_(std::move(internal_keys)),
      work_(io_.get_executor()) {
  if (config.discovery.etcd_url.empty()) {
    throw std::runtime_error(
        "services run apart find each other through etcd: set discovery.etcd_url "
        "(ROCKETMART_DISCOVERY_ETCD_URL), e.g. http://127.0.0.1:2379");
  }
  auto found = discovery::etcd::EtcdDiscovery::Create(io_.get_executor(), EtcdOptionsFrom(config));
  if (!found.ok()) throw std::runtime_error("discovery.etcd_url: " + found.error().message);
  discovery_ = std::move(*found);
  auto registry =
      discovery::etcd::EtcdServiceRegistry::Create(io_.get_executor(), EtcdOptionsFrom(config));
  if (!registry.ok()) throw std::runtime_error("discovery.etcd_url: " + registry.error().message);
  registry_ = std::move(*registry);
  thread_ = std::thread([this] {
    NameThisThread("discovery");
    io_.run();
  });
  discovery_->Start();
}

ClusterLink::~ClusterLink() {
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, peer] : peers_) discovery_->Unwatch(peer.watch);
  }
  registry_->Close();
  discovery_->Close();
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
  registry_.reset();
  discovery_.reset();
}

http::client::Client& ClusterLink::Client(const std::string& service) {
  return Peer(service).client();
}

void ClusterLink::DropIdleConnections() {
  std::lock_guard lock(mutex_);
  for (auto& [service, peer] : peers_) peer.client->DropIdleConnections();
}

void ClusterLink::DropIdleConnectionsOfThisLoop(
    const std::vector<boost::asio::io_context::executor_type>& loops) {
  for (const auto& loop : loops) {
    if (!loop.running_in_this_thread()) continue;
    std::lock_guard lock(mutex_);
    for (auto& [service, peer] : peers_) peer.client->DropIdleConnectionsOf(&loop.context());
  }
}

http::client::PeerCaller& ClusterLink::Peer(const std::string& service) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(service);
  if (it != peers_.end()) return *it->second.caller;
  PeerState& peer = peers_[service];
  http::client::ClientOptions options;
  options.peer = service;
  // A call that gives no deadline of its own (most ports carry none) gets the server's request
  // budget at most: the request that made it is answered by then anyway.
  options.default_timeout =
      std::chrono::milliseconds(std::min(config_.server.request_timeout_ms, 5000));
  options.max_connections_per_loop = static_cast<std::size_t>(config_.peers.connections_per_loop);
  options.idle_timeout = std::chrono::milliseconds(config_.peers.idle_timeout_ms);
  options.max_outstanding = static_cast<std::size_t>(config_.peers.max_in_flight);
  options.min_attempt_for_ejection =
      std::chrono::milliseconds(config_.peers.min_attempt_for_ejection_ms);
  peer.client = std::make_unique<http::client::Client>(options, clock_, metrics_);
  peer.caller = std::make_unique<http::client::PeerCaller>(*peer.client, internal_keys_, clock_);
  http::client::Client* client = peer.client.get();
  peer.watch = discovery_->Watch(service, [client, service](const discovery::InstanceSet& set) {
    std::vector<http::client::Endpoint> endpoints;
    endpoints.reserve(set.size());
    for (const discovery::Instance& i : set) endpoints.push_back({i.id, i.host, i.port});
    spdlog::info("discovery: {} has {} instance(s)", service, endpoints.size());
    client->endpoints().Update(std::move(endpoints));
  });
  metrics_.AddGauge("discovery_instances", "Instances of a peer service discovery knows now",
                    "service=\"" + service + "\"", [d = discovery_.get(), service] {
                      return static_cast<double>(d->Instances(service).size());
                    });
  return *peer.caller;
}

std::size_t ClusterLink::Instances(const std::string& service) const {
  return discovery_->Instances(service).size();
}

std::vector<http::client::Endpoint> ClusterLink::Endpoints(const std::string& service) const {
  std::vector<http::client::Endpoint> endpoints;
  for (const discovery::Instance& i : discovery_->Instances(service)) {
    endpoints.push_back({i.id, i.host, i.port});
  }
  return endpoints;
}

void ClusterLink::Register(const std::string& service, std::uint16_t port) {
  discovery::Instance instance;
  instance.service = service;
  instance.host = AdvertisedHost(config_);
  instance.port = port;
  instance.id = instance.host + ":" + std::to_string(port);
  if (auto st = registry_->Register(instance); !st.ok()) {
    throw std::runtime_error("cannot register in etcd: " + st.error().message);
  }
  spdlog::info("discovery: registering {} instance {} in etcd", service, instance.id);
}

void ClusterLink::Deregister() {
  auto st = async::RunToCompletion(registry_->Deregister());
  if (!st.ok()) {
    spdlog::warn("discovery: could not deregister ({}); the lease runs out within its TTL",
                 st.error().message);
  } else {
    spdlog::info("discovery: deregistered");
  }
}

}  // namespace rocketmart::app
