#include "services/checkout/checkout_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

namespace rocketmart::checkout {
namespace {

Error Declined() {
  return MakeError(Errc::kPaymentDeclined, "the payment was declined; the stock was released");
}

Error KeyInUse() {
  return MakeError(Errc::kRequestInFlight, "a request with this Idempotency-Key is in progress");
}

bool IsKeyInUse(const Error& e) {
  return e.code == Errc::kRequestInFlight;
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

boost::asio::awaitable<void> Pause(std::chrono::milliseconds d) {
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(executor, d);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

// Ends a return bracket (Admission::BeginReturn) whatever happens between.
class ReturnBracket {
 public:
  explicit ReturnBracket(Admission& admission) : admission_(admission) { admission_.BeginReturn(); }
  ~ReturnBracket() { admission_.EndReturn(); }
  ReturnBracket(const ReturnBracket&) = delete;
  ReturnBracket& operator=(const ReturnBracket&) = delete;

 private:
  Admission& admission_;
};

template <class T>
bool IsSoldOut(const Result<T>& result) {
  return !result.ok() && result.error().code == Errc::kSoldOut;
}

// SOLD_OUT, shared with any verified member's same request for `shared_for` (Answer::shared_for).
template <class T>
Answer<T> SoldOutAnswer(std::chrono::microseconds shared_for) {
  Answer<T> answer{MakeError(Errc::kSoldOut, "sold out")};
  answer.shared_for = shared_for;
  return answer;
}

}  // namespace

CheckoutService::CheckoutService(CheckoutPorts ports, const Clock& clock,
                                 metrics::Registry& metrics, CheckoutOptions options)
    : stock_(ports.stock),
      sales_(ports.sales),
      holds_(ports.holds),
      refunds_store_(ports.refunds),
      idempotency_(ports.idempotency),
      admission_(ports.admission),
      gate_(ports.gate),
      provider_(ports.provider),
      catalog_(ports.catalog),
      clock_(clock),
      options_(std::move(options)),
      paid_(
          metrics.GetCounter("checkout_purchases_total", "Purchase outcomes", "outcome=\"paid\"")),
      declined_(metrics.GetCounter("checkout_purchases_total", "Purchase outcomes",
                                   "outcome=\"declined\"")),
      rejected_sold_out_(metrics.GetCounter("checkout_purchases_total", "Purchase outcomes",
                                            "outcome=\"sold_out\"")),
      rejected_unavailable_(metrics.GetCounter("checkout_purchases_total", "Purchase outcomes",
                                               "outcome=\"unavailable\"")),
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
                             "Payments refunded and restocked (orders cancelled or returned)")),
      rebuilds_(metrics.GetCounter(
          "checkout_admission_rebuilds_total",
          "Products whose admission counters reconciliation rebuilt from the database",
          "outcome=\"applied\"")),
      rebuilds_deferred_(metrics.GetCounter(
          "checkout_admission_rebuilds_total",
          "Products whose admission counters reconciliation rebuilt from the database",
          "outcome=\"deferred\"")) {}

CheckoutService::ProductState* CheckoutService::Find(std::int64_t product_id) const {
  std::shared_lock lock(products_mutex_);
  auto it = products_.find(product_id);
  return it == products_.end() ? nullptr : it->second.get();
}

CheckoutService::ProductState& CheckoutService::FindOrCreate(std::int64_t product_id) {
  if (ProductState* p = Find(product_id)) return *p;
  ProductCounter& counter = admission_.Counter(product_id);
  std::unique_lock lock(products_mutex_);
  auto& slot = products_[product_id];
  if (!slot) {
    slot = std::make_unique<ProductState>();
    slot->counter = &counter;
  }
  return *slot;
}

void CheckoutService::ApplyInventoryRow(const InventoryRow& row) {
  ProductState& p = FindOrCreate(row.product_id);
  {
    std::lock_guard lock(refresh_mu_);
    p.row_written = true;
  }
  p.price.store(row.price);
  p.retired.store(row.retired);
  p.catalog_version.store(row.catalog_version);
  p.has_inventory.store(true);
  stock_signal_.Notify();
}

CheckoutService::AdmittedLines CheckoutService::LinesOf(const std::vector<HoldLine>& lines) {
  AdmittedLines out;
  out.reserve(lines.size());
  for (const HoldLine& line : lines) {
    out.push_back({FindOrCreate(line.product_id).counter, line.quantity, 0});
  }
  return out;
}

void CheckoutService::GiveBack(const ReleasedUnits& released) {
  const AdmittedLines lines = LinesOf(released.lines);
  admission_.Return(released.member_id, lines);
  stock_signal_.Notify();
}

boost::asio::awaitable<Status> CheckoutService::Load() {
  const MemberUnitsByProduct units = stock_.LoadMemberUnits();
  for (const InventoryRow& row : stock_.LoadInventory()) {
    ApplyInventoryRow(row);
    ProductState& p = FindOrCreate(row.product_id);
    StockSnapshot snapshot{row.product_id, row.available, {}};
    if (auto it = units.find(row.product_id); it != units.end()) snapshot.member_units = it->second;
    // Nothing is in flight before the first request; a shared admission that other instances
    // keep busy is left as they keep it.
    if (auto token = co_await admission_.BeginRebuild(*p.counter)) {
      const bool rebuilt = co_await admission_.FinishRebuild(*p.counter, *token, snapshot);
      (void)rebuilt;
    }
  }
  for (const StoredSale& sale : sales_.LoadSales()) RefreshSale(sale);
  idempotency_.LoadKeys(
      [this](std::int64_t member_id, std::string_view key) { admission_.KeepKey(member_id, key); });
  stock_signal_.Notify();
  const std::size_t settled = co_await ResolveStalePayments(true);
  if (settled > 0) spdlog::warn("checkout: settled {} holds left in PAYING by a crash", settled);
  const ReconcileReport report = co_await Reconcile();
  (void)report;
  co_return Ok();
}

boost::asio::awaitable<ReconcileReport> CheckoutService::Reconcile() {
  ReconcileReport report;
  auto problems = co_await stock_.CheckInvariants();
  if (!problems.ok()) {
    spdlog::warn("checkout: reconciliation could not read the stock: {}", problems.error().message);
    co_return report;
  }
  for (const auto& p : *problems) {
    invariant_violations_.Add();
    spdlog::error("checkout: invariant violated for product {}: {}", p.product_id, p.problem);
  }
  report.problems = problems->size();

  // Admission's counters from the database, one product at a time, each at a moment it has no
  // purchase or return in flight (Admission::BeginRebuild/FinishRebuild): a purchase admitted but
  // not committed, or a release committed but not given back, is never counted twice or lost.
  std::vector<std::pair<std::int64_t, ProductCounter*>> known;
  {
    std::shared_lock lock(products_mutex_);
    for (const auto& [id, p] : products_) {
      if (p->has_inventory.load()) known.emplace_back(id, p->counter);
    }
  }
  for (const auto& [id, counter] : known) {
    const bool applied = co_await RebuildCounter(id, *counter);
    if (applied) {
      ++report.rebuilt;
      rebuilds_.Add();
    } else {
      ++report.deferred;
      rebuilds_deferred_.Add();
    }
  }
  if (report.rebuilt > 0) stock_signal_.Notify();
  co_return report;
}

boost::asio::awaitable<bool> CheckoutService::RebuildCounter(std::int64_t product_id,
                                                             ProductCounter& counter) {
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) co_await Pause(std::chrono::milliseconds(2 * attempt));
    auto token = co_await admission_.BeginRebuild(counter);
    if (!token) continue;
    auto snapshot = co_await stock_.Snapshot(product_id);
    if (!snapshot.ok()) co_return false;
    if (co_await admission_.FinishRebuild(counter, *token, *snapshot)) co_return true;
  }
  co_return false;
}

