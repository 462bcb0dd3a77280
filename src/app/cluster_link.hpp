// What a process of a cluster (`rocketmart serve --service <name>`, issue 15) shares with the
// others: etcd discovery and registration on a thread of their own ("discovery"), one HTTP client
// per peer service fed by discovery (infra/http/client, ADR 0044), and the PeerCallers that sign
// the internal identity for the client bindings. Used by the service root and the gateway root.
//
// Lifetime: construct (connects nothing yet: etcd is reached in the background), Peer() for each
// service the process calls, Register() once the process serves, Deregister() on SIGTERM before
// the drain. Destroy after the server's loops stopped (the clients' connections belong to them).
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/discovery/etcd/etcd_discovery.hpp"
#include "infra/discovery/etcd/etcd_registry.hpp"
#include "infra/http/client/client.hpp"
#include "infra/http/client/peer_call.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::app {

// The four services a process may run apart besides the gateway, and their names on the command
// line, in etcd and in the metrics' `peer` label.
inline constexpr std::string_view kServiceNames[] = {"members", "catalog", "checkout", "orders"};

class ClusterLink {
 public:
  // Throws std::runtime_error when discovery.etcd_url is unset or unusable.
  ClusterLink(const config::Config& config, const Clock& clock, metrics::Registry& metrics,
              auth::Keyring internal_keys);
  ~ClusterLink();
  ClusterLink(const ClusterLink&) = delete;
  ClusterLink& operator=(const ClusterLink&) = delete;

  // Closes every client's idle pooled connections: after the server's Run() returned, before the
  // server (whose loops they belong to) is destroyed.
  void DropIdleConnections();
  // Those of the one of `loops` the calling thread runs, as that loop drains
  // (http::Server::OnLoopDrained): their idle timers would hold it until the grace period ends.
  void DropIdleConnectionsOfThisLoop(
      const std::vector<boost::asio::io_context::executor_type>& loops);
  // The client of `service` (made on first use; its endpoints follow etcd from then on).
  http::client::Client& Client(const std::string& service);
  // A caller of `service` signing the internal identity (for the client bindings).
  http::client::PeerCaller& Peer(const std::string& service);
  // The instances discovery knows of `service` now.
  std::size_t Instances(const std::string& service) const;
  std::vector<http::client::Endpoint> Endpoints(const std::string& service) const;

  // Lists this process as an instance of `service` at `port` (discovery.advertise_host, else
  // server.host, 127.0.0.1 for a wildcard host), kept alive under a lease (ADR 0043).
  void Register(const std::string& service, std::uint16_t port);
  // Takes it out of etcd first (peers stop choosing it), bounded by the etcd call timeout; then
  // the caller drains. Blocks the caller (not a server thread).
  void Deregister();

  const auth::Keyring& internal_keys() const { return internal_keys_; }
  boost::asio::io_context& io() { return io_; }

 private:
  struct PeerState {
    std::unique_ptr<http::client::Client> client;
    std::unique_ptr<http::client::PeerCaller> caller;
    discovery::Discovery::WatchId watch = 0;
  };

  const config::Config& config_;
  const Clock& clock_;
  metrics::Registry& metrics_;
  const auth::Keyring internal_keys_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::shared_ptr<discovery::etcd::EtcdDiscovery> discovery_;
  std::shared_ptr<discovery::etcd::EtcdServiceRegistry> registry_;
  mutable std::mutex mutex_;
  std::map<std::string, PeerState, std::less<>> peers_;
};

// The host a peer reaches this process at: discovery.advertise_host, else server.host (127.0.0.1
// for a wildcard address).
std::string AdvertisedHost(const config::Config& config);

}  // namespace rocketmart::app
