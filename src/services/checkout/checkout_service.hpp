// Checkout's application service: sales, admission, holds, payment and compensation.
//
// The purchase path (architecture brief §2): verified member? -> sale window -> per-member limit
// -> stock, all from memory (a sold-out answer costs no I/O) -> admission (check and decrement in
// one step) -> durable hold (a guarded UPDATE, the truth) -> payment through the provider port ->
// PAID with order.paid in the outbox, or RELEASED with stock and admission given back.
//
// Thread-safety: every public method may be called from any thread concurrently. Coroutines resume
// on the caller's executor. Lifecycle: construct, Load() (start-up: rebuild memory from the
// database, resolve holds left PAYING by a crash), then serve; SweepExpired/ResolveStalePayments/
// Reconcile are called periodically by the composition root (and directly by tests).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/metrics/metrics.hpp"
#include "services/checkout/domain/admission.hpp"
#include "services/checkout/domain/hold.hpp"
#include "services/checkout/domain/sale.hpp"
#include "services/checkout/idempotency_gate.hpp"
#include "services/checkout/ports/inventory_store.hpp"
#include "services/checkout/ports/payment_provider.hpp"

namespace rocketmart::checkout {

struct CheckoutOptions {
  std::chrono::seconds hold_ttl{600};
  std::chrono::milliseconds duplicate_wait{5000};  // how long an in-flight duplicate waits
  std::size_t sweep_batch = 1000;
  std::chrono::seconds stale_payment_after{60};
  // How long an Idempotency-Key is remembered once its purchase is settled.
  std::chrono::seconds idempotency_ttl{86400};
  std::size_t idempotency_forget_batch = 10000;
};

// Who is buying, as the gateway verified it.
struct Buyer {
  std::int64_t member_id = 0;
  bool email_verified = false;
};

struct IdempotencyRequest {
  std::string key;
  std::string request_hash;  // of method, path and body
};

// An answer that may have been replayed from a previous request with the same key.
template <class T>
struct Answer {
  Result<T> result;
  bool replayed = false;
};

struct SaleView {
  std::int64_t product_id = 0;
  Sale sale;
  SaleState state = SaleState::kUpcoming;
};

class CheckoutService {
 public:
  CheckoutService(InventoryStore& store, PaymentProvider& provider, const Clock& clock,
                  metrics::Registry& metrics, CheckoutOptions options = {});

  // Start-up: memory from the database, then holds left PAYING are settled with the provider.
  void Load();

  // One-shot purchase (the original's POST /payment/request, and cart checkout with many lines).
  boost::asio::awaitable<Answer<PaidOrder>> Purchase(Buyer buyer, std::vector<PurchaseLine> lines,
                                                     std::optional<IdempotencyRequest> idem,
                                                     Deadline start_by = kNoDeadline);
  // Two-step purchase.
  boost::asio::awaitable<Answer<Hold>> CreateHold(Buyer buyer, std::vector<PurchaseLine> lines,
                                                  std::optional<IdempotencyRequest> idem,
                                                  Deadline start_by = kNoDeadline);
  boost::asio::awaitable<Answer<PaidOrder>> PayHold(Buyer buyer, std::int64_t hold_id,
                                                    std::optional<IdempotencyRequest> idem);
  boost::asio::awaitable<Status> CancelHold(Buyer buyer, std::int64_t hold_id);
  // The member's open holds (ACTIVE and not expired, or PAYING), newest first, below `before_id`
  // (0 = from the newest). next_before_id is 0 on the last page. Reads a reader connection.
  struct HoldPage {
    std::vector<Hold> items;
    std::int64_t next_before_id = 0;
    std::int64_t total = 0;
  };
  HoldPage OpenHolds(std::int64_t member_id, std::int64_t before_id, std::size_t limit) const;

  // Admin.
  boost::asio::awaitable<Result<SaleView>> SetSale(std::int64_t product_id, Sale sale);
  boost::asio::awaitable<Result<InventoryRow>> Restock(std::int64_t product_id,
                                                       std::int64_t quantity);
  std::optional<SaleView> GetSale(std::int64_t product_id) const;

  // Maintenance. Each returns how much it did.
  boost::asio::awaitable<std::size_t> SweepExpired();
  std::size_t ResolveStalePayments(bool at_startup);
  std::size_t Reconcile();
  // Forgets one batch of idempotency records past their retention; returns how many.
  boost::asio::awaitable<std::size_t> ForgetExpiredIdempotencyKeys();
  std::size_t idempotency_forget_batch() const { return options_.idempotency_forget_batch; }

  // Catalog events (bus thread). Two consumers of the same events: the effect writes the
  // product's inventory row once per service (claimed by event id, in the row's transaction); the
  // cache refresh brings this instance's memory (price, retired, stock counter) up to the facts,
  // ignoring facts older than what it has (by the catalog's version). With one process both run,
  // the effect first.
  void RecordProductFacts(const ProductFacts& facts, std::string_view event_id);
  void RefreshProductFacts(const ProductFacts& facts);

