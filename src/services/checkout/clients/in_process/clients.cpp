#include "services/checkout/clients/in_process/clients.hpp"

namespace rocketmart::checkout {

boost::asio::awaitable<catalog::CheckoutAnswer> InProcessCheckoutClient::Purchase(
    std::int64_t member_id, bool email_verified, std::vector<catalog::CheckoutLine> lines,
    std::optional<catalog::CheckoutKey> key, Deadline start_by) {
  std::vector<PurchaseLine> purchase;
  for (const auto& line : lines) purchase.push_back({line.product_id, line.quantity});
  std::optional<IdempotencyRequest> idem;
  if (key) idem = IdempotencyRequest{std::move(key->key), std::move(key->fingerprint)};
  const Buyer buyer{member_id, email_verified};
  auto answer = co_await checkout_.Purchase(buyer, std::move(purchase), std::move(idem), start_by);
  if (!answer.result.ok()) {
    co_return catalog::CheckoutAnswer{std::move(answer.result).error(), answer.replayed};
  }
  catalog::CheckoutReceipt receipt{answer.result->order_id,
                                   answer.result->payment_id,
                                   answer.result->total,
                                   {},
                                   answer.result->paid_at};
  for (const HoldLine& line : answer.result->lines) {
    receipt.lines.push_back({line.product_id, line.quantity});
  }
  co_return catalog::CheckoutAnswer{std::move(receipt), answer.replayed};
}

boost::asio::awaitable<Result<std::vector<catalog::ProductAvailability>>>
InProcessAvailability::Availability(std::span<const std::int64_t> product_ids,
                                    Deadline /*unused: no wait*/) {
  std::vector<catalog::ProductAvailability> out;
  out.reserve(product_ids.size());
  for (const std::int64_t id : product_ids) {
    catalog::ProductAvailability& a = out.emplace_back();
    a.stock = checkout_.Available(id);
    if (auto view = checkout_.GetSale(id)) {
      a.sale =
          catalog::SaleInfo{view->sale.starts_at, view->sale.ends_at, view->sale.per_member_limit};
    }
  }
  co_return out;
}

boost::asio::awaitable<Result<std::optional<orders::PaidOrderEvent>>>
InProcessPaymentsClient::PaidOrder(std::int64_t order_id, Deadline /*unused: no wait*/) {
  auto found = co_await checkout_.FindPaidPurchase(order_id);
  if (!found.ok()) co_return std::move(found).error();
  auto& paid = *found;
  if (!paid) co_return std::optional<orders::PaidOrderEvent>{};
  orders::PaidOrderEvent out;
  out.order_id = paid->payment_id;
  out.payment_id = paid->payment_id;
  out.member_id = paid->member_id;
  out.total = paid->total;
  out.paid_at = paid->paid_at;
  for (PaidLine& paid_line : paid->lines) {
    const HoldLine& line = paid_line.line;
    out.lines.push_back({line.product_id, line.quantity, line.price, std::move(paid_line.name)});
  }
  co_return std::optional<orders::PaidOrderEvent>{std::move(out)};
}

boost::asio::awaitable<Result<std::optional<orders::SaleFigures>>> InProcessSaleFigures::Figures(
    std::int64_t product_id, Deadline /*unused: no wait*/) {
  auto read = co_await checkout_.SaleFigures(product_id);
  if (!read.ok()) co_return read.error();
  std::optional<orders::SaleFigures> out;
  if (const auto& f = *read) {
    out = orders::SaleFigures{f->available,      f->held,    f->sold,
                              f->refunded_units, f->revenue, f->refunded_amount};
  }
  co_return out;
}

}  // namespace rocketmart::checkout
