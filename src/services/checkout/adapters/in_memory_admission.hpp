// Admission in this process's memory: the embedded deployment's adapter (one checkout instance,
// guaranteed by the data directory's lock), so a sold-out answer costs no I/O and no allocation.
// One AdmissionCounter per product; the keys that may have a durable record as 64-bit hashes
// with a count each (a collision only costs the caller a read of the record; counted, so
// forgetting one key never hides another). Several checkout instances use a shared adapter
// instead (Redis, next issue); this one is then wrong by design, as its counters would be.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "services/checkout/domain/admission.hpp"
#include "services/checkout/ports/admission.hpp"

namespace rocketmart::checkout {

class InMemoryAdmission final : public Admission {
 public:
  ProductCounter& Counter(std::int64_t product_id) override;
  bool SharedByInstances() const override { return false; }
  boost::asio::awaitable<bool> KeyUsed(std::int64_t member_id, std::string_view key) override;
  bool SoldOutInMemory(ProductCounter& counter) override {
    return static_cast<Slot&>(counter).counter.available() <= 0;
  }
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

  // For tests and the operator's view: the member's units of a product.
  std::int64_t MemberUnits(std::int64_t product_id, std::int64_t member_id);

 private:
  class Slot final : public ProductCounter {
   public:
    explicit Slot(std::int64_t id) : id_(id) {}
    std::int64_t product_id() const override { return id_; }
    std::optional<std::int64_t> Available() const override { return counter.available(); }
    AdmissionCounter counter;

   private:
    const std::int64_t id_;
  };
  static AdmissionCounter& Of(const AdmissionLine& line) {
    return static_cast<Slot*>(line.counter)->counter;
  }
  static std::uint64_t KeyHash(std::int64_t member_id, std::string_view key);
  bool KeyKnown(std::int64_t member_id, std::string_view key) const;
  // Records the key unless it is recorded already; true when it was not.
  bool AddKeyIfNew(std::int64_t member_id, std::string_view key);

  std::mutex products_mutex_;
  std::unordered_map<std::int64_t, std::unique_ptr<Slot>> products_;
  mutable std::shared_mutex keys_mutex_;
  std::unordered_map<std::uint64_t, std::uint32_t> keys_;
  // Returns in flight (BeginReturn .. EndReturn) and how many ever began.
  std::atomic<std::int64_t> returns_in_flight_{0};
  std::atomic<std::uint64_t> return_generation_{0};
};

}  // namespace rocketmart::checkout
