// Port: admission — the fast filter in front of the durable hold (architecture brief §2.3). Per
// product a stock counter, per product and member the units held or paid, and the Idempotency-Keys
// that may have a durable record. Embedded, one in-memory adapter (adapters/in_memory_admission);
// with several checkout instances, one shared adapter (a Redis script: the same calls, one round
// trip each), so every instance admits against the same counters and sees the same keys.
//
// Admission is a filter, not the truth: HoldStore's guarded UPDATEs decide, and a purchase the
// database refuses gives its admission back. What the filter promises:
//  - Admit is one atomic step for all lines of a purchase: per line, in line order, stock > 0
//    (else sold out), the member's units + q within the line's limit, then stock >= q; decremented
//    together; all lines or none. Parallel callers, on any number of instances, are never admitted
//    past the stock nor past a member's limit.
//  - A refusal changes nothing. A refusal costs no I/O in the in-memory adapter. A shared adapter
//    answers "sold out" from memory for a short while after the shared counters showed the first
//    line's product sold out (docs/adr/0047): units given back on another instance are admitted
//    here once that while is over (or sooner, when this instance sees the counters again); units
//    given back here are admitted at once.
//  - Keys: a key is "used" from the moment a request with it is admitted (or claims it, paying a
//    hold) until it is released (the request left no record) or forgotten (with its record).
//    KeyUsed tells whether a member's key may have a durable record: if not, the caller need not
//    read one. Admitting with a key records it, before any effect can exist; if it was recorded
//    meanwhile (a retry on another instance), nothing is admitted and key_used answers.
//  - In flight: admitted units are "in flight" until Settle (the hold committed) or Withdraw (it
//    did not, or was released before Settle). Units the database gives back (a release, an
//    expiry, a refund, a restock, a product's first stock) are returned between BeginReturn,
//    called before the database change, and EndReturn. Rebuild (the reconciler) replaces a
//    product's counters with a database snapshot only if nothing was in flight and nothing moved
//    from before the snapshot until the replacement, so a purchase in flight is never counted
//    twice or lost.
//
// Convention: Admit, ClaimKey and the rebuild are awaitable (a shared adapter makes a call); the
// rest are notifications that never fail the caller (a shared adapter sends them without waiting;
// one that is lost is repaired by the next rebuild). Counter() and Available() answer from memory.
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/result.hpp"
#include "services/checkout/ports/idempotency_gate.hpp"
#include "services/checkout/ports/idempotency_store.hpp"
#include "services/checkout/ports/stock_store.hpp"

namespace rocketmart::checkout {

// One product's counters: a handle the service keeps per product (valid as long as the port), so a
// purchase needs no lookup by id.
class ProductCounter {
 public:
  virtual ~ProductCounter() = default;
  virtual std::int64_t product_id() const = 0;
  // Units a buyer could be admitted for now, for display: a shared adapter's last known value,
  // nullopt until it has seen one (a new product's counters opened by another instance, or not
  // yet), so a reader shows the product's own figure rather than a false "sold out".
  virtual std::optional<std::int64_t> Available() const = 0;
};

struct AdmissionLine {
  ProductCounter* counter = nullptr;
  std::int64_t quantity = 0;
  std::int64_t per_member_limit = 0;  // Admit only
};

struct AdmitAnswer {
  Status status;          // ok: admitted; else kPurchaseLimitReached, kSoldOut, kInsufficientStock
  bool key_used = false;  // nothing admitted: the member's key may have a record
};

// What Rebuild compares: nothing moved for the product between BeginRebuild and FinishRebuild.
struct RebuildToken {
  std::uint64_t product_generation = 0;
  std::uint64_t return_generation = 0;
};

class Admission {
 public:
  virtual ~Admission() = default;

  // The product's counters (zero stock until units are returned to it). Any thread.
  virtual ProductCounter& Counter(std::int64_t product_id) = 0;

  // Whether every checkout instance admits against these counters (one Redis) rather than this
  // instance alone (memory). It decides who returns a product's first stock: to shared counters
  // exactly once, by the instance whose effect wrote the inventory row; to an instance's own
  // counters, by that instance when its memory learns of the product.
  virtual bool SharedByInstances() const = 0;

