// Checkout's application service: sales, admission, holds, payment and compensation.
//
// The purchase path (architecture brief §2): verified member? -> sale window -> per-member limit
// -> stock, all from memory (a sold-out answer costs no I/O) -> admission (check and decrement in
// one step, Admission port) -> durable hold (a guarded UPDATE, the truth, HoldStore) -> payment
// through the provider port -> PAID with order.paid in the outbox, or RELEASED with stock and
// admission given back.
//
// Everything the service shares with other instances sits behind a port (CheckoutPorts): the
// stores, admission, the in-flight gate, the provider and the catalog's product directory. What
// it keeps itself is this instance's cache of the catalog's facts and of the sales (price,
// retired, window), refreshed by events.
//
// Thread-safety: every public method may be called from any thread concurrently. Coroutines resume
// on the caller's executor. Lifecycle: construct, Load() (start-up: rebuild memory from the
// database, settle holds this instance left PAYING), then serve; the maintenance calls
// (SweepExpired, ResolveStalePayments, RetryPendingRefunds, Reconcile,
// ForgetExpiredIdempotencyKeys) are run periodically by the composition root — those that call
// the provider apart from the hold sweeper — and directly by tests.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/change_signal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/metrics/metrics.hpp"
#include "services/checkout/domain/hold.hpp"
#include "services/checkout/domain/sale.hpp"
#include "services/checkout/ports/admission.hpp"
#include "services/checkout/ports/hold_store.hpp"
#include "services/checkout/ports/idempotency_gate.hpp"
#include "services/checkout/ports/idempotency_store.hpp"
#include "services/checkout/ports/payment_provider.hpp"
#include "services/checkout/ports/product_directory.hpp"
#include "services/checkout/ports/refund_store.hpp"
#include "services/checkout/ports/sale_store.hpp"
#include "services/checkout/ports/stock_store.hpp"

namespace rocketmart::checkout {

struct CheckoutOptions {
  std::chrono::seconds hold_ttl{600};
  std::chrono::milliseconds duplicate_wait{5000};  // how long an in-flight duplicate waits
  // How often a request whose key another instance is using looks at the record again.
  std::chrono::milliseconds record_poll{20};
  std::size_t sweep_batch = 1000;
  // A payment's lease: how long the instance that started it has to settle it before a resolver
  // (another instance, or this one's periodic run) asks the provider what happened.
  std::chrono::seconds stale_payment_after{60};
  // How long a worker that asks the provider for a refund has before another may ask again.
  std::chrono::seconds refund_lease{60};
  // How long an Idempotency-Key is remembered once its purchase is settled.
  std::chrono::seconds idempotency_ttl{86400};
  std::size_t idempotency_forget_batch = 10000;
  // This instance's name on the payments and refunds it leases. Stable across restarts (a restart
  // settles at once what its previous run left PAYING); unique per instance.
  std::string worker = "checkout";
};

// Everything the service uses that another instance, process or service may share or serve.
struct CheckoutPorts {
  StockStore& stock;
  SaleStore& sales;
  HoldStore& holds;
  RefundStore& refunds;
  IdempotencyStore& idempotency;
  Admission& admission;
  IdempotencyGate& gate;
  PaymentProvider& provider;
  ProductDirectory& catalog;
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
  // Set on a sold-out answer that admission gave from its sold-out mark: the same request (lines)
  // from any verified member, without an Idempotency-Key or with one checkout has nothing for, is
  // answered the same for at least this long unless units come back here, so a gateway may
  // repeat it (docs/adr/0048; to a keyed request once it found the key unused, docs/adr/0049).
  std::chrono::microseconds shared_for{0};
};

struct SaleView {
  std::int64_t product_id = 0;
  Sale sale;
  SaleState state = SaleState::kUpcoming;
};

// What one reconciliation found and did.
struct ReconcileReport {
  std::size_t problems = 0;  // invariant violations (each logged and counted)
  std::size_t rebuilt = 0;   // products whose admission counters were rebuilt from the database
  std::size_t deferred = 0;  // products busy with purchases every time they were tried
};

class CheckoutService {
 public:
  CheckoutService(CheckoutPorts ports, const Clock& clock, metrics::Registry& metrics,
                  CheckoutOptions options = {});