boost::asio::awaitable<Status> CheckoutService::RecordProductFacts(ProductFacts facts,
                                                                   std::string event_id) {
  std::string consumer(kInventoryConsumer);
  const std::int64_t product_id = facts.product_id;
  const ProductFacts applied = facts;
  auto row = co_await stock_.ApplyProductFacts(std::move(facts), std::move(consumer),
                                               std::move(event_id), clock_.Now());
  if (!row.ok()) co_return row.error();
  // Shared counters get the product's first stock from here, once across instances: only the
  // instance whose effect inserted the row (the event is claimed in its transaction) opens them,
  // by a rebuild from the committed row. Not a Return: a reconciler elsewhere may have rebuilt
  // the new product meanwhile, and a rebuild of counters that do not exist yet applies only while
  // they still do not (the first wins), where a Return would add the stock a second time. When it
  // cannot (Redis down), purchases answer 503 until the reconciler's next run opens them.
  if (admission_.SharedByInstances() && *row && (*row)->created) {
    ProductState& p = FindOrCreate(product_id);
    if (!co_await RebuildCounter(product_id, *p.counter)) {
      spdlog::warn(
          "checkout: shared admission counters of new product {} not opened yet; the "
          "reconciler will",
          product_id);
    }
  }
  // Read-your-writes on the instance that applied the change: once the row has the new facts,
  // this instance's purchases use them (its cache refresh may come a moment later; the others'
  // come through their own refresh). A duplicate or stale event (no row answered) was applied
  // by a committed transaction too: the row is there either way.
  RefreshFacts(applied, true);
  co_return Ok();
}

void CheckoutService::RefreshProductFacts(const ProductFacts& facts) {
  RefreshFacts(facts, false);
}

