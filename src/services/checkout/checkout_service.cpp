#include "services/checkout/checkout_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "infra/async/run.hpp"

namespace rocketmart::checkout {
namespace {

Error Declined() {
  return MakeError(Errc::kPaymentDeclined, "the payment was declined; the stock was released");
}

Status ValidateLines(const std::vector<PurchaseLine>& lines) {
  if (lines.empty()) return MakeError(Errc::kValidationFailed, "nothing to buy");
  if (lines.size() > kMaxLinesPerPurchase) {
    return MakeError(Errc::kValidationFailed, "too many lines in one purchase");
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].quantity < 1 || lines[i].quantity > kMaxQuantityPerPurchase) {
      return MakeError(Errc::kValidationFailed, "quantity must be between 1 and 100", "amount");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (lines[j].product_id == lines[i].product_id) {
        return MakeError(Errc::kValidationFailed, "a product appears twice");
      }
    }
  }
  return Ok();
}

}  // namespace

CheckoutService::CheckoutService(InventoryStore& store, PaymentProvider& provider,
                                 const Clock& clock, metrics::Registry& metrics,
                                 CheckoutOptions options)
    : store_(store),
      provider_(provider),
      clock_(clock),
      options_(options),
      paid_(
          metrics.GetCounter("checkout_purchases_total", "Purchase outcomes", "outcome=\"paid\"")),
      declined_(metrics.GetCounter("checkout_purchases_total", "Purchase outcomes",
                                   "outcome=\"declined\"")),
      rejected_sold_out_(metrics.GetCounter("checkout_purchases_total", "Purchase outcomes",
                                            "outcome=\"sold_out\"")),
      rejected_limit_(
          metrics.GetCounter("checkout_purchases_total", "Purchase outcomes", "outcome=\"limit\"")),
      rejected_window_(metrics.GetCounter("checkout_purchases_total", "Purchase outcomes",
                                          "outcome=\"window\"")),
      db_guard_rejections_(metrics.GetCounter(
          "checkout_admission_db_rejections_total",
          "Holds admitted in memory but refused by the database guard (admission drift)")),
      expired_(metrics.GetCounter("checkout_holds_expired_total", "Holds released by expiry")),
      replays_(metrics.GetCounter("checkout_idempotent_replays_total",
                                  "Answers replayed for a repeated Idempotency-Key")),
      invariant_violations_(
          metrics.GetCounter("checkout_invariant_violations_total",
                             "Products whose stock invariant failed at reconciliation")),
      refunds_(
          metrics.GetCounter("checkout_refunds_total",
                             "Payments refunded and restocked (orders cancelled or returned)")) {}

CheckoutService::ProductState* CheckoutService::Find(std::int64_t product_id) const {
  std::shared_lock lock(products_mutex_);
  auto it = products_.find(product_id);
  return it == products_.end() ? nullptr : it->second.get();
}

CheckoutService::ProductState& CheckoutService::FindOrCreate(std::int64_t product_id) {
  if (ProductState* p = Find(product_id)) return *p;
  std::unique_lock lock(products_mutex_);
  auto& slot = products_[product_id];
  if (!slot) {
    slot = std::make_unique<ProductState>();
    slot->admission.Watch(&stock_signal_);
  }
  return *slot;
}

void CheckoutService::ApplyInventoryRow(const InventoryRow& row) {
  ProductState& p = FindOrCreate(row.product_id);
  p.price.store(row.price);
  p.retired.store(row.retired);
  p.catalog_version.store(row.catalog_version);
  p.has_inventory.store(true);
  stock_signal_.Notify();
}