  // Start-up: memory from the database, then the holds this instance left PAYING are settled with
  // the provider. Throws when the store fails.
  boost::asio::awaitable<Status> Load();

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
  // (0 = from the newest). next_before_id is 0 on the last page.
  struct HoldPage {
    std::vector<Hold> items;
    std::int64_t next_before_id = 0;
    std::int64_t total = 0;
  };
  boost::asio::awaitable<Result<HoldPage>> OpenHolds(std::int64_t member_id, std::int64_t before_id,
                                                     std::size_t limit);

  // Admin. `deadline` (the operator's request's) bounds asking the catalog about a product checkout
  // has not heard of yet.
  boost::asio::awaitable<Result<SaleView>> SetSale(std::int64_t product_id, Sale sale,
                                                   Deadline deadline);
  boost::asio::awaitable<Result<InventoryRow>> Restock(std::int64_t product_id,
                                                       std::int64_t quantity);
  std::optional<SaleView> GetSale(std::int64_t product_id) const;

  // Maintenance. Each returns how much it did.
  boost::asio::awaitable<std::size_t> SweepExpired();
  // Settles PAYING holds whose payment lease ran out (claimed, so with several resolvers each
  // hold is settled by one), asking the provider what happened; `at_startup` also takes the holds
  // this instance's previous run leased.
  boost::asio::awaitable<std::size_t> ResolveStalePayments(bool at_startup);
  // Checks the stock invariants and rebuilds admission's counters from the database, product by
  // product, at a moment no purchase of it is in flight (architecture brief §2.8).
  boost::asio::awaitable<ReconcileReport> Reconcile();
  // Forgets one batch of idempotency records past their retention; returns how many.
  boost::asio::awaitable<std::size_t> ForgetExpiredIdempotencyKeys();
  std::size_t idempotency_forget_batch() const { return options_.idempotency_forget_batch; }

  // Catalog events (bus thread). Two consumers of the same events: the effect writes the
  // product's inventory row once per service (claimed by event id, in the row's transaction); the
  // cache refresh brings this instance's memory (price, retired, stock counter) up to the facts,
  // ignoring facts older than what it has (by the catalog's version). The two run on their own
  // consumers, in either order. A product's first stock reaches admission once: shared counters
  // (Admission::SharedByInstances) are opened by the effect that inserted the row; an instance's
  // own counters (in-memory admission: one instance) once it has both the facts and word that
  // the row is in the database (its own effect's answer, or Load()), whichever comes second.
  // Before that, purchases of the product answer 503 "still being set up" and its sale reads
  // `preparing`, never sold out.
  static constexpr std::string_view kInventoryConsumer = "checkout.inventory";
  boost::asio::awaitable<Status> RecordProductFacts(ProductFacts facts, std::string event_id);
  void RefreshProductFacts(const ProductFacts& facts);

  // Checkout's own sale.changed events (bus thread), a cache refresh on every instance: this
  // instance's memory of the product's sale (window, limit) becomes the event's, unless it already
  // has that version or a newer one (Load() set the versions the database had; SetSale applies its
  // own write at once). A sale set or changed on any instance reaches every instance this way.
  void RefreshSale(const StoredSale& sale);

  // Orders events: an order was cancelled or its return was received. Refunds the payment and
  // restocks its units exactly once per payment (by event id and by payment status), then gives
  // the units back to admission and asks the provider to refund (idempotent by hold id). A
  // provider failure leaves the refund pending for RetryPendingRefunds. True when this call did
  // the refund; an error when the store refused (the bus retries the event).
  static constexpr std::string_view kRefundConsumer = "checkout.order_refunds";
  boost::asio::awaitable<Result<bool>> RefundAndRestock(std::int64_t payment_id,
                                                        std::string event_id);
  // Maintenance: asks the provider again for refunds it has not confirmed (claimed, so with
  // several workers each is asked by one). Returns how many settled.
  boost::asio::awaitable<std::size_t> RetryPendingRefunds();
  // The paid purchase behind a payment (= order) id, for the orders service's read-your-writes
  // before order.paid arrives; nullopt when there is no such payment.
  boost::asio::awaitable<Result<std::optional<PaidPurchase>>> FindPaidPurchase(
      std::int64_t payment_id);
  // The operator's per-sale summary (stock and money); nullopt for unknown products.
  boost::asio::awaitable<Result<std::optional<ProductSaleFigures>>> SaleFigures(
      std::int64_t product_id);

