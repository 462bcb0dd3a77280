// The storefront's pure rules: which encoding an Accept-Encoding allows, what content type a file
// name has, how a stock event reads on the wire (Server-Sent Events), and how the stream's
// request parameters parse. No I/O; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/sale_state.hpp"

namespace rocketmart::storefront {

enum class Encoding { kIdentity, kGzip, kBrotli };

// The best encoding among those available that `accept_encoding` allows (RFC 9110 §12.5.3:
// tokens with optional q-values; q=0 refuses; `*` stands for any coding not named; no header
// means identity). Brotli is preferred over gzip when both are allowed and available.
Encoding ChooseEncoding(std::string_view accept_encoding, bool have_gzip, bool have_brotli);

// "text/html; charset=utf-8" etc. for the extensions the build emits; octet-stream otherwise.
std::string_view ContentTypeFor(std::string_view file_name);

// A file name that may be served from the assets folder: [A-Za-z0-9._-]+, no leading dot.
bool IsSafeAssetName(std::string_view name);

// One product's live figures as the stream sends them.
struct StockFigures {
  std::int64_t product_id = 0;
  std::optional<std::int64_t> stock;  // nullopt: not known yet (sale preparing)
  SaleState state = SaleState::kNone;
  // The sale window, when there is a sale: an operator who moves it moves every countdown.
  std::optional<TimePoint> starts_at;
  std::optional<TimePoint> ends_at;
  bool operator==(const StockFigures&) const = default;
};

// "id: <seq>\nevent: stock\ndata: {...}\n\n" appended to `out`; the data is
// {"productId","stock","state"} and, with a sale, "startsAt" and "endsAt" (RFC 3339).
void AppendStockEvent(std::string& out, std::uint64_t seq, const StockFigures& figures);

// The comma-separated product ids of `?products=1,2,3`: 1..max_ids distinct positive ids, in
// the order given. VALIDATION_FAILED (field "products") otherwise.
Result<std::vector<std::int64_t>> ParseProductIds(std::string_view text, std::size_t max_ids);

// The Last-Event-ID header (or `lastEventId` query): empty means 0 (none); otherwise a decimal
// event id. VALIDATION_FAILED for anything else.
Result<std::uint64_t> ParseLastEventId(std::string_view text);

}  // namespace rocketmart::storefront