  // Orders events (relay thread): an order was cancelled or its return was received. Refunds the
  // payment and restocks its units exactly once per payment (by event id and by payment status),
  // then gives the units back to admission and asks the provider to refund (idempotent by hold
  // id). A provider failure leaves the refund pending for RetryPendingRefunds. Returns true when
  // this call did the refund. Blocks.
  bool RefundAndRestock(std::int64_t payment_id, std::string_view event_id);
  // Maintenance: asks the provider again for refunds it has not confirmed. Returns how many
  // settled.
  std::size_t RetryPendingRefunds();
  // The paid purchase behind a payment (= order) id, for the orders service's read-your-writes
  // before order.paid arrives; nullopt when there is no such payment. A reader connection.
  std::optional<PaidPurchase> FindPaidPurchase(std::int64_t payment_id) const;
  // The operator's per-sale summary (stock and money); nullopt for unknown products.
  std::optional<ProductSaleFigures> SaleFigures(std::int64_t product_id) const;

  // Notified on every change of a product's available units, sale window or retirement (the
  // storefront's live stock stream listens; see core/change_signal.hpp).
  ChangeSignal& stock_signal() { return stock_signal_; }

  // Live stock for the catalog's display; nullopt for unknown products.
  std::optional<std::int64_t> Available(std::int64_t product_id) const;
  // A product the catalog knows about may get a sale before its inventory event arrives.
  void SetProductExistsCheck(std::function<bool(std::int64_t)> check) {
    product_exists_ = std::move(check);
  }

 private:
  struct ProductState {
    Admission admission;
    std::atomic<std::int64_t> price{0};
    std::atomic<bool> retired{false};
    std::atomic<bool> has_inventory{false};
    std::atomic<std::int64_t> catalog_version{0};
    std::atomic<std::shared_ptr<const Sale>> sale;
  };

  ProductState* Find(std::int64_t product_id) const;
  ProductState& FindOrCreate(std::int64_t product_id);
  // Units left, or nullopt until the product's inventory event has arrived.
  static std::optional<std::int64_t> KnownStock(const ProductState& p);
  void ApplyInventoryRow(const InventoryRow& row);
  void GiveBack(const ReleasedUnits& released);

  // Memory checks and admission for every line, all or nothing.
  Result<HoldRequest> Admit(const Buyer& buyer, const std::vector<PurchaseLine>& lines,
                            TimePoint now);
  void Unadmit(std::int64_t member_id, const std::vector<HoldLine>& lines);

  boost::asio::awaitable<Result<PaidOrder>> PayAndSettle(Hold hold);
  boost::asio::awaitable<Result<PaidOrder>> PurchaseOnce(Buyer buyer,
                                                         std::vector<PurchaseLine> lines,
                                                         std::optional<IdempotencyTag> tag,
                                                         Deadline start_by);
  boost::asio::awaitable<Result<Hold>> PlaceHoldOnce(Buyer buyer, std::vector<PurchaseLine> lines,
                                                     std::optional<IdempotencyTag> tag,
                                                     Deadline start_by);
  boost::asio::awaitable<Result<PaidOrder>> PayHoldOnce(Buyer buyer, std::int64_t hold_id,
                                                        std::optional<IdempotencyTag> tag);
  // One request under an Idempotency-Key: first does `execute`, duplicates wait and replay.
  template <class T>
  boost::asio::awaitable<Answer<T>> WithIdempotency(
      const Buyer& buyer, const IdempotencyRequest& idem, std::string_view operation,
      std::function<boost::asio::awaitable<Result<T>>(std::optional<IdempotencyTag>)> execute,
      std::function<Result<T>(const IdempotencyEntry&)> replay);
  // Rebuilds an answer from what the database says about the hold behind a key.
  Result<PaidOrder> ReplayPayment(const IdempotencyEntry& entry);
  Result<Hold> ReplayHold(const IdempotencyEntry& entry);

  InventoryStore& store_;
  PaymentProvider& provider_;
  const Clock& clock_;
  const CheckoutOptions options_;
  IdempotencyGate gate_;
  std::function<bool(std::int64_t)> product_exists_;

  ChangeSignal stock_signal_;
  mutable std::shared_mutex products_mutex_;
  std::unordered_map<std::int64_t, std::unique_ptr<ProductState>> products_;

  metrics::Counter& paid_;
  metrics::Counter& declined_;
  metrics::Counter& rejected_sold_out_;
  metrics::Counter& rejected_limit_;
  metrics::Counter& rejected_window_;
  metrics::Counter& db_guard_rejections_;
  metrics::Counter& expired_;
  metrics::Counter& replays_;
  metrics::Counter& invariant_violations_;
  metrics::Counter& refunds_;
};

}  // namespace rocketmart::checkout