  // Notified on every change of a product's available units, sale window or retirement (the
  // storefront's live stock stream listens; see core/change_signal.hpp).
  ChangeSignal& stock_signal() { return stock_signal_; }

  // Live stock for the catalog's display; nullopt for unknown products. From memory.
  std::optional<std::int64_t> Available(std::int64_t product_id) const;

 private:
  struct ProductState {
    ProductCounter* counter = nullptr;  // admission's, for the product
    std::atomic<std::int64_t> price{0};
    std::atomic<bool> retired{false};
    std::atomic<bool> has_inventory{false};
    // The product's inventory row is known to be in the database (Load(), or an effect that wrote
    // or had already written it): an instance's own counter opens only then, or a purchase it
    // admitted would find no row and be refused as sold out. Written under refresh_mu_.
    bool row_written = false;
    std::atomic<std::int64_t> catalog_version{0};
    std::atomic<std::shared_ptr<const Sale>> sale;
    std::atomic<std::int64_t> sale_version{0};  // of `sale` (SaleStore), written under sale_mu_
  };
  // Admitted lines of one purchase, as admission knows them.
  using AdmittedLines = std::vector<AdmissionLine>;
  struct Admitted {
    HoldRequest request;
    AdmittedLines lines;
  };

  ProductState* Find(std::int64_t product_id) const;
  ProductState& FindOrCreate(std::int64_t product_id);
  // Units left, or nullopt until the product's inventory event has arrived.
  static std::optional<std::int64_t> KnownStock(const ProductState& p);
  void ApplyInventoryRow(const InventoryRow& row);
  // RefreshProductFacts, and the effect's word that the row is written (`row_written`).
  void RefreshFacts(const ProductFacts& facts, bool row_written);
  // Admission lines for units the database gave back.
  AdmittedLines LinesOf(const std::vector<HoldLine>& lines);
  void GiveBack(const ReleasedUnits& released);
  // Replaces the product's admission counters with the database's (a few attempts while something
  // is in flight); true when it did.
  boost::asio::awaitable<bool> RebuildCounter(std::int64_t product_id, ProductCounter& counter);

  // Admit's memory checks of one line, in its order: the product known, its stock set up, not
  // retired, its sale's window open. Admit and SoldOutBeforeTheGate both use it, so the early
  // sold-out answer is never given to a line Admit would refuse for another reason.
  struct LineCheck {
    ProductState* product = nullptr;
    std::shared_ptr<const Sale> sale;
    std::optional<Error> refusal;  // set: the line is refused with it
    bool by_window = false;        // the refusal is the sale window's
  };
  LineCheck CheckLine(const PurchaseLine& line, TimePoint now) const;

  // Memory checks and admission for every line, all or nothing. kRequestInFlight: the key may
  // have a record (nothing admitted). `check_key` false: record the key without looking.
  boost::asio::awaitable<Result<Admitted>> Admit(const Buyer& buyer,
                                                 const std::vector<PurchaseLine>& lines,
                                                 TimePoint now, std::string_view key,
                                                 bool check_key);

