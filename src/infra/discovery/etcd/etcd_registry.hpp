// ServiceRegistry on etcd v3 (docs/adr/0043-discovery-etcd.md): the instances this process
// registers are put under one lease (TTL EtcdOptions::lease_ttl, ≤ 3 s) that is kept alive every
// TTL/3. When etcd says the lease is gone (it expired while etcd was unreachable, or etcd revoked
// it: etcd #15247), a new lease is granted and every instance put again. While etcd cannot be
// reached, every step is retried after a jittered backoff (50 ms .. 2 s by default); nothing
// waits on the caller's side. Deregister() revokes the lease: the keys go at once.
//
// Runs on a strand of the executor it is given; Register, Deregister and Close may be called
// from any thread. Lifetime: create with Create() (shared: its coroutines keep it alive), and
// call Close() (after Deregister(), or alone when the process is going away anyway) before the
// executor stops; drop the last reference before its io_context is destroyed (its timer and
// sockets belong to it).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "infra/discovery/backoff.hpp"
#include "infra/discovery/etcd/gateway_client.hpp"
#include "infra/discovery/service_registry.hpp"

namespace rocketmart::discovery::etcd {

class EtcdServiceRegistry final : public ServiceRegistry,
                                  public std::enable_shared_from_this<EtcdServiceRegistry> {
 public:
  // Errc::kValidationFailed for options that cannot work (ValidateOptions).
  static Result<std::shared_ptr<EtcdServiceRegistry>> Create(boost::asio::any_io_executor executor,
                                                             EtcdOptions options);

  Result<void> Register(Instance instance) override;
  boost::asio::awaitable<Result<void>> Deregister() override;
  // Stops keeping anything listed without revoking (the lease runs out). Any thread; idempotent.
  void Close();

  // For metrics and tests: the current lease (0: none), how many leases were granted so far,
  // and whether every registered instance is in etcd under the current lease as far as this
  // registry knows.
  std::int64_t lease_id() const { return lease_id_.load(); }
  std::uint64_t grants() const { return grants_.load(); }
  // Keep-alives etcd accepted so far (one every third of the lease's TTL).
  std::uint64_t keepalives() const { return keepalives_.load(); }
  bool listed() const { return listed_.load(); }

 private:
  EtcdServiceRegistry(boost::asio::any_io_executor executor, EtcdOptions options);

  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<Result<void>> DoDeregister();
  boost::asio::awaitable<void> Sleep(Millis delay);
  void LoseLease(const char* why);
  void NoteFailure(const Error& error);
  void NoteSuccess();

  using Strand = GatewayClient::Strand;
  Strand strand_;
  const EtcdOptions options_;
  GatewayClient client_;
  boost::asio::steady_timer wake_;
  Backoff backoff_;

  // Strand-only state.
  std::map<std::string, std::string> values_;  // key -> JSON value, every registered instance
  std::set<std::string> pending_;              // keys not yet put under the current lease
  std::int64_t lease_ = 0;
  std::chrono::steady_clock::time_point next_keepalive_{};
  bool running_ = false;
  bool failing_ = false;  // a failure was logged; the next success is logged too

  std::atomic<bool> stopped_{false};
  std::atomic<std::int64_t> lease_id_{0};
  std::atomic<std::uint64_t> grants_{0};
  std::atomic<std::uint64_t> keepalives_{0};
  std::atomic<bool> listed_{false};
};

}  // namespace rocketmart::discovery::etcd