void CheckoutService::RefreshFacts(const ProductFacts& facts, bool row_written) {
  // The cache refresh and this instance's effect (RecordProductFacts) both refresh, on the bus's
  // threads: one at a time, and the version only moves forward, so a redelivered, older or
  // already applied event changes nothing (Load() set the versions the database had).
  std::lock_guard lock(refresh_mu_);
  ProductState& p = FindOrCreate(facts.product_id);
  const bool newer = facts.version > p.catalog_version.load();
  const bool learned_row = row_written && !p.row_written;
  if (!newer && !learned_row) return;
  if (newer) {
    p.price.store(facts.price);
    p.retired.store(facts.retired);
    p.catalog_version.store(facts.version);
  }
  p.row_written = p.row_written || row_written;
  if (admission_.SharedByInstances()) {
    // Shared counters got the first stock from the effect that wrote the row, once for every
    // instance (RecordProductFacts): here only the facts are refreshed. Until the counters are
    // open, shared admission answers that the product is not ready.
    p.has_inventory.store(true);
  } else if (p.row_written && p.catalog_version.load() > 0 && !p.has_inventory.exchange(true)) {
    // The product's first facts and its row open this instance's own stock counter: nothing was
    // sold before it had one, and a restock that came first added its units already. A return to
    // admission: the database row came first.
    ReturnBracket bracket(admission_);
    const std::array<AdmissionLine, 1> initial{AdmissionLine{p.counter, facts.initial_stock, 0}};
    admission_.Return(0, initial);
  }
  stock_signal_.Notify();
}

void CheckoutService::RefreshSale(const StoredSale& stored) {
  // One writer at a time, and the version only moves forward: a redelivered or older event (or
  // this instance's own write arriving again through the bus) changes nothing. Readers (the
  // purchase path) load the sale pointer alone, without this lock.
  std::lock_guard lock(sale_mu_);
  ProductState& p = FindOrCreate(stored.product_id);
  if (stored.version <= p.sale_version.load()) return;
  p.sale.store(std::make_shared<const Sale>(stored.sale));
  p.sale_version.store(stored.version);
  stock_signal_.Notify();
}

std::optional<std::int64_t> CheckoutService::KnownStock(const ProductState& p) {
  if (!p.has_inventory.load()) return std::nullopt;
  return p.counter->Available();
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

CheckoutService::LineCheck CheckoutService::CheckLine(const PurchaseLine& line,
                                                      TimePoint now) const {
  LineCheck check;
  ProductState* p = Find(line.product_id);
  if (p && !p->has_inventory.load() && p->sale.load() && !p->retired.load()) {
    // The catalog knows the product and its sale is set, but the catalog's event carrying its
    // stock has not arrived yet (milliseconds after creation): a retry will succeed.
    check.refusal =
        MakeError(Errc::kUnavailable, "this product's stock is still being set up; retry");
  } else if (!p || !p->has_inventory.load() || p->retired.load()) {
    check.refusal = MakeError(Errc::kNotFound, "no such product");
  } else {
    check.sale = p->sale.load();
    if (auto st = CheckWindow(check.sale.get(), now); !st.ok()) {
      check.refusal = st.error();
      check.by_window = true;
    } else {
      check.product = p;
    }
  }
  return check;
}

boost::asio::awaitable<Result<CheckoutService::Admitted>> CheckoutService::Admit(
    const Buyer& buyer, const std::vector<PurchaseLine>& lines, TimePoint now, std::string_view key,
    bool check_key) {
  // A key that may have a record is answered from it before anything else (a retry after the
  // window closed still replays its purchase).
  if (check_key && !key.empty()) {
    const bool used = co_await admission_.KeyUsed(buyer.member_id, key);
    if (used) co_return KeyInUse();
  }
  if (auto st = ValidateLines(lines); !st.ok()) co_return st.error();
  if (!buyer.email_verified) {
    co_return MakeError(Errc::kEmailNotVerified,
                        "verify your email address before buying; if you already did, this access "
                        "token predates it: refresh it (POST /auth/refresh) or log in again");
  }
  // The lines to admit: one on the stack for the one-product purchase (a sold-out answer
  // allocates nothing), a vector for a cart.
  std::array<AdmissionLine, 1> one;
  std::vector<AdmissionLine> many;
  std::span<AdmissionLine> admit(one.data(), 1);
  if (lines.size() > 1) {
    many.resize(lines.size());
    admit = many;
  }
  // The memory checks of every line, in order; `refused` is the first line that fails them. The
  // lines before it are still admitted first: a purchase is answered by its first failing check
  // in line order, as one line after another would be.
  std::size_t refused = lines.size();
  std::optional<Error> refusal;
  for (std::size_t i = 0; i < lines.size() && !refusal; ++i) {
    LineCheck check = CheckLine(lines[i], now);
    if (!check.refusal) {
      admit[i] =
          AdmissionLine{check.product->counter, lines[i].quantity, check.sale->per_member_limit};
      continue;
    }
    if (check.by_window) rejected_window_.Add();
    refusal = std::move(check.refusal);
    refused = i;
  }
  const auto admitted_lines = admit.first(refused);
  if (!admitted_lines.empty()) {
    const std::string_view record_key = check_key ? key : std::string_view();
    AdmitAnswer answer = co_await admission_.Admit(buyer.member_id, admitted_lines,
                                                   refusal ? std::string_view() : record_key);
    if (answer.key_used) co_return KeyInUse();
    if (!answer.status.ok()) {
      const Errc code = answer.status.error().code;
      (code == Errc::kPurchaseLimitReached                    ? rejected_limit_
       : code == Errc::kUnavailable || code == Errc::kTimeout ? rejected_unavailable_
                                                              : rejected_sold_out_)
          .Add();
      co_return std::move(answer.status).error();
    }
    if (refusal) admission_.Withdraw(buyer.member_id, admitted_lines, std::string_view());
    stock_signal_.Notify();
  }
  if (refusal) co_return std::move(*refusal);
  Admitted out;
  out.request.member_id = buyer.member_id;
  out.request.now = now;
  out.request.expires_at = now + options_.hold_ttl;
  out.request.lines.reserve(lines.size());
  out.lines.assign(admit.begin(), admit.end());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const ProductState* p = Find(lines[i].product_id);
    out.request.lines.push_back({lines[i].product_id, lines[i].quantity, p->price.load()});
    out.request.per_member_limits[lines[i].product_id] = admit[i].per_member_limit;
  }
  co_return out;
}

