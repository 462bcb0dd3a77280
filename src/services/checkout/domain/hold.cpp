#include "services/checkout/domain/hold.hpp"

namespace rocketmart::checkout {

std::string_view HoldStatusName(HoldStatus status) {
  switch (status) {
    case HoldStatus::kActive:
      return "ACTIVE";
    case HoldStatus::kPaying:
      return "PAYING";
    case HoldStatus::kPaid:
      return "PAID";
    case HoldStatus::kReleased:
      return "RELEASED";
    case HoldStatus::kExpired:
      return "EXPIRED";
  }
  return "RELEASED";
}

std::optional<HoldStatus> ParseHoldStatus(std::string_view name) {
  for (HoldStatus s : {HoldStatus::kActive, HoldStatus::kPaying, HoldStatus::kPaid,
                       HoldStatus::kReleased, HoldStatus::kExpired}) {
    if (HoldStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view ReleaseReasonName(ReleaseReason reason) {
  switch (reason) {
    case ReleaseReason::kCancelled:
      return "CANCELLED";
    case ReleaseReason::kDeclined:
      return "DECLINED";
    case ReleaseReason::kExpired:
      return "EXPIRED";
    case ReleaseReason::kRecovered:
      return "RECOVERED";
  }
  return "RECOVERED";
}

}  // namespace rocketmart::checkout