  // Whether the member's key may have a durable record (a false "yes" only costs a read).
  virtual boost::asio::awaitable<bool> KeyUsed(std::int64_t member_id, std::string_view key) = 0;
  // Whether the member's key matters before a sold-out answer from memory: a request holds it in
  // `gate`, or it may have a durable record. The gate is asked first, then KeyUsed: an original
  // request records its key before it leaves the gate, so it is seen by one or the other. A shared
  // adapter whose `gate` keeps its claims on the same server asks both in one atomic call.
  virtual boost::asio::awaitable<bool> KeyHeldOrUsed(std::int64_t member_id, const std::string& key,
                                                     IdempotencyGate& gate) {
    const bool held = co_await gate.Held(member_id, key);
    if (held) co_return true;
    co_return co_await KeyUsed(member_id, key);
  }
  // Whether Admit would answer kSoldOut from memory now for a purchase whose first line is
  // `counter`'s product (no call made): the in-memory counter at 0, a shared adapter's sold-out
  // mark. False says nothing.
  virtual bool SoldOutInMemory(ProductCounter& counter) = 0;
  // How long Admit may go on answering kSoldOut from memory for `counter`'s product without
  // asking anyone: what is left of a shared adapter's sold-out mark (units given back on another
  // instance may stay unseen here that long anyway). Zero: no such bound (an exact counter in
  // this process can change at any moment). The gateway repeats an unkeyed sold-out answer for
  // at most this long (docs/adr/0048).
  virtual std::chrono::microseconds SoldOutMarkLeft(ProductCounter& counter) {
    (void)counter;
    return {};
  }
  // A purchase: see above. `key` empty = no Idempotency-Key. `lines` stays valid until the call
  // completes.
  virtual boost::asio::awaitable<AdmitAnswer> Admit(std::int64_t member_id,
                                                    std::span<const AdmissionLine> lines,
                                                    std::string_view key) = 0;
  // The admitted purchase's hold committed: its units are the database's now.
  virtual void Settle(std::span<const AdmissionLine> lines) = 0;
  // The admitted purchase left nothing in the database (or its hold was released before Settle):
  // its units come back to stock and to the member; its key is released when given (a key with a
  // record must stay: pass it empty).
  virtual void Withdraw(std::int64_t member_id, std::span<const AdmissionLine> lines,
                        std::string_view key) = 0;

  // Units coming back from the database: BeginReturn before the change, Return for what it
  // returned (member 0 = stock only, as a restock), EndReturn once it is over (always, whatever
  // happened).
  virtual void BeginReturn() = 0;
  virtual void Return(std::int64_t member_id, std::span<const AdmissionLine> lines) = 0;
  virtual void EndReturn() = 0;

  // Keys of requests that do not go through Admit (paying a hold): false (and nothing changes)
  // when the member's key is used already; true when it is recorded now.
  virtual boost::asio::awaitable<bool> ClaimKey(std::int64_t member_id, std::string_view key) = 0;
  // A claimed key whose request left no record.
  virtual void ReleaseKey(std::int64_t member_id, std::string_view key) = 0;
  // Keys whose records the IdempotencyStore forgot.
  virtual void ForgetKeys(std::span<const IdempotencyKeyRef> keys) = 0;
  // The member's key has a durable record that no Admit or ClaimKey recorded (start-up, before
  // any request; or a record made after KeyUsed was wrong about a key): counted, once per record.
  virtual void KeepKey(std::int64_t member_id, std::string_view key) = 0;

  // Rebuild from the database (the reconciler, and at start): nullopt when the product has
  // purchases or returns in flight now (try again later).
  virtual boost::asio::awaitable<std::optional<RebuildToken>> BeginRebuild(
      ProductCounter& counter) = 0;
  // Replaces the product's stock and member units with `snapshot` (read after BeginRebuild) when
  // nothing moved since the token was taken; true when it did.
  virtual boost::asio::awaitable<bool> FinishRebuild(ProductCounter& counter, RebuildToken token,
                                                     const StockSnapshot& snapshot) = 0;
};

}  // namespace rocketmart::checkout
