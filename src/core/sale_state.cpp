#include "core/sale_state.hpp"

namespace rocketmart {

std::string_view SaleStateName(SaleState state) {
  switch (state) {
    case SaleState::kNone:
      return "none";
    case SaleState::kUpcoming:
      return "upcoming";
    case SaleState::kPreparing:
      return "preparing";
    case SaleState::kLive:
      return "live";
    case SaleState::kSoldOut:
      return "soldout";
    case SaleState::kEnded:
      return "ended";
    case SaleState::kRetired:
      return "retired";
    case SaleState::kUnknown:
      return "unknown";
  }
  return "none";
}

std::optional<SaleState> ParseSaleState(std::string_view name) {
  for (SaleState s : {SaleState::kNone, SaleState::kUpcoming, SaleState::kPreparing,
                      SaleState::kLive, SaleState::kSoldOut, SaleState::kEnded}) {
    if (SaleStateName(s) == name) return s;
  }
  return std::nullopt;
}

SaleState SaleStateAt(TimePoint starts_at, TimePoint ends_at, std::optional<std::int64_t> available,
                      TimePoint now) {
  if (now < starts_at) return SaleState::kUpcoming;
  if (now >= ends_at) return SaleState::kEnded;
  if (!available) return SaleState::kPreparing;
  return *available > 0 ? SaleState::kLive : SaleState::kSoldOut;
}

}  // namespace rocketmart