boost::asio::awaitable<bool> CheckoutService::SoldOutBeforeTheGate(
    const Buyer& buyer, const std::vector<PurchaseLine>& lines, const IdempotencyRequest& idem) {
  // Admit's checks before admission, in its order, for the first line; admission answers that
  // line first whatever the lines after it are.
  if (lines.empty() || !buyer.email_verified || !ValidateLines(lines).ok()) co_return false;
  const LineCheck first = CheckLine(lines.front(), clock_.Now());
  if (first.refusal || !admission_.SoldOutInMemory(*first.product->counter)) co_return false;
  // The key: a request holding it (its answer may be a purchase) or a record to replay.
  const bool matters = co_await admission_.KeyHeldOrUsed(buyer.member_id, idem.key, gate_);
  if (matters) co_return false;
  rejected_sold_out_.Add();
  co_return true;
}

std::chrono::microseconds CheckoutService::SharedSoldOutFor(const Buyer& buyer,
                                                            const std::vector<PurchaseLine>& lines,
                                                            bool sold_out) {
  using std::chrono::microseconds;
  if (!sold_out) return {};
  // Admit's checks before admission, as in SoldOutBeforeTheGate: a sold-out answer from the mark
  // depends on nothing else of the member's (the limit is checked after it).
  if (lines.empty() || !buyer.email_verified || !ValidateLines(lines).ok()) return {};
  const TimePoint now = clock_.Now();
  const LineCheck first = CheckLine(lines.front(), now);
  if (first.refusal) return {};
  const microseconds mark = admission_.SoldOutMarkLeft(*first.product->counter);
  const auto window = std::chrono::duration_cast<microseconds>(first.sale->ends_at - now);
  return std::max(microseconds{0}, std::min(mark, window));
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::PayAndSettle(Hold hold) {
  auto charge = co_await provider_.Charge(hold.id, hold.member_id, hold.total);
  if (!charge.ok()) {
    // The provider's answer is unknown: the hold stays PAYING and ResolveStalePayments settles it
    // from the provider's own record. The caller may retry with the same Idempotency-Key.
    co_return charge.error();
  }
  if (charge->outcome == ChargeOutcome::kCaptured) {
    auto paid = co_await holds_.CompletePayment(hold.id, std::move(*charge), clock_.Now());
    if (paid.ok()) paid_.Add();
    co_return paid;
  }
  {
    ReturnBracket bracket(admission_);
    auto released = co_await holds_.ReleaseHold(hold.id, hold.member_id, HoldStatus::kPaying,
                                                ReleaseReason::kDeclined, clock_.Now());
    if (released.ok()) GiveBack(*released);
  }
  declined_.Add();
  co_return Declined();
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::PurchaseOnce(
    Buyer buyer, const std::vector<PurchaseLine>& lines, std::optional<IdempotencyTag> tag,
    Deadline start_by, bool check_key) {
  const std::string_view key = tag ? std::string_view(tag->key) : std::string_view();
  const TimePoint now = clock_.Now();
  auto admitted = co_await Admit(buyer, lines, now, key, check_key);
  if (!admitted.ok()) co_return std::move(admitted).error();
  HoldRequest& request = admitted->request;
  request.pay_now = true;
  request.worker = options_.worker;
  request.payment_lease_until = now + options_.stale_payment_after;
  request.idempotency = std::move(tag);
  request.start_by = start_by;
  const AdmittedLines admitted_lines = std::move(admitted->lines);
  // The key Admit recorded: released with the admission when the hold leaves no record.
  const std::string recorded_key = check_key ? std::string(key) : std::string();
  Result<Hold> hold = MakeError(Errc::kInternal, "not placed");
  try {
    hold = co_await holds_.PlaceHold(std::move(request));
  } catch (...) {
    admission_.Withdraw(buyer.member_id, admitted_lines, recorded_key);
    stock_signal_.Notify();
    throw;
  }
  if (!hold.ok()) {
    // The key claimed by a committed request keeps its record: the key stays.
    admission_.Withdraw(buyer.member_id, admitted_lines,
                        IsKeyInUse(hold.error()) ? std::string_view() : recorded_key);
    stock_signal_.Notify();
    if (hold.error().code == Errc::kSoldOut || hold.error().code == Errc::kPurchaseLimitReached) {
      db_guard_rejections_.Add();
    }
    co_return std::move(hold).error();
  }
  admission_.Settle(admitted_lines);
  if (!check_key && !key.empty()) admission_.KeepKey(buyer.member_id, key);
  co_return co_await PayAndSettle(std::move(*hold));
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::ReplayPayment(
    const IdempotencyEntry& entry) {
  auto found = co_await holds_.FindHold(entry.hold_id);
  if (!found.ok()) co_return std::move(found).error();
  auto& outcome = *found;
  if (!outcome) co_return MakeError(Errc::kInternal, "idempotency record without its hold");
  switch (outcome->hold.status) {
    case HoldStatus::kPaid:
      co_return PaidOrder{*outcome->payment_id, *outcome->payment_id,           entry.hold_id,
                          outcome->hold.total,  std::move(outcome->hold.lines), outcome->paid_at};
    case HoldStatus::kReleased:
      if (outcome->release_reason == "DECLINED") co_return Declined();
      co_return MakeError(Errc::kHoldNotActive, "the hold was released");
    case HoldStatus::kExpired:
      co_return MakeError(Errc::kHoldExpired, "the hold expired; nothing was charged");
    case HoldStatus::kActive:
    case HoldStatus::kPaying:
      break;
  }
  co_return MakeError(Errc::kRequestInFlight, "the original request is still being processed");
}

boost::asio::awaitable<Result<Hold>> CheckoutService::ReplayHold(const IdempotencyEntry& entry) {
  auto found = co_await holds_.FindHold(entry.hold_id);
  if (!found.ok()) co_return std::move(found).error();
  if (!*found) co_return MakeError(Errc::kInternal, "idempotency record without its hold");
  co_return std::move((*found)->hold);
}

template <class T>
boost::asio::awaitable<std::optional<Answer<T>>> CheckoutService::FromRecord(
    const Buyer& buyer, const IdempotencyRequest& idem, std::string_view operation,
    const Replay<T>& replay, bool wait_open) {
  const auto deadline = std::chrono::steady_clock::now() + options_.duplicate_wait;
  for (;;) {
    auto entry = co_await idempotency_.Find(buyer.member_id, idem.key);
    if (!entry.ok()) co_return Answer<T>{std::move(entry).error()};
    if (!*entry) co_return std::nullopt;
    if ((*entry)->request_hash != idem.request_hash || (*entry)->operation != operation) {
      co_return Answer<T>{MakeError(Errc::kIdempotencyKeyReused,
                                    "this Idempotency-Key was used for another request")};
    }
    Result<T> answer = co_await replay(**entry);
    // Another instance is still paying for this purchase: wait for its outcome, bounded.
    if (wait_open && !answer.ok() && answer.error().code == Errc::kRequestInFlight &&
        std::chrono::steady_clock::now() < deadline) {
      co_await Pause(options_.record_poll);
      continue;
    }
    replays_.Add();
    co_return Answer<T>{std::move(answer), true};
  }
}

template <class T>
boost::asio::awaitable<Answer<T>> CheckoutService::WithIdempotency(const Buyer& buyer,
                                                                   const IdempotencyRequest& idem,
                                                                   std::string_view operation,
                                                                   Execute<T> execute,
                                                                   Replay<T> replay) {
  // A few rounds: a woken duplicate whose first request left no record (it was refused without
  // effect) goes through the gate again and does the work itself.
  for (int round = 0; round < 4; ++round) {
    const IdempotencyGate::Ticket ticket =
        co_await gate_.Enter(buyer.member_id, idem.key, idem.request_hash);
    if (ticket.role == IdempotencyGate::Role::kMismatch) {
      co_return Answer<T>{MakeError(Errc::kIdempotencyKeyReused,
                                    "this Idempotency-Key was used for another request")};
    }
    if (ticket.role == IdempotencyGate::Role::kDuplicate) {
      const bool done = co_await gate_.Wait(ticket, options_.duplicate_wait);
      if (!done) break;
      // The first request on this instance is over: its record is its final answer.
      auto answer = co_await FromRecord<T>(buyer, idem, operation, replay, false);
      if (answer) co_return std::move(*answer);
      continue;
    }
    // The first here. Leave the gate whatever happens (a throw included).
    struct Leaver {
      IdempotencyGate& gate;
      std::int64_t member_id;
      const std::string& key;
      const IdempotencyGate::Ticket& ticket;
      ~Leaver() { gate.Leave(member_id, key, ticket); }
    } leaver{gate_, buyer.member_id, idem.key, ticket};
    std::optional<Answer<T>> answer;
    bool check_key = true;
    for (int attempt = 0; attempt < 2 && !answer; ++attempt) {
      std::optional<IdempotencyTag> tag =
          IdempotencyTag{idem.key, idem.request_hash, std::string(operation)};
      Result<T> result = co_await execute(std::move(tag), check_key);
      if (result.ok() || !IsKeyInUse(result.error())) {
        answer.emplace(Answer<T>{std::move(result)});
        break;
      }
      // The key is someone else's (admission knows it, or its record was claimed first): answer
      // from the record, waiting while that purchase is in flight on another instance.
      answer = co_await FromRecord<T>(buyer, idem, operation, replay, true);
      // No record: admission's entry outlived it (or two keys share a hash): do the work.
      check_key = false;
    }
    if (!answer) answer.emplace(Answer<T>{KeyInUse()});
    co_return std::move(*answer);
  }
  co_return Answer<T>{KeyInUse()};
}

boost::asio::awaitable<Answer<PaidOrder>> CheckoutService::Purchase(
    Buyer buyer, std::vector<PurchaseLine> lines, std::optional<IdempotencyRequest> idem,
    Deadline start_by) {
  if (!idem) {
    auto result = co_await PurchaseOnce(buyer, lines, std::nullopt, start_by, true);
    Answer<PaidOrder> answer{std::move(result)};
    answer.shared_for = SharedSoldOutFor(buyer, lines, IsSoldOut(answer.result));
    co_return answer;
  }
  const bool sold_out = co_await SoldOutBeforeTheGate(buyer, lines, *idem);
  if (sold_out) co_return SoldOutAnswer<PaidOrder>(SharedSoldOutFor(buyer, lines, true));
  Execute<PaidOrder> execute = [this, buyer, &lines, start_by](std::optional<IdempotencyTag> tag,
                                                               bool check_key) {
    return PurchaseOnce(buyer, lines, std::move(tag), start_by, check_key);
  };
  Replay<PaidOrder> replay = [this](const IdempotencyEntry& e) { return ReplayPayment(e); };
  auto answer = co_await WithIdempotency<PaidOrder>(buyer, *idem, "purchase", std::move(execute),
                                                    std::move(replay));
  co_return answer;
}

boost::asio::awaitable<Result<Hold>> CheckoutService::PlaceHoldOnce(
    Buyer buyer, const std::vector<PurchaseLine>& lines, std::optional<IdempotencyTag> tag,
    Deadline start_by, bool check_key) {
  const std::string_view key = tag ? std::string_view(tag->key) : std::string_view();
  auto admitted = co_await Admit(buyer, lines, clock_.Now(), key, check_key);
  if (!admitted.ok()) co_return std::move(admitted).error();
  admitted->request.idempotency = std::move(tag);
  admitted->request.start_by = start_by;
  const AdmittedLines admitted_lines = std::move(admitted->lines);
  const std::string recorded_key = check_key ? std::string(key) : std::string();
  Result<Hold> hold = MakeError(Errc::kInternal, "not placed");
  try {
    hold = co_await holds_.PlaceHold(std::move(admitted->request));
  } catch (...) {
    admission_.Withdraw(buyer.member_id, admitted_lines, recorded_key);
    stock_signal_.Notify();
    throw;
  }
  if (!hold.ok()) {
    admission_.Withdraw(buyer.member_id, admitted_lines,
                        IsKeyInUse(hold.error()) ? std::string_view() : recorded_key);
    stock_signal_.Notify();
    db_guard_rejections_.Add();
    co_return hold;
  }
  admission_.Settle(admitted_lines);
  if (!check_key && !key.empty()) admission_.KeepKey(buyer.member_id, key);
  co_return hold;
}

boost::asio::awaitable<Answer<Hold>> CheckoutService::CreateHold(
    Buyer buyer, std::vector<PurchaseLine> lines, std::optional<IdempotencyRequest> idem,
    Deadline start_by) {
  if (!idem) {
    auto result = co_await PlaceHoldOnce(buyer, lines, std::nullopt, start_by, true);
    Answer<Hold> answer{std::move(result)};
    answer.shared_for = SharedSoldOutFor(buyer, lines, IsSoldOut(answer.result));
    co_return answer;
  }
  const bool sold_out = co_await SoldOutBeforeTheGate(buyer, lines, *idem);
  if (sold_out) co_return SoldOutAnswer<Hold>(SharedSoldOutFor(buyer, lines, true));
  Execute<Hold> execute = [this, buyer, &lines, start_by](std::optional<IdempotencyTag> tag,
                                                          bool check_key) {
    return PlaceHoldOnce(buyer, lines, std::move(tag), start_by, check_key);
  };
  Replay<Hold> replay = [this](const IdempotencyEntry& e) { return ReplayHold(e); };
  auto answer =
      co_await WithIdempotency<Hold>(buyer, *idem, "hold", std::move(execute), std::move(replay));
  co_return answer;
}

boost::asio::awaitable<Result<PaidOrder>> CheckoutService::PayHoldOnce(
    Buyer buyer, std::int64_t hold_id, std::optional<IdempotencyTag> tag, bool check_key) {
  // The key is recorded before the payment can start (BeginPayment claims the record).
  const bool claimed = tag && check_key;
  if (claimed) {
    const bool fresh = co_await admission_.ClaimKey(buyer.member_id, tag->key);
    if (!fresh) co_return KeyInUse();
  }
  const std::string key = tag ? tag->key : std::string();
  const TimePoint now = clock_.Now();
  Result<Hold> hold = MakeError(Errc::kInternal, "not started");
  try {
    std::string worker = options_.worker;
    hold = co_await holds_.BeginPayment(hold_id, buyer.member_id, now, std::move(tag),
                                        std::move(worker), now + options_.stale_payment_after);
  } catch (...) {
    if (claimed) admission_.ReleaseKey(buyer.member_id, key);
    throw;
  }
  if (!hold.ok()) {
    if (claimed && !IsKeyInUse(hold.error())) admission_.ReleaseKey(buyer.member_id, key);
    co_return std::move(hold).error();
  }
  if (!key.empty() && !claimed) admission_.KeepKey(buyer.member_id, key);
  co_return co_await PayAndSettle(std::move(*hold));
}

boost::asio::awaitable<Answer<PaidOrder>> CheckoutService::PayHold(
    Buyer buyer, std::int64_t hold_id, std::optional<IdempotencyRequest> idem) {
  if (!idem) {
    auto result = co_await PayHoldOnce(buyer, hold_id, std::nullopt, true);
    co_return Answer<PaidOrder>{std::move(result)};
  }
  Execute<PaidOrder> execute = [this, buyer, hold_id](std::optional<IdempotencyTag> tag,
                                                      bool check_key) {
    return PayHoldOnce(buyer, hold_id, std::move(tag), check_key);
  };
  Replay<PaidOrder> replay = [this](const IdempotencyEntry& e) { return ReplayPayment(e); };
  auto answer = co_await WithIdempotency<PaidOrder>(buyer, *idem, "pay", std::move(execute),
                                                    std::move(replay));
  co_return answer;
}

boost::asio::awaitable<Status> CheckoutService::CancelHold(Buyer buyer, std::int64_t hold_id) {
  ReturnBracket bracket(admission_);
  auto released = co_await holds_.ReleaseHold(hold_id, buyer.member_id, HoldStatus::kActive,
                                              ReleaseReason::kCancelled, clock_.Now());
  if (!released.ok()) co_return std::move(released).error();
  GiveBack(*released);
  co_return Ok();
}

boost::asio::awaitable<Result<CheckoutService::HoldPage>> CheckoutService::OpenHolds(
    std::int64_t member_id, std::int64_t before_id, std::size_t limit) {
  auto found = co_await holds_.OpenHolds(member_id, clock_.Now(), before_id, limit + 1);
  if (!found.ok()) co_return std::move(found).error();
  HoldPage page;
  page.total = found->total;
  if (found->items.size() > limit) {
    found->items.resize(limit);
    page.next_before_id = found->items.back().id;
  }
  page.items = std::move(found->items);
  co_return page;
}

boost::asio::awaitable<Result<SaleView>> CheckoutService::SetSale(std::int64_t product_id,
                                                                  Sale sale, Deadline deadline) {
  if (auto st = ValidateSale(sale); !st.ok()) co_return st.error();
  const ProductState* known = Find(product_id);
  bool exists = known && known->has_inventory.load() && !known->retired.load();
  if (!exists) {
    // Checkout has not heard of the product yet (or only of its retirement): the catalog knows.
    auto listed = co_await catalog_.Exists(product_id, deadline);
    if (!listed.ok()) co_return std::move(listed).error();
    exists = *listed;
  }
  if (!exists) co_return MakeError(Errc::kNotFound, "no such product");
  auto version = co_await sales_.SaveSale(product_id, sale, clock_.Now());
  if (!version.ok()) co_return std::move(version).error();
  // Read-your-writes on this instance; the others apply the same write from its sale.changed
  // event (committed with the row), and so does this one's cache refresh later, to no effect.
  RefreshSale(StoredSale{product_id, sale, *version});
  const ProductState& p = FindOrCreate(product_id);
  co_return SaleView{product_id, sale, StateOf(sale, clock_.Now(), KnownStock(p))};
}

boost::asio::awaitable<Result<InventoryRow>> CheckoutService::Restock(std::int64_t product_id,
                                                                      std::int64_t quantity) {
  if (quantity < 1 || quantity > kMaxRestock) {
    co_return MakeError(Errc::kValidationFailed,
                        "quantity must be between 1 and " + std::to_string(kMaxRestock),
                        "quantity");
  }
  ProductState& p = FindOrCreate(product_id);
  ReturnBracket bracket(admission_);
  auto row = co_await stock_.Restock(product_id, quantity, clock_.Now());
  if (!row.ok()) co_return row;
  const std::array<AdmissionLine, 1> added{AdmissionLine{p.counter, quantity, 0}};
  admission_.Return(0, added);
  stock_signal_.Notify();
  co_return row;
}

boost::asio::awaitable<std::size_t> CheckoutService::SweepExpired() {
  ReturnBracket bracket(admission_);
  auto released = co_await holds_.ExpireDue(clock_.Now(), options_.sweep_batch);
  if (!released.ok()) co_return 0;
  for (const ReleasedUnits& r : *released) GiveBack(r);
  expired_.Add(released->size());
  co_return released->size();
}

boost::asio::awaitable<std::size_t> CheckoutService::ForgetExpiredIdempotencyKeys() {
  auto forgotten = co_await idempotency_.Forget(clock_.Now() - options_.idempotency_ttl,
                                                options_.idempotency_forget_batch);
  if (!forgotten.ok()) co_return 0;
  // Only after the commit: until then a retry must still find its record.
  admission_.ForgetKeys(*forgotten);
  co_return forgotten->size();
}

boost::asio::awaitable<std::size_t> CheckoutService::ResolveStalePayments(bool at_startup) {
  std::size_t settled = 0;
  const TimePoint now = clock_.Now();
  // Claimed for this instance: another resolver skips them until this lease runs out.
  std::string worker = options_.worker;
  auto claimed = co_await holds_.ClaimStalePayments(
      std::move(worker), now, now + options_.stale_payment_after, at_startup, options_.sweep_batch);
  if (!claimed.ok()) co_return 0;
  for (const std::int64_t hold_id : *claimed) {
    // Void, not Lookup: the instance that took the payment may only be slow, its charge still on
    // the way; voided first, that charge is declined instead of captured for a released hold.
    auto record = co_await provider_.Void(hold_id);
    if (!record.ok()) {
      spdlog::warn("checkout: the provider could not say what happened to hold {}: {}", hold_id,
                   record.error().message);
      continue;  // The lease runs out and a later round asks again.
    }
    if (*record && (*record)->outcome != ChargeOutcome::kDeclined) {
      // Captured (or already refunded by an operator): the money moved, so the order must exist.
      auto paid = co_await holds_.CompletePayment(hold_id, **record, clock_.Now());
      if (paid.ok()) paid_.Add();
    } else {
      // The provider never charged (and never will now) or declined: nothing was taken, give the
      // stock back.
      const ReleaseReason reason = *record ? ReleaseReason::kDeclined : ReleaseReason::kRecovered;
      ReturnBracket bracket(admission_);
      auto released =
          co_await holds_.ReleaseHold(hold_id, 0, HoldStatus::kPaying, reason, clock_.Now());
      if (released.ok()) GiveBack(*released);
    }
    ++settled;
  }
  co_return settled;
}

boost::asio::awaitable<Result<bool>> CheckoutService::RefundAndRestock(std::int64_t payment_id,
                                                                       std::string event_id) {
  const TimePoint now = clock_.Now();
  std::optional<RefundedPayment> refunded;
  {
    ReturnBracket bracket(admission_);
    std::string consumer(kRefundConsumer);
    std::string worker = options_.worker;
    auto done =
        co_await refunds_store_.RefundPayment(payment_id, std::move(consumer), std::move(event_id),
                                              std::move(worker), now + options_.refund_lease, now);
    if (!done.ok()) co_return std::move(done).error();
    if (!*done) co_return false;
    refunded = std::move(**done);
    // Committed: the units are available again, so admission may sell them.
    GiveBack(ReleasedUnits{refunded->member_id, refunded->lines});
  }
  refunds_.Add();
  auto answer = co_await provider_.Refund(refunded->hold_id);
  if (answer.ok()) {
    auto settled = co_await refunds_store_.SettleRefund(payment_id, clock_.Now());
    (void)settled;  // Failing, the refund stays pending: a later retry settles it.
  } else {
    spdlog::warn("checkout: refund of payment {} left pending: {}", payment_id,
                 answer.error().message);
    std::string worker = options_.worker;
    auto released = co_await refunds_store_.ReleaseRefund(payment_id, std::move(worker));
    (void)released;
  }
  co_return true;
}

boost::asio::awaitable<std::size_t> CheckoutService::RetryPendingRefunds() {
  std::size_t settled = 0;
  const TimePoint now = clock_.Now();
  std::string worker = options_.worker;
  auto pending = co_await refunds_store_.ClaimPendingRefunds(
      std::move(worker), now, now + options_.refund_lease, options_.sweep_batch);
  if (!pending.ok()) co_return 0;
  for (const RefundedPayment& r : *pending) {
    auto answer = co_await provider_.Refund(r.hold_id);
    if (!answer.ok()) {
      // Another round (here or on another instance) asks again.
      std::string mine = options_.worker;
      auto released = co_await refunds_store_.ReleaseRefund(r.payment_id, std::move(mine));
      (void)released;
      continue;
    }
    auto done = co_await refunds_store_.SettleRefund(r.payment_id, clock_.Now());
    if (done.ok() && *done) ++settled;
  }
  co_return settled;
}

boost::asio::awaitable<Result<std::optional<PaidPurchase>>> CheckoutService::FindPaidPurchase(
    std::int64_t payment_id) {
  co_return co_await holds_.FindPaidPurchase(payment_id);
}

boost::asio::awaitable<Result<std::optional<ProductSaleFigures>>> CheckoutService::SaleFigures(
    std::int64_t product_id) {
  co_return co_await stock_.SaleFigures(product_id);
}

}  // namespace rocketmart::checkout