  // A keyed purchase whose first line's product admission holds sold out in memory, and whose key
  // is neither in the gate nor may have a record: true when it is answered SOLD_OUT without
  // entering the gate (what Admit would answer; docs/adr/0047). Any other check that would refuse
  // it first leaves it to the whole path.
  boost::asio::awaitable<bool> SoldOutBeforeTheGate(const Buyer& buyer,
                                                    const std::vector<PurchaseLine>& lines,
                                                    const IdempotencyRequest& idem);
  // For an answer (`sold_out`: it is kSoldOut): how long the same lines from any verified
  // member are answered kSoldOut from memory as it was (Answer::shared_for): the first line's
  // checks pass, and admission's sold-out mark has time left before the sale's window ends. Zero
  // otherwise.
  std::chrono::microseconds SharedSoldOutFor(const Buyer& buyer,
                                             const std::vector<PurchaseLine>& lines, bool sold_out);

  boost::asio::awaitable<Result<PaidOrder>> PayAndSettle(Hold hold);
  boost::asio::awaitable<Result<PaidOrder>> PurchaseOnce(Buyer buyer,
                                                         const std::vector<PurchaseLine>& lines,
                                                         std::optional<IdempotencyTag> tag,
                                                         Deadline start_by, bool check_key);
  boost::asio::awaitable<Result<Hold>> PlaceHoldOnce(Buyer buyer,
                                                     const std::vector<PurchaseLine>& lines,
                                                     std::optional<IdempotencyTag> tag,
                                                     Deadline start_by, bool check_key);
  boost::asio::awaitable<Result<PaidOrder>> PayHoldOnce(Buyer buyer, std::int64_t hold_id,
                                                        std::optional<IdempotencyTag> tag,
                                                        bool check_key);
  // One request under an Idempotency-Key: the first does `execute`, duplicates wait and replay;
  // a key claimed elsewhere is answered from its record.
  template <class T>
  using Execute =
      std::function<boost::asio::awaitable<Result<T>>(std::optional<IdempotencyTag>, bool)>;
  template <class T>
  using Replay = std::function<boost::asio::awaitable<Result<T>>(const IdempotencyEntry&)>;
  template <class T>
  boost::asio::awaitable<Answer<T>> WithIdempotency(const Buyer& buyer,
                                                    const IdempotencyRequest& idem,
                                                    std::string_view operation, Execute<T> execute,
                                                    Replay<T> replay);
  // The answer the key's record gives, nullopt when there is no record. `wait_open`: while the
  // record's purchase is in flight (another instance is paying), look again until duplicate_wait.
  template <class T>
  boost::asio::awaitable<std::optional<Answer<T>>> FromRecord(const Buyer& buyer,
                                                              const IdempotencyRequest& idem,
                                                              std::string_view operation,
                                                              const Replay<T>& replay,
                                                              bool wait_open);
  // Rebuilds an answer from what the database says about the hold behind a key.
  boost::asio::awaitable<Result<PaidOrder>> ReplayPayment(const IdempotencyEntry& entry);
  boost::asio::awaitable<Result<Hold>> ReplayHold(const IdempotencyEntry& entry);

  StockStore& stock_;
  SaleStore& sales_;
  HoldStore& holds_;
  RefundStore& refunds_store_;
  IdempotencyStore& idempotency_;
  Admission& admission_;
  IdempotencyGate& gate_;
  PaymentProvider& provider_;
  ProductDirectory& catalog_;
  const Clock& clock_;
  const CheckoutOptions options_;

  ChangeSignal stock_signal_;
  std::mutex refresh_mu_;  // RefreshProductFacts: the effect's and the cache refresh's threads
  std::mutex sale_mu_;     // RefreshSale: a request's SetSale and the cache refresh's thread
  mutable std::shared_mutex products_mutex_;
  std::unordered_map<std::int64_t, std::unique_ptr<ProductState>> products_;

  metrics::Counter& paid_;
  metrics::Counter& declined_;
  metrics::Counter& rejected_sold_out_;
  metrics::Counter& rejected_unavailable_;
  metrics::Counter& rejected_limit_;
  metrics::Counter& rejected_window_;
  metrics::Counter& db_guard_rejections_;
  metrics::Counter& expired_;
  metrics::Counter& replays_;
  metrics::Counter& invariant_violations_;
  metrics::Counter& refunds_;
  metrics::Counter& rebuilds_;
  metrics::Counter& rebuilds_deferred_;
};

}  // namespace rocketmart::checkout