void CheckoutService::Load() {
  auto units = store_.LoadMemberUnits();
  for (const InventoryRow& row : store_.LoadInventory()) {
    ApplyInventoryRow(row);
    auto it = units.find(row.product_id);
    FindOrCreate(row.product_id)
        .admission.Reset(row.available, it == units.end()
                                            ? std::unordered_map<std::int64_t, std::int64_t>{}
                                            : std::move(it->second));
  }
  for (auto& [product_id, sale] : store_.LoadSales()) {
    FindOrCreate(product_id).sale.store(std::make_shared<const Sale>(sale));
  }
  stock_signal_.Notify();
  const std::size_t settled = ResolveStalePayments(true);
  if (settled > 0) spdlog::warn("checkout: settled {} holds left in PAYING by a crash", settled);
  Reconcile();
}

std::size_t CheckoutService::Reconcile() {
  const auto problems = store_.CheckInvariants();
  for (const auto& p : problems) {
    invariant_violations_.Add();
    spdlog::error("checkout: invariant violated for product {}: {}", p.product_id, p.problem);
  }
  return problems.size();
}

void CheckoutService::RecordProductFacts(const ProductFacts& facts, std::string_view event_id) {
  (void)store_.ApplyProductFacts(facts, event_id, clock_.Now());
}

void CheckoutService::RefreshProductFacts(const ProductFacts& facts) {
  ProductState& p = FindOrCreate(facts.product_id);
  // One bus thread refreshes; the version only moves forward, so a redelivered or older event
  // changes nothing (Load() set the versions the database had).
  if (facts.version <= p.catalog_version.load()) return;
  p.price.store(facts.price);
  p.retired.store(facts.retired);
  p.catalog_version.store(facts.version);
  // The product's first facts open its stock counter: nothing was sold before it had one, and a
  // restock that came first added its units already.
  if (!p.has_inventory.exchange(true)) p.admission.AddStock(facts.initial_stock);
}

std::optional<std::int64_t> CheckoutService::KnownStock(const ProductState& p) {
  if (!p.has_inventory.load()) return std::nullopt;
  return p.admission.available();
}

std::optional<std::int64_t> CheckoutService::Available(std::int64_t product_id) const {
  const ProductState* p = Find(product_id);
  if (!p) return std::nullopt;
  return KnownStock(*p);
}

std::optional<SaleView> CheckoutService::GetSale(std::int64_t product_id) const {
  const ProductState* p = Find(product_id);
  if (!p) return std::nullopt;
  auto sale = p->sale.load();
  if (!sale) return std::nullopt;
  // A retired product sells nothing, whatever its window and stock say.
  const SaleState state =
      p->retired.load() ? SaleState::kRetired : StateOf(*sale, clock_.Now(), KnownStock(*p));
  return SaleView{product_id, *sale, state};
}

Result<HoldRequest> CheckoutService::Admit(const Buyer& buyer,
                                           const std::vector<PurchaseLine>& lines, TimePoint now) {
  if (auto st = ValidateLines(lines); !st.ok()) return st.error();
  if (!buyer.email_verified) {
    return MakeError(Errc::kEmailNotVerified,
                     "verify your email address before buying; if you already did, this access "
                     "token predates it: refresh it (POST /auth/refresh) or log in again");
  }
  HoldRequest request;
  request.member_id = buyer.member_id;
  request.now = now;
  request.expires_at = now + options_.hold_ttl;
  for (const PurchaseLine& line : lines) {
    ProductState* p = Find(line.product_id);
    if (p && !p->has_inventory.load() && p->sale.load() && !p->retired.load()) {
      // The catalog knows the product and its sale is set, but the catalog's event carrying its
      // stock has not arrived yet (milliseconds after creation): a retry will succeed.
      Unadmit(buyer.member_id, request.lines);
      return MakeError(Errc::kUnavailable, "this product's stock is still being set up; retry");
    }
    if (!p || !p->has_inventory.load() || p->retired.load()) {
      Unadmit(buyer.member_id, request.lines);
      return MakeError(Errc::kNotFound, "no such product");
    }
    auto sale = p->sale.load();
    if (auto st = CheckWindow(sale.get(), now); !st.ok()) {
      Unadmit(buyer.member_id, request.lines);
      rejected_window_.Add();
      return st.error();
    }
    if (auto st = p->admission.Admit(buyer.member_id, line.quantity, sale->per_member_limit);
        !st.ok()) {
      Unadmit(buyer.member_id, request.lines);
      (st.error().code == Errc::kPurchaseLimitReached ? rejected_limit_ : rejected_sold_out_).Add();
      return st.error();
    }
    request.lines.push_back({line.product_id, line.quantity, p->price.load()});
    request.per_member_limits[line.product_id] = sale->per_member_limit;
  }
  return request;
}

