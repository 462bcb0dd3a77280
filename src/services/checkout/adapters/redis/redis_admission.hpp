// Admission in Redis (issue 14): the counters every checkout instance admits against, one Lua
// script per call, so a purchase is one round trip and one atomic step on the server for all its
// lines (docs/redis.md "Admission"). The port's promise (ports/admission.hpp) holds across
// instances; Redis is a filter, the database decides (HoldStore's guarded UPDATEs).
//
// Keys, under `<prefix>adm:`:
//   epoch          "<run_id>:<random>": the server run and rebuild that made the counters valid.
//   p:<product>    hash a (available), g (generation: bumped by every admit and give-back),
//                  e (the epoch the counters belong to). Valid only while e == epoch.
//   m:<product>    hash member -> units held or paid.
//   f:<product>    hash instance -> "count:seq:deadline": each instance's admissions in flight.
//   returns        hash instance -> "count:seq:deadline": each instance's returns in flight.
//   rgen           the return generation (bumped by every BeginReturn and Return).
//   keys           set of "<member>:<key>": Idempotency-Keys that may have a durable record.
//   done:<id>      a give-back already applied (Withdraw, Return), kept 10 minutes.
//
// In flight: each instance counts its own admissions in flight per product (and its returns) in
// memory, and every script that changes the count writes the instance's absolute count with a
// sequence number (an older write never overwrites a newer one) and a deadline. A count whose
// deadline passed is an instance that died (or a notification lost for long): ignored and pruned,
// so a crashed instance cannot block rebuilds. Settle/Withdraw are therefore idempotent, and the
// give-backs (Withdraw, Return) carry an id of their own: a retried notification is applied once.
//
// Epoch and fencing: every admitting script answers "unavailable" when the epoch key is missing
// (a server restarted without AOF, FLUSHALL) or the product's counters belong to another epoch;
// Admit then answers Errc::kUnavailable (503 + Retry-After) until the reconciler rebuilt the
// product. BeginRebuild also compares the epoch with the server's run_id: a server restarted from
// its AOF (which may lack the last second of writes) invalidates every product the same way. A
// rebuild replaces a product's counters only if its generation, the return generation and the
// in-flight counts say nothing moved since its token (a valid product), or the product is still
// invalid (the first rebuild after a loss wins; a stale rebuilder's token no longer matches).
// The difference between the old counters and the snapshot (drift) is logged and counted.
//
// Redis down: Admit answers kUnavailable within the client's deadline (1 s; at once while it backs
// off), never admits without the filter. Notifications are sent without waiting and retried a few
// times; one that is lost leaves a drift the next rebuild repairs.
//
// Sold out from memory: once a reply showed a product's counter at 0 or below, an Admit whose first
// line is that product answers kSoldOut without a round trip for options.sold_out_recheck. The
// script answers sold out before anything else of a line, so the answer is the one it would give
// for the state it last saw; a give-back on another instance is admitted here after at most that
// while (or at the next reply or 500 ms refresh that shows stock), one of this instance's own at
// once.
//
// Counter(id).Available() is the last value a script reply showed this instance (for display).
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/redis/client.hpp"
#include "services/checkout/ports/admission.hpp"

namespace rocketmart::checkout {

struct RedisAdmissionOptions {
  std::string prefix = "rocketmart:";  // namespaces every key (a test's own prefix in tests)
  // How long an instance's in-flight count stands without being written again.
  std::chrono::milliseconds in_flight_deadline{30'000};
  int notify_attempts = 4;  // sends of one notification before it is given up (counted)
  std::chrono::milliseconds notify_retry{100};  // first pause between sends; doubles
  // How long a product the counters showed sold out is answered "sold out" from memory, without
  // a round trip (docs/adr/0047); 0: every attempt asks Redis. Units given back by this instance
  // end it at once, and so does any reply or refresh that shows stock.
  std::chrono::milliseconds sold_out_recheck{100};
  const Clock* clock = nullptr;  // nullptr: the system clock
};

class RedisAdmission final : public Admission {
 public:
  RedisAdmission(redis::Client& client, metrics::Registry& metrics,
                 RedisAdmissionOptions options = {});
  ~RedisAdmission() override;

  // Once at start, before the service's Load(): makes the epoch valid for this server run (kept
  // when it is; a new one when it is missing or the server restarted since: every product then
  // waits for its rebuild, which Load() does). kUnavailable when Redis cannot be reached.
  boost::asio::awaitable<Status> Start();

  ProductCounter& Counter(std::int64_t product_id) override;
  bool SharedByInstances() const override { return true; }
  boost::asio::awaitable<bool> KeyUsed(std::int64_t member_id, std::string_view key) override;
  // With a RedisIdempotencyGate on the same client: one script reads the claim, then the key.
  boost::asio::awaitable<bool> KeyHeldOrUsed(std::int64_t member_id, const std::string& key,
                                             IdempotencyGate& gate) override;
  bool SoldOutInMemory(ProductCounter& counter) override;
  std::chrono::microseconds SoldOutMarkLeft(ProductCounter& counter) override;
  boost::asio::awaitable<AdmitAnswer> Admit(std::int64_t member_id,
                                            std::span<const AdmissionLine> lines,
                                            std::string_view key) override;
  void Settle(std::span<const AdmissionLine> lines) override;
  void Withdraw(std::int64_t member_id, std::span<const AdmissionLine> lines,
                std::string_view key) override;
  void BeginReturn() override;
  void Return(std::int64_t member_id, std::span<const AdmissionLine> lines) override;
  void EndReturn() override;
  boost::asio::awaitable<bool> ClaimKey(std::int64_t member_id, std::string_view key) override;
  void ReleaseKey(std::int64_t member_id, std::string_view key) override;
  void ForgetKeys(std::span<const IdempotencyKeyRef> keys) override;
  void KeepKey(std::int64_t member_id, std::string_view key) override;
  boost::asio::awaitable<std::optional<RebuildToken>> BeginRebuild(
      ProductCounter& counter) override;
  boost::asio::awaitable<bool> FinishRebuild(ProductCounter& counter, RebuildToken token,
                                             const StockSnapshot& snapshot) override;

  // Reads the stock counter of every product this instance has a handle for (one script per 512
  // products), so Available() shows what other instances did since this one last called Redis:
  // the display refresh the checkout module runs every 500 ms. Answers how many values changed.
  boost::asio::awaitable<std::size_t> RefreshAvailable();

  // This instance's name in the in-flight hashes.
  const std::string& instance() const;
  // Notifications not sent yet or being retried; and those given up.
  std::int64_t notifications_pending() const;
  std::uint64_t notifications_lost() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace rocketmart::checkout
