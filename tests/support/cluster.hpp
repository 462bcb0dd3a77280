// A local cluster for end-to-end tests (issue 15, docs/cluster.md): a real etcd (LocalEtcd), Redis
// (LocalRedis) and PostgreSQL (SharedLocalPostgres: one fresh database per service, shared by the
// service's instances) started here, then the real binary as `serve --service gateway` (one or
// more) and `serve --service members|catalog|checkout|orders` (as many instances as asked), each on
// port 0 with a data directory of its own under one folder. The constructor returns once every
// gateway's discovery lists every instance. The destructor stops everything (SIGTERM, then
// SIGKILL) and removes the folder.
//
//   Cluster cluster({.instances = {{"checkout", 2}}});
//   HttpClient c(cluster.gateway_port());
//   c.PostJson("/payment/request", ..., cluster.Token(7));
//
// Processes keep their log in <folder>/<name>.log when ROCKETMART_E2E_SERVER_LOGS is set (printed
// by a failing test's Describe()). The e2e scenarios can run against it: what they need is a
// gateway port, tokens, and the members' mail folder.
//
// Not thread-safe: one test thread drives it (HttpClients per thread against its ports are fine).
// Call it from the test's main thread (the servers it starts die with that thread, see LocalEtcd).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/local_etcd.hpp"
#include "support/local_redis.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::testing {

struct ClusterOptions {
  // Instances per service; a service not named gets 1. Gateways: `gateways`.
  std::map<std::string, int> instances;
  int gateways = 1;
  // More ROCKETMART_* variables for every process (e.g. checkout's decline rate).
  std::map<std::string, std::string> env;
  // More command-line arguments for every process, and the demo seed (ServerOptions).
  std::vector<std::string> extra_args;
  bool seed_demo = false;
  // Non-empty: every process appends its log (stderr) to this one file.
  std::filesystem::path log_file;
  // The folder the processes' data directories go in; empty = a temporary one, removed after.
  std::filesystem::path dir;
};

// The cluster the e2e scenarios run on with ROCKETMART_TEST_TOPOLOGY=cluster (ServerProcess):
// one instance of each service unless ROCKETMART_TEST_CLUSTER says otherwise, e.g.
// "checkout=2,orders=2,gateways=2".
ClusterOptions ScenarioClusterOptions();

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::uint16_t gateway_port(std::size_t i = 0) const { return gateways_.at(i)->port(); }
  std::size_t gateway_count() const { return gateways_.size(); }
  ServerProcess& gateway(std::size_t i = 0) { return *gateways_.at(i); }
  // Instance `i` of `service` ("members", "catalog", "checkout", "orders").
  ServerProcess& instance(const std::string& service, std::size_t i = 0) {
    return *instances_.at(service).at(i);
  }
  const ServerProcess& instance(const std::string& service, std::size_t i = 0) const {
    return *instances_.at(service).at(i);
  }
  std::size_t instance_count(const std::string& service) const {
    return instances_.at(service).size();
  }
  // Starts one more instance of `service` and returns it once it listens.
  ServerProcess& AddInstance(const std::string& service);

  // Every process: SIGTERM (services first, then gateways); the first non-zero exit status, or 0.
  int TerminateAll(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Every process: SIGKILL, as a crash of the whole application tier would.
  void KillAll();
  // Starts every process again on its data directory (services first, the gateways on their
  // ports again) and returns once every gateway sees every instance. etcd, Redis and PostgreSQL
  // stay up.
  void RestartAll();

  const std::filesystem::path& dir() const { return dir_; }
  LocalEtcd& etcd() { return *etcd_; }
  LocalRedis& redis() { return *redis_; }
  // Where the (first) members instance writes its mails (.eml files).
  std::filesystem::path mail_dir() const;
  // The environment every process of the cluster gets (keys, URLs, databases).
  const std::map<std::string, std::string>& env() const { return env_; }
  // The name of `service`'s database on SharedLocalPostgres() ("checkout", "orders", ...).
  std::string DatabaseName(const std::string& service) const;

  // An access token for synthetic identity `n` signed with the cluster's member key.
  std::string Token(std::int64_t n, bool admin = false, bool verified = true) const;
  // An internal identity for member id `member_id`, as the gateway would sign it `age` ago.
  std::string InternalIdentity(std::int64_t member_id, bool admin = false,
                               std::chrono::seconds age = std::chrono::seconds(0)) const;

  // The number a gateway's discovery knows of `service` now (its /metrics), -1 if unreadable.
  int KnownInstances(std::size_t gateway, const std::string& service) const;
  // Waits until every gateway knows `count` instances of `service`; false after `timeout`.
  bool WaitForInstances(const std::string& service, int count,
                        std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;

 private:
  std::unique_ptr<ServerProcess> Start(const std::string& service);
  std::unique_ptr<ServerProcess> Start(const std::string& service, int n);  // data dir <service>-n
  void WaitForAll() const;
  // Runs `action` on every service instance side by side (each on a thread of its own).
  void ForEachInstance(const std::function<void(ServerProcess&)>& action);

  ClusterOptions options_;
  std::optional<TempDir> own_dir_;  // when options_.dir is empty
  std::filesystem::path dir_;
  std::unique_ptr<LocalEtcd> etcd_;
  std::unique_ptr<LocalRedis> redis_;
  std::map<std::string, std::string> env_;
  std::map<std::string, int> started_;  // per service, to name data directories
  std::vector<std::unique_ptr<ServerProcess>> gateways_;
  std::map<std::string, std::vector<std::unique_ptr<ServerProcess>>> instances_;
};

// The services a cluster runs besides its gateways, in the order they start.
inline const std::vector<std::string> kClusterServices = {"members", "catalog", "checkout",
                                                          "orders"};

}  // namespace rocketmart::testing