void CheckoutService::Unadmit(std::int64_t member_id, const std::vector<HoldLine>& lines) {
  for (const HoldLine& line : lines) {
    if (ProductState* p = Find(line.product_id)) p->admission.GiveBack(member_id, line.quantity);
  }
}

void CheckoutService::GiveBack(const ReleasedUnits& released) {
  Unadmit(released.member_id, released.lines);
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::PayAndSettle(Hold hold) {
  auto charge = co_await provider_.Charge(hold.id, hold.member_id, hold.total);
  if (!charge.ok()) {
    // The provider's answer is unknown: the hold stays PAYING and ResolveStalePayments settles it
    // from the provider's own record. The caller may retry with the same Idempotency-Key.
    co_return charge.error();
  }
  if (charge->outcome == ChargeOutcome::kCaptured) {
    auto paid = co_await store_.CompletePayment(hold.id, std::move(*charge), clock_.Now());
    if (paid.ok()) paid_.Add();
    co_return paid;
  }
  auto released = co_await store_.ReleaseHold(hold.id, hold.member_id, HoldStatus::kPaying,
                                              ReleaseReason::kDeclined, clock_.Now());
  if (released.ok()) GiveBack(*released);
  declined_.Add();
  co_return Declined();
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::PurchaseOnce(
    Buyer buyer, std::vector<PurchaseLine> lines, std::optional<IdempotencyTag> tag,
    Deadline start_by) {
  auto admitted = Admit(buyer, lines, clock_.Now());
  if (!admitted.ok()) co_return admitted.error();
  admitted->pay_now = true;
  admitted->idempotency = std::move(tag);
  admitted->start_by = start_by;
  const std::vector<HoldLine> admitted_lines = admitted->lines;
  auto hold = co_await store_.PlaceHold(std::move(*admitted));
  if (!hold.ok()) {
    Unadmit(buyer.member_id, admitted_lines);
    if (hold.error().code == Errc::kSoldOut || hold.error().code == Errc::kPurchaseLimitReached) {
      db_guard_rejections_.Add();
    }
    co_return hold.error();
  }
  auto paid = co_await PayAndSettle(std::move(*hold));
  co_return paid;
}

Result<PaidOrder> CheckoutService::ReplayPayment(const IdempotencyEntry& entry) {
  auto outcome = store_.FindHold(entry.hold_id);
  if (!outcome) return MakeError(Errc::kInternal, "idempotency record without its hold");
  switch (outcome->hold.status) {
    case HoldStatus::kPaid:
      return PaidOrder{*outcome->payment_id, *outcome->payment_id,           entry.hold_id,
                       outcome->hold.total,  std::move(outcome->hold.lines), outcome->paid_at};
    case HoldStatus::kReleased:
      if (outcome->release_reason == "DECLINED") return Declined();
      return MakeError(Errc::kHoldNotActive, "the hold was released");
    case HoldStatus::kExpired:
      return MakeError(Errc::kHoldExpired, "the hold expired; nothing was charged");
    case HoldStatus::kActive:
    case HoldStatus::kPaying:
      break;
  }
  return MakeError(Errc::kRequestInFlight, "the original request is still being processed");
}

Result<Hold> CheckoutService::ReplayHold(const IdempotencyEntry& entry) {
  auto outcome = store_.FindHold(entry.hold_id);
  if (!outcome) return MakeError(Errc::kInternal, "idempotency record without its hold");
  return outcome->hold;
}

template <class T>
boost::asio::awaitable<Answer<T>> CheckoutService::WithIdempotency(
    const Buyer& buyer, const IdempotencyRequest& idem, std::string_view operation,
    std::function<boost::asio::awaitable<Result<T>>(std::optional<IdempotencyTag>)> execute,
    std::function<Result<T>(const IdempotencyEntry&)> replay) {
  auto reused = [] {
    return MakeError(Errc::kIdempotencyKeyReused,
                     "this Idempotency-Key was used for another request");
  };
  // Answers a key that already has a durable record; nullopt when it has none.
  auto from_record = [&]() -> std::optional<Answer<T>> {
    auto entry = store_.FindIdempotency(buyer.member_id, idem.key);
    if (!entry) return std::nullopt;
    if (entry->request_hash != idem.request_hash || entry->operation != operation) {
      return Answer<T>{reused()};
    }
    replays_.Add();
    return Answer<T>{replay(*entry), true};
  };
  // A few rounds: a woken duplicate whose first request left no record (it was refused without
  // effect) goes through the gate again and does the work itself.
  for (int round = 0; round < 4; ++round) {
    auto ticket = gate_.Enter(buyer.member_id, idem.key, idem.request_hash);
    if (ticket.role == IdempotencyGate::Role::kMismatch) co_return Answer<T>{reused()};
    if (ticket.role == IdempotencyGate::Role::kDuplicate) {
      const bool done = co_await IdempotencyGate::Wait(ticket.entry, options_.duplicate_wait);
      if (!done) break;
      if (auto answer = from_record()) co_return std::move(*answer);
      continue;
    }
    std::optional<Answer<T>> answer = from_record();
    if (!answer) {
      std::optional<IdempotencyTag> tag =
          IdempotencyTag{idem.key, idem.request_hash, std::string(operation)};
      auto result = co_await execute(std::move(tag));
      answer.emplace(Answer<T>{std::move(result)});
    }
    gate_.Leave(buyer.member_id, idem.key, ticket.entry);
    co_return std::move(*answer);
  }
  co_return Answer<T>{
      MakeError(Errc::kRequestInFlight, "a request with this Idempotency-Key is in progress")};
}

boost::asio::awaitable<Answer<PaidOrder>> CheckoutService::Purchase(
    Buyer buyer, std::vector<PurchaseLine> lines, std::optional<IdempotencyRequest> idem,
    Deadline start_by) {
  std::function<boost::asio::awaitable<Result<PaidOrder>>(std::optional<IdempotencyTag>)> execute =
      [this, buyer, &lines, start_by](std::optional<IdempotencyTag> tag) {
        return PurchaseOnce(buyer, std::move(lines), std::move(tag), start_by);
      };
  if (!idem) {
    auto result = co_await execute(std::nullopt);
    co_return Answer<PaidOrder>{std::move(result)};
  }
  std::function<Result<PaidOrder>(const IdempotencyEntry&)> replay =
      [this](const IdempotencyEntry& e) { return ReplayPayment(e); };
  auto answer = co_await WithIdempotency<PaidOrder>(buyer, *idem, "purchase", execute, replay);
  co_return answer;
}

boost::asio::awaitable<Result<Hold>> CheckoutService::PlaceHoldOnce(
    Buyer buyer, std::vector<PurchaseLine> lines, std::optional<IdempotencyTag> tag,
    Deadline start_by) {
  auto admitted = Admit(buyer, lines, clock_.Now());
  if (!admitted.ok()) co_return admitted.error();
  admitted->idempotency = std::move(tag);
  admitted->start_by = start_by;
  const std::vector<HoldLine> admitted_lines = admitted->lines;
  auto hold = co_await store_.PlaceHold(std::move(*admitted));
  if (!hold.ok()) {
    Unadmit(buyer.member_id, admitted_lines);
    db_guard_rejections_.Add();
  }
  co_return hold;
}

boost::asio::awaitable<Answer<Hold>> CheckoutService::CreateHold(
    Buyer buyer, std::vector<PurchaseLine> lines, std::optional<IdempotencyRequest> idem,
    Deadline start_by) {
  std::function<boost::asio::awaitable<Result<Hold>>(std::optional<IdempotencyTag>)> execute =
      [this, buyer, &lines, start_by](std::optional<IdempotencyTag> tag) {
        return PlaceHoldOnce(buyer, std::move(lines), std::move(tag), start_by);
      };
  if (!idem) {
    auto result = co_await execute(std::nullopt);
    co_return Answer<Hold>{std::move(result)};
  }
  std::function<Result<Hold>(const IdempotencyEntry&)> replay = [this](const IdempotencyEntry& e) {
    return ReplayHold(e);
  };
  auto answer = co_await WithIdempotency<Hold>(buyer, *idem, "hold", execute, replay);
  co_return answer;
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::PayHoldOnce(
    Buyer buyer, std::int64_t hold_id, std::optional<IdempotencyTag> tag) {
  auto hold = co_await store_.BeginPayment(hold_id, buyer.member_id, clock_.Now(), std::move(tag));
  if (!hold.ok()) co_return hold.error();
  auto paid = co_await PayAndSettle(std::move(*hold));
  co_return paid;
}

boost::asio::awaitable<Answer<PaidOrder>> CheckoutService::PayHold(
    Buyer buyer, std::int64_t hold_id, std::optional<IdempotencyRequest> idem) {
  std::function<boost::asio::awaitable<Result<PaidOrder>>(std::optional<IdempotencyTag>)> execute =
      [this, buyer, hold_id](std::optional<IdempotencyTag> tag) {
        return PayHoldOnce(buyer, hold_id, std::move(tag));
      };
  if (!idem) {
    auto result = co_await execute(std::nullopt);
    co_return Answer<PaidOrder>{std::move(result)};
  }
  std::function<Result<PaidOrder>(const IdempotencyEntry&)> replay =
      [this](const IdempotencyEntry& e) { return ReplayPayment(e); };
  auto answer = co_await WithIdempotency<PaidOrder>(buyer, *idem, "pay", execute, replay);
  co_return answer;
}

boost::asio::awaitable<Status> CheckoutService::CancelHold(Buyer buyer, std::int64_t hold_id) {
  auto released = co_await store_.ReleaseHold(hold_id, buyer.member_id, HoldStatus::kActive,
                                              ReleaseReason::kCancelled, clock_.Now());
  if (!released.ok()) co_return released.error();
  GiveBack(*released);
  co_return Ok();
}

CheckoutService::HoldPage CheckoutService::OpenHolds(std::int64_t member_id, std::int64_t before_id,
                                                     std::size_t limit) const {
  OpenHoldsPage found = store_.OpenHolds(member_id, clock_.Now(), before_id, limit + 1);
  HoldPage page;
  page.total = found.total;
  if (found.items.size() > limit) {
    found.items.resize(limit);
    page.next_before_id = found.items.back().id;
  }
  page.items = std::move(found.items);
  return page;
}

boost::asio::awaitable<Result<SaleView>> CheckoutService::SetSale(std::int64_t product_id,
                                                                  Sale sale) {
  if (auto st = ValidateSale(sale); !st.ok()) co_return st.error();
  const ProductState* known = Find(product_id);
  const bool exists = (known && known->has_inventory.load() && !known->retired.load()) ||
                      (product_exists_ && product_exists_(product_id));
  if (!exists) co_return MakeError(Errc::kNotFound, "no such product");
  auto saved = co_await store_.SaveSale(product_id, sale, clock_.Now());
  if (!saved.ok()) co_return saved.error();
  ProductState& p = FindOrCreate(product_id);
  p.sale.store(std::make_shared<const Sale>(sale));
  stock_signal_.Notify();
  co_return SaleView{product_id, sale, StateOf(sale, clock_.Now(), KnownStock(p))};
}

boost::asio::awaitable<Result<InventoryRow>> CheckoutService::Restock(std::int64_t product_id,
                                                                      std::int64_t quantity) {
  if (quantity < 1 || quantity > kMaxRestock) {
    co_return MakeError(Errc::kValidationFailed,
                        "quantity must be between 1 and " + std::to_string(kMaxRestock),
                        "quantity");
  }
  auto row = co_await store_.Restock(product_id, quantity, clock_.Now());
  if (!row.ok()) co_return row.error();
  FindOrCreate(product_id).admission.AddStock(quantity);
  co_return row;
}

boost::asio::awaitable<std::size_t> CheckoutService::SweepExpired() {
  auto released = co_await store_.ExpireDue(clock_.Now(), options_.sweep_batch);
  if (!released.ok()) co_return 0;
  for (const ReleasedUnits& r : *released) GiveBack(r);
  expired_.Add(released->size());
  co_return released->size();
}

boost::asio::awaitable<std::size_t> CheckoutService::ForgetExpiredIdempotencyKeys() {
  auto forgotten = co_await store_.ForgetIdempotencyKeys(clock_.Now() - options_.idempotency_ttl,
                                                         options_.idempotency_forget_batch);
  co_return forgotten.ok() ? *forgotten : 0;
}

std::size_t CheckoutService::ResolveStalePayments(bool at_startup) {
  std::size_t settled = 0;
  const TimePoint now = clock_.Now();
  for (std::int64_t hold_id : store_.HoldsInStatus(HoldStatus::kPaying)) {
    auto outcome = store_.FindHold(hold_id);
    if (!outcome || outcome->hold.status != HoldStatus::kPaying) continue;
    if (!at_startup && now - outcome->hold.created_at < options_.stale_payment_after) continue;
    const auto record = provider_.Lookup(hold_id);
    if (record && record->outcome != ChargeOutcome::kDeclined) {
      // Captured (or already refunded by an operator): the money moved, so the order must exist.
      auto paid = async::RunToCompletion(store_.CompletePayment(hold_id, *record, now));
      if (paid.ok()) paid_.Add();
    } else {
      // The provider never charged (or declined): nothing was taken, give the stock back.
      const ReleaseReason reason = record ? ReleaseReason::kDeclined : ReleaseReason::kRecovered;
      auto released =
          async::RunToCompletion(store_.ReleaseHold(hold_id, 0, HoldStatus::kPaying, reason, now));
      if (released.ok()) GiveBack(*released);
    }
    ++settled;
  }
  return settled;
}

bool CheckoutService::RefundAndRestock(std::int64_t payment_id, std::string_view event_id) {
  const TimePoint now = clock_.Now();
  auto refunded = store_.RefundPayment(payment_id, "checkout.order_refunds", event_id, now);
  if (!refunded) return false;
  // Committed: the units are available again, so admission may sell them.
  Unadmit(refunded->member_id, refunded->lines);
  refunds_.Add();
  auto answer = async::RunToCompletion(provider_.Refund(refunded->hold_id));
  if (answer.ok()) {
    store_.SettleRefund(payment_id, now);
  } else {
    spdlog::warn("checkout: refund of payment {} left pending: {}", payment_id,
                 answer.error().message);
  }
  return true;
}

std::size_t CheckoutService::RetryPendingRefunds() {
  std::size_t settled = 0;
  for (const RefundedPayment& r : store_.PendingRefunds(options_.sweep_batch)) {
    auto answer = async::RunToCompletion(provider_.Refund(r.hold_id));
    if (!answer.ok()) continue;
    store_.SettleRefund(r.payment_id, clock_.Now());
    ++settled;
  }
  return settled;
}

std::optional<PaidPurchase> CheckoutService::FindPaidPurchase(std::int64_t payment_id) const {
  return store_.FindPaidPurchase(payment_id);
}

std::optional<ProductSaleFigures> CheckoutService::SaleFigures(std::int64_t product_id) const {
  return store_.SaleFigures(product_id);
}

}  // namespace rocketmart::checkout
